"""Telemetry: session duration, the activity feed (service, stream, API, isolation, visibility),
the hourly metrics roll-up (equal to a direct aggregate, idempotent) and its API and command."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents import services
from agents.models import AgentActivity, AgentMetricsHourly, AgentSession
from agents.services.telemetry import metrics_rollup, metrics_rollup_recent
from agents.tests.factories import ActivityFactory, AgentFactory, MetricsFactory, SessionFactory
from core.errors import InvalidInput
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def t_url(tenant: Any, rest: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/{rest}"


def a_url(tenant: Any, agent: Any, rest: str) -> str:
    return f"/api/v1/tenants/{tenant.pk}/agents/{agent.pk}/{rest}"


# --- Session duration --------------------------------------------------------------------------


def _started(tenant: Any, seconds_ago: float, **kwargs: Any) -> AgentSession:
    return SessionFactory.create(
        agent=kwargs.pop("agent", None) or AgentFactory.create(tenant=tenant),
        started_at=timezone.now() - timedelta(seconds=seconds_ago),
        **kwargs,
    )


def test_session_duration__complete_and_fail__recorded_beside_tokens_and_cost(tenant):
    done, failed = _started(tenant, 90), _started(tenant, 2.5)
    with tenant_context(tenant):
        done = services.session_complete(session=done, result={"ok": True})
        failed = services.session_fail(session=failed, error="boom")
    assert done.duration_ms is not None
    assert 90_000 <= done.duration_ms < 95_000
    assert failed.duration_ms is not None
    assert 2_500 <= failed.duration_ms < 7_500
    assert done.ended_at is not None
    assert done.duration_ms == round((done.ended_at - done.started_at).total_seconds() * 1000)


def test_session_duration__cancelled_subtree__every_node_has_one(tenant):
    root = _started(tenant, 60)
    child = SessionFactory.create(
        agent=root.agent, parent=root, started_at=timezone.now() - timedelta(seconds=5)
    )
    with tenant_context(tenant):
        services.session_cancel(session=root, actor=None, reason="stop")
        rows = dict(AgentSession.objects.filter(root_id=root.pk).values_list("id", "duration_ms"))
    assert rows[root.pk] >= 60_000
    assert 60_000 > rows[child.pk] >= 5_000


def test_session_duration__open_session__none(tenant):
    session = _started(tenant, 10)
    with platform_bypass(reason="test", log=False):
        assert AgentSession.objects.get(pk=session.pk).duration_ms is None


# --- Activity: the service and the stream ------------------------------------------------------


def test_activity_record__published_to_the_tenants_stream(tenant):
    agent = AgentFactory.create(tenant=tenant)
    with mock.patch("agents.services.telemetry.stream.publish") as publish, tenant_context(tenant):
        activity = services.activity_record(
            agent=agent, type="action", summary="Opened a PR", details={"n": 1}
        )
    publish.assert_called_once()
    tenant_id, event_type, data = publish.call_args.args
    assert (tenant_id, event_type) == (tenant.pk, "activity")
    assert data["id"] == str(activity.pk)
    assert data["agent_id"] == str(agent.pk)
    assert data["summary"] == "Opened a PR"
    assert "details" not in data


def test_session_end__records_activity(tenant):
    ok, bad = _started(tenant, 5), _started(tenant, 5)
    with tenant_context(tenant):
        services.session_complete(session=ok)
        services.session_fail(session=bad, error="model timed out")
        rows = list(
            AgentActivity.objects.filter(tenant=tenant).order_by("type").values("type", "summary", "session")
        )
    assert [r["type"] for r in rows] == ["action", "error"]
    assert rows[0]["session"] == ok.pk
    assert "completed in" in rows[0]["summary"]
    assert rows[1]["session"] == bad.pk
    assert "model timed out" in rows[1]["summary"]


def test_activity_record__session_of_another_agent__refused(tenant):
    session = _started(tenant, 1)
    other = AgentFactory.create(tenant=tenant)
    with tenant_context(tenant), pytest.raises(InvalidInput) as exc:
        services.activity_record(agent=other, session=session, type="message", summary="x")
    assert getattr(exc.value, "status_code", None) == 400


def test_activity__rls__other_tenants_rows_invisible_in_raw_sql(tenant, other_tenant):
    ActivityFactory.create(agent=AgentFactory.create(tenant=tenant))
    ActivityFactory.create(agent=AgentFactory.create(tenant=other_tenant))
    MetricsFactory.create(agent=AgentFactory.create(tenant=other_tenant))
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id FROM agents_agentactivity")
        seen = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT count(*) FROM agents_agentmetricshourly")
        metrics = cursor.fetchone()[0]
    assert seen == {tenant.pk}
    assert metrics == 0


# --- Activity over HTTP ------------------------------------------------------------------------


def test_activity_api__runtime_posts__tenant_feed_and_agent_feed_list_it(as_user, tenant, owner):
    agent = AgentFactory.create(tenant=tenant)
    session = _started(tenant, 1, agent=agent)
    client = as_user(owner)
    response = client.post(
        a_url(tenant, agent, "activity"),
        {
            "type": "error",
            "summary": "Tool failed",
            "details": {"tool": "web.search"},
            "session_id": str(session.pk),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["session"] == str(session.pk)
    feed = client.get(t_url(tenant, "activity/")).json()
    assert [item["summary"] for item in feed["results"]] == ["Tool failed"]
    assert feed["results"][0]["details"] == {"tool": "web.search"}
    mine = client.get(a_url(tenant, agent, "activity")).json()
    assert [item["id"] for item in mine["results"]] == [response.json()["id"]]


def test_activity_api__filters_and_cursor(as_user, tenant, owner):
    agent, other = AgentFactory.create(tenant=tenant), AgentFactory.create(tenant=tenant)
    now = timezone.now()
    for n in range(5):
        ActivityFactory.create(agent=agent, type="message", created_at=now - timedelta(minutes=n))
    ActivityFactory.create(agent=agent, type="error", created_at=now - timedelta(days=2))
    ActivityFactory.create(agent=other, type="action", created_at=now)
    client = as_user(owner)
    errors = client.get(t_url(tenant, "activity/"), {"type": "error"}).json()["results"]
    assert [e["type"] for e in errors] == ["error"]
    recent = client.get(t_url(tenant, "activity/"), {"since": (now - timedelta(hours=1)).isoformat()}).json()
    assert len(recent["results"]) == 6
    by_agent = client.get(t_url(tenant, "activity/"), {"agent": str(other.pk)}).json()["results"]
    assert [item["agent"] for item in by_agent] == [str(other.pk)]
    page = client.get(t_url(tenant, "activity/"), {"page_size": 4}).json()
    assert len(page["results"]) == 4
    assert page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 3
    assert not rest["next"]
    ids = [i["id"] for i in page["results"] + rest["results"]]
    assert len(set(ids)) == 7
    bad = client.get(t_url(tenant, "activity/"), {"type": "shout"})
    assert bad.status_code == 400
    assert bad.json()["errors"]["type"]
    assert client.get(t_url(tenant, "activity/"), {"since": "yesterday"}).status_code == 400


def test_activity_api__other_tenants_agent__404(as_user, tenant, owner, other_tenant):
    theirs = AgentFactory.create(tenant=other_tenant)
    ActivityFactory.create(agent=theirs)
    client = as_user(owner)
    assert client.get(a_url(tenant, theirs, "activity")).status_code == 404
    assert (
        client.post(
            a_url(tenant, theirs, "activity"), {"type": "message", "summary": "x"}, format="json"
        ).status_code
        == 404
    )
    assert client.get(a_url(tenant, theirs, "metrics")).status_code == 404
    assert client.get(t_url(tenant, "activity/")).json()["results"] == []
    # And through their tenant's URL: not a member.
    assert client.get(a_url(other_tenant, theirs, "activity")).status_code == 403


def test_activity_api__member__sees_only_agents_of_their_team_or_shared(as_user, tenant, team, teammate):
    ours = AgentFactory.create(tenant=tenant, team=team)
    hidden = AgentFactory.create(tenant=tenant)
    ActivityFactory.create(agent=ours, summary="ours")
    ActivityFactory.create(agent=hidden, summary="hidden")
    client = as_user(teammate)
    assert [i["summary"] for i in client.get(t_url(tenant, "activity/")).json()["results"]] == ["ours"]
    assert client.get(a_url(tenant, hidden, "activity")).status_code == 404
    assert client.get(t_url(tenant, "activity/"), {"agent": str(hidden.pk)}).json()["results"] == []
    assert client.get(a_url(tenant, hidden, "metrics")).status_code == 404
    assert client.get(a_url(tenant, ours, "activity")).status_code == 200


def test_activity_api__viewer_reads_but_may_not_post(as_user, tenant, viewer):
    agent = AgentFactory.create(tenant=tenant)
    client = as_user(viewer)
    assert client.get(t_url(tenant, "activity/")).status_code == 200
    response = client.post(
        a_url(tenant, agent, "activity"), {"type": "message", "summary": "x"}, format="json"
    )
    assert response.status_code == 403


def test_activity_api__bad_body__400_with_codes(as_user, tenant, owner):
    agent = AgentFactory.create(tenant=tenant)
    client = as_user(owner)
    for body, field in (
        ({"type": "shout", "summary": "x"}, "type"),
        ({"type": "message"}, "summary"),
        ({"type": "message", "summary": "x", "tenant": "y"}, "tenant"),
        (
            {"type": "message", "summary": "x", "session_id": "00000000-0000-4000-8000-000000000000"},
            "session_id",
        ),
    ):
        response = client.post(a_url(tenant, agent, "activity"), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["errors"], response.json()


def test_activity_list__query_count_independent_of_rows(as_user, tenant, team, teammate):
    agent = AgentFactory.create(tenant=tenant, team=team)
    client = as_user(teammate)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(t_url(tenant, "activity/")).status_code == 200
        return len(queries)

    ActivityFactory.create_batch(2, agent=agent)
    count()  # warm: the content type guardian's visibility reads is cached after the first request
    few = count()
    ActivityFactory.create_batch(30, agent=agent)
    assert count() == few


# --- The hourly metrics roll-up ----------------------------------------------------------------

_DIRECT = """
SELECT agent_id, date_trunc('hour', started_at, 'UTC'), count(*),
       count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'cancelled'),
       round(avg(extract(epoch FROM ended_at - started_at) * 1000)),
       sum(input_tokens), sum(output_tokens), sum(provider_cost_usd), sum(credits_charged)
