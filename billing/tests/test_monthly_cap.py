"""The tenant's monthly credit cap (resource_limits.monthly_credit_cap) on every charging path:
the single charge, the batch (per event) and the settlement of a hold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billing import services
from billing.errors import InsufficientCredits, MonthlyCreditCapExceeded
from billing.models import CreditAccount
from billing.tests.factories import (
    ONE_CREDIT_TOKENS,
    TEST_MODEL,
    balance,
    charge,
    entries,
    fund,
    url,
    with_key,
)
from billing.tests.test_batch import event, post_batch
from billing.tests.test_reservations import hold, settle
from core.tenancy import platform_bypass, tenant_context
from tenants.models import Tenant


def set_cap(tenant: Any, cap: str | None, tz: str | None = None) -> None:
    limits = {**(tenant.resource_limits or {}), "monthly_credit_cap": cap}
    fields: dict[str, Any] = {"resource_limits": limits}
    if tz:
        fields["timezone"] = tz
    Tenant.objects.filter(pk=tenant.pk).update(**fields)


def month_state(tenant: Any) -> tuple[Decimal, date | None]:
    with platform_bypass(reason="test", log=False):
        row = CreditAccount.objects.filter(tenant=tenant).values_list("month_charged", "month_start").get()
    return row[0], row[1]


@pytest.mark.django_db
def test_charge__past_the_monthly_cap__402_own_code_nothing_written(tenant, price):
    fund(tenant, 100)
    set_cap(tenant, "10")
    charge(tenant, credits=6)
    charge(tenant, credits=4)  # exactly at the cap: allowed

    with pytest.raises(MonthlyCreditCapExceeded) as refused:
        charge(tenant, credits=1)

    assert (refused.value.code, refused.value.status_code) == ("monthly_credit_cap_exceeded", 402)
    assert "10" in refused.value.detail
    assert balance(tenant) == Decimal(90)
    assert len(entries(tenant, kind="usage")) == 2
    assert month_state(tenant)[0] == Decimal(10)


@pytest.mark.django_db
def test_charge__no_cap__counted_all_the_same_and_balance_refusal_keeps_its_code(tenant, price):
    fund(tenant, 3)
    charge(tenant, credits=2)

    with pytest.raises(InsufficientCredits):
        charge(tenant, credits=2)

    assert month_state(tenant)[0] == Decimal(2)


@pytest.mark.django_db
def test_charge__new_month__the_count_starts_again(tenant, price):
    fund(tenant, 100)
    set_cap(tenant, "5")
    charge(tenant, credits=5)
    with platform_bypass(reason="test: last month", log=False):
        CreditAccount.objects.filter(tenant=tenant).update(month_start=date(2020, 1, 1))

    charge(tenant, credits=5)

    charged, start = month_state(tenant)
    assert charged == Decimal(5)
    assert start is not None
    assert (start > date(2020, 1, 1), start.day) == (True, 1)


@pytest.mark.django_db
def test_charge__month__the_calendar_month_in_the_tenants_time_zone(tenant, price, monkeypatch):
    fund(tenant, 100)
    set_cap(tenant, "50", tz="Pacific/Kiritimati")  # UTC+14: 31 Jan 12:00 UTC is 1 Feb there
    at = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: at)  # what the charge stamps, whatever its clock

    with tenant_context(tenant):
        services.credits_charge(
            tenant=tenant,
            event=services.usage_event(
                model=TEST_MODEL, input_tokens=ONE_CREDIT_TOKENS, output_tokens=0, occurred_at=at, now=at
            ),
            idempotency_key="tz-1",
        )

    assert month_state(tenant) == (Decimal(1), date(2026, 2, 1))


@pytest.mark.django_db
def test_usage_api__past_the_cap__402_monthly_credit_cap_exceeded(tenant, owner, price):
    fund(tenant, 100)
    set_cap(tenant, "2")
    client = with_key(tenant, owner, ["credits:write"])
    body = {"model": TEST_MODEL, "input_tokens": 3 * ONE_CREDIT_TOKENS, "output_tokens": 0}

    response = client.post(url(tenant, "usage"), body, format="json", HTTP_IDEMPOTENCY_KEY="cap-1")

    assert response.status_code == 402, response.content
    assert response.json()["code"] == "monthly_credit_cap_exceeded"
    assert balance(tenant) == Decimal(100)


@pytest.mark.django_db
def test_batch__cap_reached_midway__per_event_402_the_rest_judged_in_order(tenant, owner, price, as_user):
    fund(tenant, 100)
    set_cap(tenant, "5")

    response = post_batch(
        as_user(owner), tenant, [event("a", 3), event("b", 3), event("c", 2), event("d", 1)]
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 402, 201, 402]
    assert results[1]["body"]["code"] == "monthly_credit_cap_exceeded"
    assert balance(tenant) == Decimal(95)
    assert month_state(tenant)[0] == Decimal(5)


@pytest.mark.django_db
def test_batch__all_within_the_cap__running_count(tenant, owner, price, as_user):
    fund(tenant, 100)
    set_cap(tenant, "10")

    response = post_batch(as_user(owner), tenant, [event("a", 3), event("b", 3)])

    assert [r["status"] for r in response.json()["results"]] == [201, 201]
    assert month_state(tenant)[0] == Decimal(6)


@pytest.mark.django_db
def test_settle__past_the_cap__402_nothing_charged(tenant, price):
    fund(tenant, 100)
    set_cap(tenant, "3")
    reservation = hold(tenant, amount=10)

    with pytest.raises(MonthlyCreditCapExceeded):
        settle(tenant, reservation["id"], credits=4)

    assert balance(tenant) == Decimal(100)
    ok = hold(tenant, key="h2", amount=10)
    settle(tenant, ok["id"], credits=3)
    assert month_state(tenant)[0] == Decimal(3)
