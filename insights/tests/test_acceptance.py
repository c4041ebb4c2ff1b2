"""Issue 14's acceptance story, end to end through the public HTTP API (and the two commands
platform staff run): an owner and a platform admin signed in by password (JWT) cause changes (a
setting, a member's role, a credit grant) and an agent runtime's usage runs the credits low; the
changes are in the audit log with the chain valid (`manage.py verify_audit_chain`), the JSON Lines
export matches the list; the periodic refresh suggests a grant, which is accepted (the
intervention runs) and then reversed; the day's analytics, rolled up by `manage.py
rollup_analytics`, equal what was caused.

The given state: a tenant with a subscription, its owner, one more member and a priced model
(factories); everything after that goes through HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from billing.tests.factories import TEST_MODEL, make_subscription
from insights.tasks import refresh_recommendations
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db

CAUSED = ["setting.changed", "member.role_changed", "credits.grant", "api_key.created", "agent.created"]
# 200,000 input tokens at 1 USD per million, marked up 5x: one credit.
ONE_CREDIT = 200_000


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:2000])
    return response.json() if response.content else None


def signed_in(email: str) -> APIClient:
    tokens = ok(
        APIClient().post("/api/v1/auth/login", {"email": email, "password": TEST_PASSWORD}, format="json")
    )
    assert "access" in tokens, tokens  # no second factor asked of these accounts
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


def audit_actions(client: APIClient, t: str) -> list[str]:
    """Every action in the tenant's audit log, oldest first, following the cursor."""
    entries: list[dict[str, Any]] = []
    url: str | None = f"{t}/audit-logs/"
    while url:
        page = ok(client.get(url))
        entries += page["results"]
        url = page["next"]
    return [entry["action"] for entry in reversed(entries)]


def assert_chain_valid() -> None:
    """`manage.py verify_audit_chain` finds every chain intact (it says OK; a broken link goes to
    stderr and the exit status 1)."""
    out, err = StringIO(), StringIO()
    call_command("verify_audit_chain", stdout=out, stderr=err)
    assert err.getvalue() == "", err.getvalue()
    assert "verify_audit_chain: OK" in out.getvalue(), out.getvalue()


