"""The admin's index is the platform's dashboard (insights.dashboard): its money and sessions come
from the daily analytics (equal to the ledger once rolled up), operators see it too, and its query
count does not grow with tenants, days or entries."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.tests.factories import SessionFactory
from billing.tests.factories import charge, entries, fund
from core.tenancy import platform_bypass
from insights.services import analytics_rollup
from insights.tests.factories import DailyAnalyticsFactory
from tenants.tests.factories import TenantFactory


def _kpi(html: str, name: str) -> str:
    match = re.search(rf'data-kpi="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1)


@pytest.mark.django_db
def test_dashboard__rolled_up_usage__numbers_match_the_ledger(
    client, platform_admin, tenant, other_tenant, price
):
    fund(tenant, 100)
    fund(other_tenant, 50)
    charge(tenant, credits=7)
    charge(other_tenant, credits=3)
    with platform_bypass(reason="test", log=False):
        usage = [e for t in (tenant, other_tenant) for e in entries(t, kind="usage")]
    charged = -sum(e.amount for e in usage)
    cost = sum(e.provider_cost_usd for e in usage)
    SessionFactory.create(agent__tenant=tenant, status="failed", ended_at=timezone.now())
    client.force_login(platform_admin)
    assert _kpi(client.get("/admin/").content.decode(), "credits-charged") == "0.00"  # not rolled up yet
    analytics_rollup(day=timezone.now().date())

    html = client.get("/admin/").content.decode()

    assert _kpi(html, "credits-charged") == f"{charged:,.2f}"
    assert _kpi(html, "provider-cost") == f"{cost:,.2f}"
    assert _kpi(html, "margin") == f"{charged - cost:,.2f}"
    assert _kpi(html, "tenants") == "2"
    assert _kpi(html, "sessions") == "1"
    assert _kpi(html, "errors") == "1"
    chart = re.search(r'data-type="bar" data-value="([^"]*)"', html)
    assert chart is not None
    data = json.loads(chart.group(1).replace("&quot;", '"'))
    assert Decimal(str(sum(data["datasets"][0]["data"]))).quantize(Decimal("0.01")) == charged.quantize(
        Decimal("0.01")
    )
    assert other_tenant.name in html  # among the top tenants


def _index_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/admin/").status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_dashboard__more_tenants_and_entries__same_query_count(client, platform_admin, price):
    client.force_login(platform_admin)
    first = TenantFactory.create()
    fund(first, 10)
    charge(first, credits=1)
    before = _index_queries(client)
    for n in range(4):
        t = TenantFactory.create()
        fund(t, 10)
        charge(t, credits=2)
        charge(t, credits=1)
        DailyAnalyticsFactory.create(tenant=t)
        DailyAnalyticsFactory.create(tenant=None, date=timezone.now().date() - timedelta(days=n))
    analytics_rollup(day=timezone.now().date())

    assert _index_queries(client) == before


@pytest.mark.django_db
def test_dashboard__operator__sees_it_too(client, platform_operator, tenant):
    client.force_login(platform_operator)

    response = client.get("/admin/")

    assert b'data-testid="dashboard"' in response.content
