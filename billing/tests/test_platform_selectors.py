"""Platform-wide reads of billing (the console's platform pages): spend, provider cost and margin
by UTC day, top tenants, low balances, the tenant list with balances, tenants by status and plan;
and the ledger filtered as the API filters it. Each one query, whatever the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from billing import selectors, services
from billing.tests.factories import ONE_CREDIT_TOKENS, TEST_MODEL, create_test_price, fund
from core.tenancy import platform_bypass, tenant_context
from tenants.models import TenantStatus
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def _charge(tenant: Any, credits: int, *, at: datetime) -> None:
    with tenant_context(tenant):
        event = services.usage_event(
            model=TEST_MODEL,
            input_tokens=credits * ONE_CREDIT_TOKENS,
            output_tokens=0,
            occurred_at=at,
            now=at,
        )
        services.credits_charge(
            tenant=tenant, event=event, idempotency_key=f"k-{tenant.pk}-{credits}-{at:%s}"
        )


@pytest.fixture
def two_tenants() -> tuple[Any, Any]:
    create_test_price()
    busy, quiet = TenantFactory.create(name="Busy"), TenantFactory.create(name="Quiet", plan="growth")
    fund(busy, 100)
    fund(quiet, 100)
    _charge(busy, 5, at=NOW - timedelta(days=1))
    _charge(busy, 3, at=NOW)
    _charge(quiet, 2, at=NOW)
    _charge(quiet, 7, at=NOW - timedelta(days=40))  # outside 30 days
    return busy, quiet


def test_platform_spend_by_day__usage_in_two_tenants__charged_cost_and_margin_per_utc_day(
    two_tenants: Any, django_assert_num_queries: Any
) -> None:
    with platform_bypass(reason="test", log=False), django_assert_num_queries(1):
        days = selectors.platform_spend_by_day(days=30, now=NOW)
    assert len(days) == 30
    assert days[-1].day == NOW.date()
    assert (days[-1].credits, days[-1].provider_cost_usd, days[-1].margin_usd) == (
        Decimal("5.000000"),
        Decimal("1.000000000000"),
        Decimal("4.000000000000"),
    )
    assert days[-2].credits == Decimal("5.000000")
    assert sum(day.events for day in days) == 3


def test_platform_top_tenants__period__most_charged_first_with_names(two_tenants: Any) -> None:
    start, end = selectors.platform_period(days=30, now=NOW)
    with platform_bypass(reason="test", log=False):
        rows = selectors.platform_top_tenants(start=start, end=end, limit=5)
    assert [(row["name"], row["credits"]) for row in rows] == [("Busy", Decimal(8)), ("Quiet", Decimal(2))]
    assert rows[0]["margin_usd"] == Decimal("6.4")


def test_platform_low_balances__open_crossing__listed_with_its_threshold(two_tenants: Any) -> None:
    _, quiet = two_tenants
    with tenant_context(quiet):
        services.threshold_create(tenant=quiet, actor=None, threshold=Decimal("95"))
        services.threshold_create(tenant=quiet, actor=None, threshold=Decimal("50"))
    with platform_bypass(reason="test", log=False):
        rows = selectors.platform_low_balances()
    assert [(row["name"], row["balance"], row["threshold"]) for row in rows] == [
        ("Quiet", Decimal("91.000000"), Decimal("95.000000"))
    ]


def test_platform_tenant_list__filters__balance_and_no_account(two_tenants: Any) -> None:
    TenantFactory.create(name="Closed", status=TenantStatus.SUSPENDED, suspended_at=NOW)
    with platform_bypass(reason="test", log=False):
        listed: Any = selectors.platform_tenant_list()  # annotated rows
        rows = {row.name: row.balance for row in listed}
        suspended = [row.name for row in selectors.platform_tenant_list(status=TenantStatus.SUSPENDED)]
        found = [row.name for row in selectors.platform_tenant_list(query="bus")]
        counts = selectors.platform_tenant_counts()
    assert rows == {"Busy": Decimal("92.000000"), "Closed": None, "Quiet": Decimal("91.000000")}
    assert suspended == ["Closed"]
    assert found == ["Busy"]
    assert {(row["status"], row["plan"], row["count"]) for row in counts} == {
        ("active", "starter", 1),
        ("active", "growth", 1),
        ("suspended", "starter", 1),
    }


def test_transaction_list_filtered__kind_model_and_period__as_the_api(two_tenants: Any) -> None:
    busy, _ = two_tenants
    with tenant_context(busy):
        usage = selectors.transaction_list_filtered(tenant=busy, kind="usage", model=TEST_MODEL)
        assert [row.amount for row in usage] == [Decimal("-3.000000"), Decimal("-5.000000")]
        later = datetime(2999, 1, 1, tzinfo=UTC)
        assert list(selectors.transaction_list_filtered(tenant=busy, start=later)) == []
        assert [row.kind for row in selectors.transaction_list_filtered(tenant=busy, end=later)] == [
            "usage",
            "usage",
            "grant",
        ]
        none = selectors.transaction_list_filtered(tenant=busy, model="other")
        assert list(none) == []
