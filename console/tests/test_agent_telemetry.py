"""The agent page's telemetry blocks: the latest activity (newest first, at most 20, each with its
data-id in the live container), the hourly metrics charts over 48 hours, visibility, and the
page's query count with few and many rows."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.services.telemetry import hour_floor
from agents.tests.factories import ActivityFactory, AgentFactory, MetricsFactory
from console import charts
from tenants.tests.factories import TeamFactory, member

pytestmark = pytest.mark.django_db


def _detail(agent: Any) -> str:
    return f"/t/{agent.tenant_id}/agents/{agent.pk}/"


def _statements(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


def test_agent_page__activity__latest_20_newest_first_with_ids(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy")
    now = timezone.now()
    items = [
        ActivityFactory.create(agent=agent, summary=f"Step {n:02d}", created_at=now - timedelta(minutes=n))
        for n in range(25)
    ]
    # The newest (a second after "Step 00", so the order does not hang on the ids' tie-break).
    ActivityFactory.create(
        agent=agent, type="error", summary="Tool web.search failed", created_at=now + timedelta(seconds=1)
    )
    ActivityFactory.create(agent=AgentFactory.create(tenant=tenant), summary="Someone else's")
    body = signed_in(owner).get(_detail(agent)).content.decode()
    feed = body[body.index('id="agent-activity"') : body.index("</ol>", body.index('id="agent-activity"'))]
    ids = re.findall(r'data-id="([0-9a-f-]+)"', feed)
    assert len(ids) == 20
    assert "Tool web.search failed" in feed
    assert 'class="activity-error"' in feed
    assert ids[1:] == [str(i.pk) for i in items[:19]]  # newest first, after the error of now
    assert "Step 24" not in feed
    assert "Someone else" not in feed


def test_agent_page__no_activity_no_metrics__says_what_to_expect(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant)
    body = signed_in(owner).get(_detail(agent)).content.decode()
    assert 'id="agent-activity"' in body  # the live stream's container is there, empty
    assert "Nothing yet." in body
    assert "No sessions in the last 48 hours" in body


def test_agent_page__metrics__charts_of_the_last_48_hours(signed_in: Any, tenant: Any, owner: Any) -> None:
    agent = AgentFactory.create(tenant=tenant)
    current = hour_floor(timezone.now())
    MetricsFactory.create(
        agent=agent, hour=current, sessions=4, successes=3, failures=1, credits_charged=Decimal("2.5")
    )
    MetricsFactory.create(
        agent=agent,
        hour=current - timedelta(hours=5),
        sessions=6,
        successes=6,
        failures=0,
        credits_charged=Decimal("1"),
    )
    MetricsFactory.create(agent=agent, hour=current - timedelta(hours=60), sessions=99)  # too old
    body = signed_in(owner).get(_detail(agent)).content.decode()
    totals = body[body.index('data-testid="agent-metrics-totals"') :][:600]
    assert "<strong>10</strong> sessions" in totals
    assert "<strong>1</strong> failed" in totals
    assert "3.50" in totals
    assert 'data-testid="agent-sessions-chart"' in body
    assert 'data-testid="agent-cost-chart"' in body
    assert body.count('class="chart-overlay"') == 1
    assert "1 failed</title>" in body


def test_hourly_bars__overlay_on_the_same_scale_and_labels_in_the_tenants_zone() -> None:
    import zoneinfo

    start = hour_floor(timezone.now()).replace(hour=0) - timedelta(days=1)
    points = [(start + timedelta(hours=n), Decimal(n % 5)) for n in range(48)]
    chart = charts.hourly_bars(
        points, unit="sessions", tz=zoneinfo.ZoneInfo("UTC"), overlay=[Decimal(1)] * 48, overlay_unit="failed"
    )
    assert len(chart.bars) == len(chart.overlay) == 48
    four = chart.bars[4]
    one = chart.overlay[4]
    assert one.height == pytest.approx(four.height / 4, abs=0.02)
    assert [label.label for label in chart.x_labels][:4] == [
        f"{start.day} {start:%b}",
        "06:00",
        "12:00",
        "18:00",
    ]


def test_agent_page__member__hidden_agents_activity_not_reachable(signed_in: Any, tenant: Any) -> None:
    team = TeamFactory.create(tenant=tenant)
    teammate = member(tenant, "member", team=team)
    hidden = AgentFactory.create(tenant=tenant)
    ActivityFactory.create(agent=hidden, summary="secret plans")
    response = signed_in(teammate).get(_detail(hidden))
    assert response.status_code == 404
    assert "secret plans" not in response.content.decode()


def test_agent_page__query_count__same_for_few_and_many_activity_and_metrics(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, status="idle")
    current = hour_floor(timezone.now())
    ActivityFactory.create(agent=agent)
    MetricsFactory.create(agent=agent, hour=current)
    client = signed_in(owner)
    few = _statements(client, _detail(agent))
    ActivityFactory.create_batch(30, agent=agent)
    for n in range(1, 40):
        MetricsFactory.create(agent=agent, hour=current - timedelta(hours=n))
    assert _statements(client, _detail(agent)) == few
