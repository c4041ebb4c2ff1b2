"""The daily roll-up: idempotent, and equal to a direct aggregate of the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from billing.tests.factories import charge, fund
from core.tenancy import platform_bypass
from insights.models import DailyAnalytics
from insights.services.analytics import analytics_rollup
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

FIELDS = (
    "tenant_id",
    "input_tokens",
    "output_tokens",
    "provider_cost_usd",
    "credits_charged",
    "credits_granted",
)


def rows(day) -> list[tuple]:
    with platform_bypass(reason="test", log=False):
        return sorted(
            (tuple(str(v) for v in r) for r in DailyAnalytics.objects.filter(date=day).values_list(*FIELDS)),
        )


def test_rollup__run_twice__identical_rows(price):
    t = TenantFactory.create()
    fund(t, 50)
    charge(t, credits=3)
    today = timezone.now().date()
    analytics_rollup(day=today)
    first = rows(today)
    analytics_rollup(day=today)
    assert rows(today) == first
    assert len(first) == 2  # the tenant and the platform


def test_rollup__generated_ledger__equals_direct_sql_aggregate(price):
    tenants = [TenantFactory.create() for _ in range(3)]
    for n, t in enumerate(tenants):
        fund(t, 100)
        for _ in range(n + 1):
            charge(t, credits=2)
    today = timezone.now().date()
    analytics_rollup(day=today)
    with platform_bypass(reason="test", log=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tenant_id, SUM(input_tokens) FILTER (WHERE kind='usage'),"
            " -SUM(amount) FILTER (WHERE kind='usage'), SUM(amount) FILTER (WHERE kind='grant')"
            " FROM billing_credittransaction WHERE created_at::date = %s GROUP BY tenant_id",
            [today],
        )
        expected = {str(r[0]): (r[1] or 0, r[2] or Decimal(0), r[3] or Decimal(0)) for r in cursor.fetchall()}
        got = {
            str(a.tenant_id): (a.input_tokens, a.credits_charged, a.credits_granted)
            for a in DailyAnalytics.objects.filter(date=today, tenant__isnull=False)
        }
        platform = DailyAnalytics.objects.get(date=today, tenant__isnull=True)
    assert got == expected
    assert platform.credits_charged == sum(v[1] for v in expected.values())
    assert platform.credits_charged > 0