FROM agents_agentsession GROUP BY 1, 2
"""


def _metrics() -> dict[tuple[Any, datetime], tuple[Any, ...]]:
    with platform_bypass(reason="test", log=False):
        return {
            (m.agent_id, m.hour): (
                m.sessions,
                m.successes,
                m.failures,
                m.cancelled,
                m.avg_duration_ms,
                m.input_tokens,
                m.output_tokens,
                m.provider_cost_usd,
                m.credits_charged,
            )
            for m in AgentMetricsHourly.objects.all()
        }


def _generate(start: datetime, hours: int, n: int, seed: int = 13) -> None:
    rng = random.Random(seed)
    agents = [AgentFactory.create(tenant=TenantFactory.create()) for _ in range(2)]
    agents += [AgentFactory.create(tenant=agents[0].tenant)]
    for _ in range(n):
        started = start + timedelta(seconds=rng.randrange(hours * 3600))
        status = rng.choice(["completed", "completed", "failed", "cancelled", "running"])
        ended = None if status == "running" else started + timedelta(milliseconds=rng.randrange(100, 900_000))
        SessionFactory.create(
            agent=rng.choice(agents),
            status=status,
            started_at=started,
            ended_at=ended,
            input_tokens=rng.randrange(5000),
            output_tokens=rng.randrange(2000),
            provider_cost_usd=Decimal(rng.randrange(10**6)) / 10**8,
            credits_charged=Decimal(rng.randrange(10**6)) / 10**6,
        )


def test_metrics_rollup__equals_a_direct_aggregate__and_is_idempotent():
    start = datetime(2026, 11, 20, 0, tzinfo=UTC)
    _generate(start, hours=30, n=300)
    written, removed = metrics_rollup(start=start, end=start + 30 * H)
    with platform_bypass(reason="test", log=False), connection.cursor() as cursor:
        cursor.execute(_DIRECT)
        direct = {
            (row[0], row[1]): (*row[2:6], int(row[6]) if row[6] is not None else None, *row[7:])
            for row in cursor.fetchall()
        }
        stamps = dict(AgentMetricsHourly.objects.values_list("id", "updated_at"))
    assert written == len(direct) > 30
    assert removed == 0
    assert _metrics() == direct
    # Twice: no row rewritten, every row identical (its updated_at included).
    assert metrics_rollup(start=start, end=start + 30 * H) == (0, 0)
    with platform_bypass(reason="test", log=False):
        assert dict(AgentMetricsHourly.objects.values_list("id", "updated_at")) == stamps
    assert _metrics() == direct


def test_metrics_rollup__sessions_gone__their_hour_row_removed(tenant):
    agent = AgentFactory.create(tenant=tenant)
    hour = datetime(2026, 11, 21, 9, tzinfo=UTC)
    session = SessionFactory.create(
        agent=agent,
        started_at=hour + timedelta(minutes=5),
        status="completed",
        ended_at=hour + timedelta(minutes=6),
    )
    assert metrics_rollup(start=hour, end=hour + H) == (1, 0)
    with platform_bypass(reason="test", log=False):
        AgentSession.objects.filter(pk=session.pk).delete()
    assert metrics_rollup(start=hour, end=hour + H) == (0, 1)
    assert _metrics() == {}


def test_metrics_rollup_recent__long_session_ending_now__updates_its_start_hour(tenant):
    now = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
    agent = AgentFactory.create(tenant=tenant)
    long_ago = now - 5 * H
    session = SessionFactory.create(agent=agent, started_at=long_ago, status="running")
    metrics_rollup(start=long_ago, end=now)
    assert _metrics()[(agent.pk, long_ago.replace(minute=0))][:3] == (1, 0, 0)
    with platform_bypass(reason="test", log=False):
        AgentSession.objects.filter(pk=session.pk).update(
            status="completed", ended_at=now - timedelta(minutes=10)
        )
    metrics_rollup_recent(now=now)
    row = _metrics()[(agent.pk, long_ago.replace(minute=0))]
    assert row[:3] == (1, 1, 0)
    assert row[4] == 5 * 3600 * 1000 - 10 * 60 * 1000


def test_metrics_task__runs_the_recent_rollup(tenant):
    from agents.tasks import rollup_agent_metrics

    agent = AgentFactory.create(tenant=tenant)
    SessionFactory.create(agent=agent, started_at=timezone.now() - timedelta(minutes=1))
    assert rollup_agent_metrics.delay().get() == [1, 0]


def test_rollup_command__range_with_progress__and_bad_input():
    start = datetime(2026, 11, 20, 0, tzinfo=UTC)
    _generate(start, hours=48, n=60)
    out = StringIO()
    call_command("rollup_agent_metrics", "--from", "2026-11-20", "--to", "2026-11-21", stdout=out)
    assert "48 hours" in out.getvalue()
    assert "100%" in out.getvalue()
    rows = _metrics()
    assert sum(r[0] for r in rows.values()) == 60
    call_command(
        "rollup_agent_metrics", "--from", "2026-11-20T05", "--to", "2026-11-20T06", stdout=StringIO()
    )
    assert _metrics() == rows
    for args in (
        ("--from", "2026-13-01", "--to", "2026-11-21"),
        ("--from", "2026-11-21", "--to", "2026-11-20"),
    ):
        with pytest.raises(CommandError):
            call_command("rollup_agent_metrics", *args, stdout=StringIO())


def test_metrics_api__hourly_rows_in_range(as_user, tenant, owner):
    agent = AgentFactory.create(tenant=tenant)
    first = datetime(2026, 11, 20, 0, tzinfo=UTC)
    for n in range(5):
        MetricsFactory.create(agent=agent, hour=first + n * H, credits_charged=Decimal("1.5"))
    client = as_user(owner)
    response = client.get(
        a_url(tenant, agent, "metrics"), {"from": (first + H).isoformat(), "to": (first + 4 * H).isoformat()}
    )
    assert response.status_code == 200, response.content
    hours = response.json()["hours"]
    assert [h["hour"][:13] for h in hours] == ["2026-11-20T01", "2026-11-20T02", "2026-11-20T03"]
    assert hours[0]["credits_charged"] == "1.500000"
    assert hours[0]["sessions"] == 3
    too_long = client.get(
        a_url(tenant, agent, "metrics"), {"from": "2026-01-01T00:00Z", "to": "2026-03-01T00:00Z"}
    )
    assert too_long.status_code == 400
    backwards = client.get(
        a_url(tenant, agent, "metrics"), {"from": "2026-03-01T00:00Z", "to": "2026-01-01T00:00Z"}
    )
    assert backwards.status_code == 400
    assert client.get(a_url(tenant, agent, "metrics")).json()["hours"] == []  # the last 48 h: none


def test_metrics_api__query_count_independent_of_rows(as_user, tenant, owner):
    agent = AgentFactory.create(tenant=tenant)
    first = datetime(2026, 11, 20, 0, tzinfo=UTC)
    client = as_user(owner)
    params = {"from": first.isoformat(), "to": (first + 48 * H).isoformat()}

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(a_url(tenant, agent, "metrics"), params).status_code == 200
        return len(queries)

    MetricsFactory.create(agent=agent, hour=first)
    count()  # warm
    few = count()
    for n in range(1, 40):
        MetricsFactory.create(agent=agent, hour=first + n * H)
    assert count() == few
    assert len(client.get(a_url(tenant, agent, "metrics"), params).json()["hours"]) == 40
