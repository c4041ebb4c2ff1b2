"""Issue acceptance, through HTTP only: sign up, enrol 2FA, log in with it, create an API key,
call the API with it; then a scan for secrets in everything the run logged and stored.

No table is exempt from the scan: the TOTP seed is encrypted at rest (issue 10, finding 15),
backup codes are keyed hashes. accounts/tests/test_totp_at_rest.py runs the same seed scan
over a pg_dump of committed data."""

from __future__ import annotations

import base64
import json
import logging
import re
import time

import pytest
from django.db import connection
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from accounts.models import TOTP_KEY_PLACEHOLDER, TOTPSeed
from accounts.tests.conftest import bearer
from audit.models import AuditLogEntry
from core.logging import make_formatter
from core.tenancy import platform_bypass

PASSWORD = "canary pass phrase 4711 xyz"


def code_from(seed_b32: str, *, steps_ahead: int = 0) -> str:
    """What the authenticator app that scanned the enrolment URI shows."""
    totp = TOTP(base64.b32decode(seed_b32), step=30, t0=0, digits=6)
    totp.time = time.time() + steps_ahead * 30
    return f"{totp.token():06d}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(make_formatter("json"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs():
    handler = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _database_text() -> str:
    """Every row of every table, as JSON text, read under the platform bypass."""
    with platform_bypass(reason="test: secret scan", log=False), connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        tables = [row[0] for row in cursor.fetchall()]
        chunks = []
        for table in tables:
            cursor.execute(f"SELECT coalesce(json_agg(t)::text, '') FROM \"{table}\" t")
            chunks.append(cursor.fetchone()[0])
    return "\n".join(chunks)


@pytest.mark.django_db
def test_identity__sign_up_2fa_login_api_key__works_and_leaks_no_secret(captured_logs):
    anonymous = APIClient()
    secrets: dict[str, str] = {"password": PASSWORD}

    # Sign up: the user, the tenant, the owner membership; logged in at once.
    signup = anonymous.post(
        "/api/v1/auth/register",
        {"email": "owner@acme.example", "password": PASSWORD, "tenant_name": "Acme"},
        format="json",
    )
    assert signup.status_code == 201, signup.json()
    secrets["first_refresh"] = signup.json()["refresh"]
    client = bearer(signup.json()["access"])
    tenant_id = client.get("/api/v1/auth/me").json()["memberships"][0]["tenant"]["id"]

    # Enrol TOTP, confirm it, keep the backup codes.
    enrolment = client.post("/api/v1/auth/2fa/totp").json()
    seed = re.search(r"secret=([A-Z2-7]+)", enrolment["otpauth_uri"]).group(1)  # type: ignore[union-attr]
    # The seed as the URI spells it (base32), and as django-otp's key column used to (hex).
    secrets["totp_seed"] = seed
    secrets["totp_seed_lower"] = seed.lower()
    secrets["totp_seed_hex"] = base64.b32decode(seed).hex()
    confirm = client.post("/api/v1/auth/2fa/totp/confirm", {"code": code_from(seed)}, format="json")
    assert confirm.status_code == 200
    for i, code in enumerate(confirm.json()["backup_codes"]):
        secrets[f"backup_code_{i}"] = code

    # Log in again: password, then the second factor.
    first = anonymous.post(
        "/api/v1/auth/login", {"email": "owner@acme.example", "password": PASSWORD}, format="json"
    )
    assert first.json()["mfa_required"] is True
    second = anonymous.post(
        "/api/v1/auth/login/mfa",
        {"challenge_token": first.json()["challenge_token"], "code": code_from(seed, steps_ahead=1)},
        format="json",
    )
    assert second.status_code == 200, second.json()
    secrets["access"] = second.json()["access"]
    secrets["refresh"] = second.json()["refresh"]
    client = bearer(second.json()["access"])

    # Create an API key and call the API with it.
    created = client.post(
        f"/api/v1/tenants/{tenant_id}/api-keys/",
        {"name": "runtime", "scopes": ["teams:read", "teams:write"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    secrets["api_key"] = created.json()["key"]
    with_key = APIClient()
    with_key.credentials(HTTP_AUTHORIZATION=f"Api-Key {secrets['api_key']}")
    made = with_key.post(f"/api/v1/tenants/{tenant_id}/teams/", {"name": "Automation"}, format="json")
    listed = with_key.get(f"/api/v1/tenants/{tenant_id}/teams/")
    refused = with_key.get(f"/api/v1/tenants/{tenant_id}/members/")
    assert made.status_code == 201
    assert [t["name"] for t in listed.json()["results"]] == ["Automation"]
    assert refused.status_code == 403
    assert refused.json()["code"] == "missing_permission"

    # Rotate the refresh token once; the old one is dead.
    rotated = anonymous.post("/api/v1/auth/refresh", {"refresh": secrets["refresh"]}, format="json")
    assert rotated.status_code == 200
    secrets["rotated_refresh"] = rotated.json()["refresh"]

    # Everything readable after creation: the API's own answers, the audit log, logs, the DB.
    client = bearer(rotated.json()["access"])
    later_responses = [
        client.get("/api/v1/auth/me").content.decode(),
        client.get("/api/v1/auth/sessions").content.decode(),
        client.get(f"/api/v1/tenants/{tenant_id}/api-keys/").content.decode(),
        client.get(f"/api/v1/tenants/{tenant_id}/audit-logs/?page_size=1000").content.decode(),
    ]
    tenant_actions = {e["action"] for e in json.loads(later_responses[-1])["results"]}
    assert {"api_key.created", "team.created", "access.denied"} <= tenant_actions
    with platform_bypass(reason="test", log=False):  # a person's own events belong to no tenant
        user_actions = set(AuditLogEntry.objects.filter(tenant=None).values_list("action", flat=True))
    assert {"auth.login_succeeded", "auth.mfa_enabled", "auth.mfa_enrollment_started"} <= user_actions

    haystacks = {
        "later API responses": "\n".join(later_responses),
        "logs": "\n".join(captured_logs),
        "database": _database_text(),
    }
    leaks = [
        f"{secret_name} in {where}"
        for secret_name, secret in secrets.items()
        for where, text in haystacks.items()
        if secret in text
    ]
    assert leaks == []
    # The scan saw what it should: the rows that sit next to the secrets are in the dump.
    assert "owner@acme.example" in haystacks["database"]
    assert secrets["api_key"][:12] in haystacks["database"]  # the key's prefix, not the key
    # and the 2FA rows: django-otp's device (its key column a placeholder), the seed's ciphertext.
    assert TOTP_KEY_PLACEHOLDER in haystacks["database"]
    assert TOTPSeed.objects.get().ciphertext in haystacks["database"]
    assert captured_logs, "the scan needs logs to look at"
