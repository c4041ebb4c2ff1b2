"""The roll-up's session, error and activity fields: what agents' sessions and tasks did that
day, by tenant and for the whole platform; usage counted on the day it happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from agents.tests.factories import AgentFactory, SessionFactory, TaskFactory
from billing.tests.factories import charge, fund
from core.tenancy import platform_bypass
from insights.models import DailyAnalytics
from insights.services.analytics import analytics_rollup
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 4, tzinfo=UTC)


def _row(tenant) -> DailyAnalytics:
    with platform_bypass(reason="test", log=False):
        return DailyAnalytics.objects.get(date=DAY.date(), tenant=tenant)


def test_rollup__sessions_and_tasks__started_completed_failed_errors_avg_seconds():
    tenant, other = TenantFactory.create(), TenantFactory.create()
    alice, bob = UserFactory.create(), UserFactory.create()
    agent = AgentFactory.create(tenant=tenant)
    at = DAY + timedelta(hours=9)
    SessionFactory.create(
        agent=agent,
        status="completed",
        started_at=at,
        ended_at=at + timedelta(seconds=30),
        initiated_by=alice,
    )
    SessionFactory.create(
        agent=agent, status="failed", started_at=at, ended_at=at + timedelta(seconds=90), initiated_by=alice
    )
    SessionFactory.create(agent=agent, status="running", started_at=at, initiated_by=bob)
    # Started the day before, ended this day: completed this day, not started.
    SessionFactory.create(
        agent=agent, status="completed", started_at=at - timedelta(days=1), ended_at=at, initiated_by=None
    )
    SessionFactory.create(agent=agent, status="running", started_at=at + timedelta(days=1))  # another day
    TaskFactory.create(agent=agent, status="failed", finished_at=at)
    TaskFactory.create(agent=agent, status="failed", finished_at=at + timedelta(days=2))
    SessionFactory.create(
        agent=AgentFactory.create(tenant=other), status="failed", started_at=at, ended_at=at
    )

    analytics_rollup(day=DAY.date())

    row = _row(tenant)
    assert (row.sessions_started, row.sessions_completed, row.sessions_failed) == (3, 2, 1)
    assert row.errors == 2  # one failed session, one failed task
    assert row.active_users == 2  # alice and bob started sessions
    # (30 + 90 + 86,400) / 3 sessions ended this day
    assert row.avg_session_seconds == Decimal("28840.00")
    platform = _row(None)
    assert (platform.sessions_started, platform.sessions_failed, platform.errors) == (4, 2, 3)


def test_rollup__usage_reported_late__counted_on_the_day_it_happened(price):
    tenant = TenantFactory.create()
    fund(tenant, 100)
    charge(tenant, credits=4, occurred_at=datetime.now(UTC) - timedelta(days=2))
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).date()
    analytics_rollup(day=two_days_ago)
    with platform_bypass(reason="test", log=False):
        row = DailyAnalytics.objects.get(date=two_days_ago, tenant=tenant)
    assert row.credits_charged == Decimal("4")
    assert row.provider_cost_usd > 0
