"""The catalogue is the one billing route outside tenants that API keys may call
(`dangerously_allow_api_keys`): agent runtimes price their holds from it."""

from __future__ import annotations

from typing import Any

from billing.tests.factories import with_key


def test_catalogue__api_key__plans_and_prices_200(tenant: Any, owner: Any) -> None:
    client = with_key(tenant, owner)

    plans = client.get("/api/v1/billing/plans")
    prices = client.get("/api/v1/billing/prices?model=claude-3-5-haiku-20241022")

    assert plans.status_code == 200, plans.json()
    assert [p["code"] for p in plans.json()] == ["starter", "growth", "enterprise"]
    assert prices.status_code == 200, prices.json()
    assert [p["input_usd_per_mtok"] for p in prices.json()] == ["0.800000", "1.000000"]


def test_credits_summary__api_key_without_credits_read__403(tenant: Any, owner: Any) -> None:
    """The escape hatch is the catalogue's alone: on tenant routes a key keeps its scopes."""
    client = with_key(tenant, owner, scopes=["credits:write"])

    response = client.get(f"/api/v1/tenants/{tenant.pk}/credits")

    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"
    assert "credits:read" in response.json()["detail"]
