"""Issue acceptance, through HTTP only: register, see the included credits, charge usage with an
API key, replay it and get the same answer, run out and get 402, reserve and settle."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.tests.conftest import bearer

PASSWORD = "acceptance pass phrase 0815"


@pytest.mark.django_db
def test_billing__register_charge_replay_run_out_reserve_settle__through_http():
    signup = APIClient().post(
        "/api/v1/auth/register",
        {"email": "owner@billing.example", "password": PASSWORD, "tenant_name": "Billing Co"},
        format="json",
    )
    assert signup.status_code == 201, signup.json()
    owner = bearer(signup.json()["access"])
    tenant_id = owner.get("/api/v1/auth/me").json()["memberships"][0]["tenant"]["id"]
    base = f"/api/v1/tenants/{tenant_id}"

    # The starter plan's included credits are there from the start.
    credits = owner.get(f"{base}/credits").json()
    assert (credits["balance"], credits["available"]) == ("50.000000", "50.000000")
    assert credits["subscription"]["plan"]["code"] == "starter"

    # An agent runtime's key reports usage.
    key = owner.post(
        f"{base}/api-keys/", {"name": "runtime", "scopes": ["credits:write", "credits:read"]}, format="json"
    ).json()["key"]
    runtime = APIClient()
    runtime.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    report = {"model": "claude-sonnet-4-5", "input_tokens": 1_000_000, "output_tokens": 200_000}

    first = runtime.post(f"{base}/usage", report, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    assert first.status_code == 201, first.json()
    # $3 + 0.2 x $15 = $6 of provider cost, x 5 = 30 credits
    assert (first.json()["amount"], first.json()["balance_after"]) == ("-30.000000", "20.000000")

    # A retry gets the same answer, byte for byte, and is not charged again.
    again = runtime.post(f"{base}/usage", report, format="json", HTTP_IDEMPOTENCY_KEY="run-1")
    assert (again.status_code, again.content) == (201, first.content)
    assert again["Idempotent-Replayed"] == "true"
    assert owner.get(f"{base}/credits").json()["balance"] == "20.000000"

    # The next run does not fit: 402, nothing written.
    refused = runtime.post(f"{base}/usage", report, format="json", HTTP_IDEMPOTENCY_KEY="run-2")
    assert (refused.status_code, refused.json()["code"]) == (402, "insufficient_credits")
    assert owner.get(f"{base}/credits").json()["balance"] == "20.000000"

    # A run that must not overshoot holds an estimate first, then settles the actual usage.
    hold = runtime.post(
        f"{base}/usage/reservations",
        {"model": "claude-sonnet-4-5", "input_tokens": 500_000, "output_tokens": 100_000},
        format="json",
        HTTP_IDEMPOTENCY_KEY="hold-1",
    )
    assert hold.status_code == 201, hold.json()
    assert hold.json()["amount"] == "15.000000"
    assert owner.get(f"{base}/credits").json()["available"] == "5.000000"
    settled = runtime.post(
        f"{base}/usage/reservations/{hold.json()['id']}/settle",
        {"input_tokens": 200_000, "output_tokens": 40_000},
        format="json",
    )
    assert settled.status_code == 200, settled.json()
    assert settled.json()["transaction"]["amount"] == "-6.000000"
    final = owner.get(f"{base}/credits").json()
    assert (final["balance"], final["held"], final["available"]) == ("14.000000", "0.000000", "14.000000")

    # The ledger tells the story, newest first.
    kinds = [e["kind"] for e in owner.get(f"{base}/credits/transactions").json()["results"]]
    assert kinds == ["usage", "usage", "grant"]
