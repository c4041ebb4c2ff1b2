"""The spend selectors the overview reads (billing.selectors: spend_by_day, spend_by_api_key).
Here, beside their one caller, because billing's tests are another team's files."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.tests.factories import ApiKeyFactory
from billing import selectors, services
from billing.tests.factories import charge, create_test_price, fund, usage
from console.tests.data import prices, usage_history
from core.tenancy import tenant_context

pytestmark = pytest.mark.django_db


def _charge_with_key(tenant: Any, credits: int, key: Any) -> None:
    with tenant_context(tenant):
        services.credits_charge(
            tenant=tenant, event=usage(credits), idempotency_key=str(uuid.uuid4()), api_key=key
        )


def test_spend_by_day__usage_on_some_days__every_day_present_oldest_first(tenant: Any, owner: Any) -> None:
    create_test_price()
    fund(tenant, 100)
    now = timezone.now()
    charge(tenant, credits=2, occurred_at=now)
    charge(tenant, credits=3, occurred_at=now - timedelta(days=2))
    with tenant_context(tenant):
        series = selectors.spend_by_day(tenant=tenant, days=5)
    today = timezone.localtime(now, ZoneInfo("Europe/Berlin")).date()
    assert [row.day for row in series] == [today - timedelta(days=d) for d in range(4, -1, -1)]
    assert [row.used for row in series] == [Decimal(0), Decimal(0), Decimal(3), Decimal(0), Decimal(2)]
    assert [row.events for row in series] == [0, 0, 1, 0, 1]


def test_spend_by_day__near_midnight__days_cut_in_the_tenants_time_zone(tenant: Any) -> None:
    create_test_price()
    fund(tenant, 100)
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime.combine(timezone.localtime(timezone.now(), berlin).date(), datetime.min.time(), berlin)
    now += timedelta(hours=0, minutes=30)  # 00:30 in Berlin: still yesterday in UTC
    with tenant_context(tenant):
        services.credits_charge(
            tenant=tenant,
            event=usage(4, occurred_at=now - timedelta(minutes=20), now=now),
            idempotency_key="k-near-midnight",
        )
        series = selectors.spend_by_day(tenant=tenant, days=2, now=now)
    assert [row.used for row in series] == [Decimal(0), Decimal(4)]  # Berlin's today, not UTC's


def test_spend_by_api_key__usage_through_keys__names_most_spent_first_without_peoples_usage(
    tenant: Any, owner: Any, other_tenant: Any
) -> None:
    prices()
    usage_history(tenant, creator=owner, days=1, key_name="Small key")  # 2 + 1 credits
    big = ApiKeyFactory.create(tenant=tenant, created_by=owner, name="Big key", prefix="qm_live_big")
    _charge_with_key(tenant, 9, big)
    charge(tenant, credits=50)  # by a person: no key
    fund(other_tenant, 100)
    theirs = ApiKeyFactory.create(tenant=other_tenant, created_by=owner, name="Not ours")
    _charge_with_key(other_tenant, 7, theirs)
    start, end = timezone.now() - timedelta(days=1), timezone.now() + timedelta(minutes=1)
    with tenant_context(tenant):
        rows = selectors.spend_by_api_key(tenant=tenant, start=start, end=end)
        top = selectors.spend_by_api_key(tenant=tenant, start=start, end=end, limit=1)
    assert [(row["name"], row["credits"]) for row in rows] == [
        ("Big key", Decimal(9)),
        ("Small key", Decimal(3)),
    ]
    assert rows[0]["prefix"] == "qm_live_big"
    assert [row["name"] for row in top] == ["Big key"]


def test_spend_period__thirty_days__starts_at_midnight_29_days_ago_in_the_tenants_zone(tenant: Any) -> None:
    now = datetime(2025, 3, 30, 12, 0, tzinfo=ZoneInfo("UTC"))
    start, end = selectors.spend_period(tenant=tenant, days=30, now=now)
    assert start == datetime(2025, 3, 1, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert end == datetime(2025, 3, 31, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