def test_acceptance__changes_audited_chain_valid_export_recommendation_reversal_analytics(price: Any) -> None:
    tenant = TenantFactory.create()
    owner = UserFactory.create(email="owner@acceptance.example")
    member(tenant, "owner", user=owner)
    colleague = member(tenant, "viewer")
    UserFactory.create(email="staff@acceptance.example", platform_admin=True)
    make_subscription(tenant)
    t = f"/api/v1/tenants/{tenant.pk}"
    jwt, staff = signed_in(owner.email), signed_in("staff@acceptance.example")

    # Changes: a setting, a member's role, a grant of 100 credits by platform staff.
    ok(
        jwt.put(
            f"{t}/settings/console.dormant_after_days/",
            {"value": 45, "reason": "quarterly users"},
            format="json",
        )
    )
    roles = {role["slug"]: role["id"] for role in ok(jwt.get(f"{t}/roles/"))["results"]}
    membership = next(
        m for m in ok(jwt.get(f"{t}/members/"))["results"] if m["user"]["email"] == colleague.email
    )
    ok(jwt.patch(f"{t}/members/{membership['id']}/", {"role_id": roles["member"]}, format="json"))
    ok(
        staff.post(
            f"{t}/credits/transactions",
            {"kind": "grant", "amount": "100", "reason": "welcome"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="grant-1",
        ),
        201,
    )

    # An agent runtime (an API key made through the API) spends 60 of them in one session.
    key = ok(
        jwt.post(
            f"{t}/api-keys/",
            {"name": "runtime", "scopes": ["agents:read", "agents:write", "agents:admin", "sessions:write"]},
            format="json",
        ),
        201,
    )["key"]
    runtime = APIClient()
    runtime.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    agent = ok(runtime.post(f"{t}/agents/", {"name": "Analyst"}, format="json"), 201)
    session = ok(runtime.post(f"{t}/sessions/", {"agent_id": agent["id"]}, format="json"), 201)
    ok(
        runtime.post(
            f"{t}/sessions/{session['id']}/usage",
            {"model": TEST_MODEL, "input_tokens": 60 * ONE_CREDIT, "output_tokens": 1000},
            format="json",
            HTTP_IDEMPOTENCY_KEY="usage-1",
        ),
        201,
    )
    ok(runtime.post(f"{t}/sessions/{session['id']}/complete", {"result": {"ok": True}}, format="json"))
    assert Decimal(ok(jwt.get(f"{t}/credits"))["balance"]) < Decimal(40)

    # The audit log: every change, the chain valid.
    # (Session starts, usage and completions are runtime traffic: the ledger is their record.)
    assert audit_actions(jwt, t) == CAUSED
    assert_chain_valid()

    # The export: JSON Lines, the same entries as the list.
    export: Any = jwt.get(f"{t}/audit-logs/export")
    assert (export.status_code, export["Content-Type"]) == (200, "application/x-ndjson"), export[
        "Content-Type"
    ]
    lines = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines() if line]
    listed = ok(jwt.get(f"{t}/audit-logs/", {"page_size": 100}))["results"]
    assert {line["id"]: line["hash"] for line in lines} == {entry["id"]: entry["hash"] for entry in listed}
    # Oldest first (the list is newest first), the export's own entry last.
    assert [line["action"] for line in lines] == [*CAUSED, "audit.exported"]
    # The same entries field by field (the export names the actor `actor_user_id`).
    same = (
        "id",
        "chain_seq",
        "prev_hash",
        "hash",
        "action",
        "actor_label",
        "actor_role",
        "target_id",
        "details",
    )
    assert [{k: line[k] for k in same} for line in lines] == [{k: e[k] for k in same} for e in listed[::-1]]

    # The periodic refresh finds the runway short and suggests a grant; staff accept it.
    refresh_recommendations()
    (rec,) = ok(staff.get(f"{t}/recommendations", {"status": "open"}))["results"]
    assert (rec["suggested_action"], rec["target_id"]) == ("grant_credits", str(tenant.pk))
    before = Decimal(ok(jwt.get(f"{t}/credits"))["balance"])
    accepted = ok(staff.post(f"{t}/recommendations/{rec['id']}/accept", {}, format="json"))
    assert accepted["recommendation"]["status"] == "accepted"
    intervention = accepted["intervention"]
    assert (intervention["recommendation_id"], intervention["type"]) == (rec["id"], "grant_credits")
    # The grant covers a week at the last week's burn: 60.01 credits, rounded up.
    granted = Decimal(intervention["new_state"][str(tenant.pk)]["granted"])
    assert granted == Decimal(61)
    assert Decimal(ok(jwt.get(f"{t}/credits"))["balance"]) == before + granted

    # Reversed: the balance back where it was.
    reversed_ = ok(
        staff.post(
            f"{t}/interventions/{intervention['id']}/reverse", {"reason": "paid by card"}, format="json"
        )
    )
    assert reversed_["reversed_at"] is not None
    assert Decimal(ok(jwt.get(f"{t}/credits"))["balance"]) == before
    actions = audit_actions(jwt, t)
    assert actions == [
        *CAUSED,
        "audit.exported",
        "recommendations.refreshed",
        "recommendations.viewed",  # a sensitive read
        "credits.grant",
        "intervention.applied",
        "recommendation.accepted",
        "credits.adjustment",
        "intervention.reversed",
    ]
    assert_chain_valid()

    # The day's analytics, rolled up, equal what was caused.
    today = timezone.now().date().isoformat()
    call_command("rollup_analytics", "--from", today, "--to", today, stdout=StringIO())
    (day,) = ok(jwt.get(f"{t}/analytics/daily", {"from": today, "to": today}))["results"]
    assert day["date"] == today
    assert (day["sessions_started"], day["sessions_completed"], day["sessions_failed"]) == (1, 1, 0)
    assert (day["input_tokens"], day["output_tokens"]) == (60 * ONE_CREDIT, 1000)
    assert Decimal(day["credits_granted"]) == Decimal(100) + granted
    assert Decimal(day["credits_charged"]) == Decimal(100) - before
