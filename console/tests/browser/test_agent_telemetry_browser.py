"""The agent page's telemetry in a real browser (Chromium through Playwright), against the live
server: the activity feed (newest first, each item with its data-id for the live stream) and the
metrics charts drawn from the hourly roll-up of the agent's sessions; shot in .data/screenshots/
(agent-telemetry*.png), on a desktop and on a phone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD
from agents import services
from agents.tests.factories import ActivityFactory, AgentFactory, SessionFactory
from console.tests.browser.conftest import PHONE
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def test_agent_page__activity_feed_and_metrics_chart(people: Any) -> None:
    tenant = TenantFactory.create(name="Initrode", timezone="Europe/Paris")
    owner = member(tenant, "owner", user__email="olive@initrode.example", user__full_name="Olive Owner")
    agent = AgentFactory.create(tenant=tenant, name="Release captain", status="active")
    now = timezone.now()
    ActivityFactory.create(
        agent=agent, type="message", summary="Posted the release notes.", created_at=now - timedelta(hours=3)
    )
    ActivityFactory.create(
        agent=agent, type="error", summary="GitHub answered 502.", created_at=now - timedelta(hours=1)
    )
    for hours_ago, status in ((2, "completed"), (2, "failed"), (5, "completed"), (30, "completed")):
        started = now - timedelta(hours=hours_ago)
        SessionFactory.create(
            agent=agent,
            status=status,
            started_at=started,
            ended_at=started + timedelta(minutes=4),
            credits_charged=Decimal("1.25"),
        )
    services.metrics_rollup(start=now - timedelta(hours=48), end=now)

    olive = people()
    olive.sign_in(owner.email, TEST_PASSWORD)
    expect(olive.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    olive.open(f"/t/{tenant.pk}/agents/{agent.pk}/")
    expect(olive.page.get_by_role("heading", level=1, name="Release captain")).to_be_visible()

    feed = olive.page.locator("#agent-activity li")
    expect(feed).to_have_count(2)
    expect(feed.first).to_contain_text("GitHub answered 502.")  # newest first
    expect(feed.nth(1)).to_contain_text("Posted the release notes.")
    assert all(item.get_attribute("data-id") for item in feed.all())

    metrics = olive.page.get_by_test_id("agent-metrics")
    expect(metrics.get_by_role("heading", name="Metrics, last 48 hours")).to_be_visible()
    expect(olive.page.get_by_test_id("agent-metrics-totals")).to_contain_text("4 sessions")
    expect(olive.page.get_by_test_id("agent-metrics-totals")).to_contain_text("1 failed")
    sessions_chart = olive.page.get_by_test_id("agent-sessions-chart")
    expect(sessions_chart).to_be_visible()
    expect(sessions_chart.locator(".chart-bars rect")).to_have_count(3)  # three hours with sessions
    expect(sessions_chart.locator(".chart-overlay rect")).to_have_count(1)  # one of them failed
    expect(olive.page.get_by_test_id("agent-cost-chart").locator(".chart-bars rect")).to_have_count(3)
    olive.shot("agent-telemetry")

    phone = people(viewport=PHONE)
    phone.sign_in(owner.email, TEST_PASSWORD)
    expect(phone.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    phone.open(f"/t/{tenant.pk}/agents/{agent.pk}/")
    expect(phone.page.locator("#agent-activity li")).to_have_count(2)
    expect(phone.page.get_by_test_id("agent-sessions-chart")).to_be_visible()
    phone.shot("agent-telemetry-phone")
