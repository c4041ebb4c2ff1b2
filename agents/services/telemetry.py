"""Telemetry writes: the activity feed (pushed live to the tenant's stream) and the hourly agent
metrics roll-up from the sessions table.

Activity is runtime traffic, like usage: its row is its record (no audit entry per item).

The roll-up is one SQL statement per range (`_ROLLUP`): every (agent, UTC hour) with sessions
started in it is aggregated and upserted; a row of an hour in the range that no longer has
sessions is removed; a row whose figures did not change is not written at all, so running it
twice leaves identical rows (updated_at included). A session belongs to the hour it started in;
its outcome and duration are counted once it ends, which the periodic task catches up on by also
recomputing the start hours of every session that ended since its last window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from agents.errors import invalid
from agents.models import ActivityType, Agent, AgentActivity, AgentSession
from core import clock, stream
from core.errors import InvalidInput
from core.tenancy import platform_bypass

HOUR = timedelta(hours=1)
MAX_ROLLUP_HOURS_PER_STATEMENT = 24  # the command's progress step and transaction size


def activity_event(activity: AgentActivity) -> dict[str, Any]:
    """The stream's `activity` event: what a feed item shows, never its details (every connected
    member of the tenant receives it; the consumer filters by `agent_id` for members who may not
    see every agent)."""
    return {
        "id": str(activity.pk),
        "agent_id": str(activity.agent_id),
        "session_id": str(activity.session_id) if activity.session_id else None,
        "type": activity.type,
        "summary": activity.summary,
        "created_at": activity.created_at.isoformat(),
    }


@transaction.atomic
def activity_record(
    *,
    agent: Agent,
    type: str,
    summary: str,
    details: dict[str, Any] | None = None,
    session: AgentSession | None = None,
    created_at: datetime | None = None,
) -> AgentActivity:
    """Add an item to an agent's feed and push it to the tenant's stream after commit."""
    if type not in ActivityType.values:
        raise invalid("type", "One of message, action, error.")
    if session is not None and session.agent_id != agent.pk:
        raise invalid("session_id", "That session is not this agent's.")
    now = clock.now()
    if created_at is not None and created_at > now + timedelta(minutes=5):
        raise invalid("created_at", "In the future.")
    activity = AgentActivity.objects.create(
        tenant_id=agent.tenant_id,
        agent=agent,
        session=session,
        type=type,
        summary=summary[:500],
        details=details or {},
        created_at=created_at or now,
    )
    stream.publish(agent.tenant_id, "activity", activity_event(activity))
    return activity


def session_activity(session: AgentSession) -> AgentActivity:
    """The feed item of a session that ended (completed: an action; failed: an error)."""
    seconds = f" in {session.duration_ms / 1000:.1f} s" if session.duration_ms is not None else ""
    what = "Root session" if session.parent_id is None else f"Session at depth {session.depth}"
    if session.status == "failed":
        return activity_record(
            agent=session.agent,
            session=session,
            type=ActivityType.ERROR,
            summary=f"{what} failed{seconds}: {session.error[:300]}",
            details={"status": session.status, "duration_ms": session.duration_ms},
        )
    return activity_record(
        agent=session.agent,
        session=session,
        type=ActivityType.ACTION,
        summary=f"{what} {session.status}{seconds}",
        details={
            "status": session.status,
            "duration_ms": session.duration_ms,
            "credits_charged": str(session.credits_charged),
        },
    )


# --- The hourly metrics roll-up ----------------------------------------------------------------

# hours: the UTC hours to recompute, [lo, hi) and, when `since` is given, the start hours of the
# sessions that ended since then (their outcome changed an hour already rolled up).
_ROLLUP = """
WITH hours AS (
    SELECT h FROM generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz - interval '1 hour',
                                  interval '1 hour') AS h
    UNION
    SELECT date_trunc('hour', s.started_at, 'UTC') FROM agents_agentsession s
    WHERE %(since)s::timestamptz IS NOT NULL AND s.ended_at >= %(since)s::timestamptz
),
span AS (SELECT min(h) AS lo, max(h) + interval '1 hour' AS hi FROM hours),
agg AS (
    SELECT s.tenant_id, s.agent_id, date_trunc('hour', s.started_at, 'UTC') AS hour,
           count(*) AS sessions,
           count(*) FILTER (WHERE s.status = 'completed') AS successes,
           count(*) FILTER (WHERE s.status = 'failed') AS failures,
           count(*) FILTER (WHERE s.status = 'cancelled') AS cancelled,
           round(avg(s.duration_ms))::bigint AS avg_duration_ms,
           sum(s.input_tokens) AS input_tokens, sum(s.output_tokens) AS output_tokens,
           sum(s.provider_cost_usd) AS provider_cost_usd, sum(s.credits_charged) AS credits_charged
    FROM agents_agentsession s, span
    WHERE s.started_at >= span.lo AND s.started_at < span.hi
      AND date_trunc('hour', s.started_at, 'UTC') IN (SELECT h FROM hours)
    GROUP BY 1, 2, 3
),
gone AS (
    DELETE FROM agents_agentmetricshourly m
    WHERE m.hour IN (SELECT h FROM hours)
      AND NOT EXISTS (SELECT 1 FROM agg WHERE agg.agent_id = m.agent_id AND agg.hour = m.hour)
    RETURNING 1
),
written AS (
    INSERT INTO agents_agentmetricshourly AS m (
        id, created_at, updated_at, tenant_id, agent_id, hour, sessions, successes, failures,
        cancelled, avg_duration_ms, input_tokens, output_tokens, provider_cost_usd, credits_charged)
    SELECT gen_random_uuid(), now(), now(), tenant_id, agent_id, hour, sessions, successes, failures,
           cancelled, avg_duration_ms, input_tokens, output_tokens, provider_cost_usd, credits_charged
    FROM agg
    ON CONFLICT (agent_id, hour) DO UPDATE SET
        updated_at = now(), sessions = EXCLUDED.sessions, successes = EXCLUDED.successes,
        failures = EXCLUDED.failures, cancelled = EXCLUDED.cancelled,
        avg_duration_ms = EXCLUDED.avg_duration_ms, input_tokens = EXCLUDED.input_tokens,
        output_tokens = EXCLUDED.output_tokens, provider_cost_usd = EXCLUDED.provider_cost_usd,
        credits_charged = EXCLUDED.credits_charged
    -- Unchanged figures are not rewritten: a second run leaves the rows exactly as they were.
    WHERE (m.sessions, m.successes, m.failures, m.cancelled, m.avg_duration_ms, m.input_tokens,
           m.output_tokens, m.provider_cost_usd, m.credits_charged)
          IS DISTINCT FROM
          (EXCLUDED.sessions, EXCLUDED.successes, EXCLUDED.failures, EXCLUDED.cancelled,
           EXCLUDED.avg_duration_ms, EXCLUDED.input_tokens, EXCLUDED.output_tokens,
           EXCLUDED.provider_cost_usd, EXCLUDED.credits_charged)
    RETURNING 1
)
SELECT (SELECT count(*) FROM written), (SELECT count(*) FROM gone)
"""


def hour_floor(moment: datetime) -> datetime:
    """The UTC hour `moment` falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def metrics_rollup(*, start: datetime, end: datetime, ended_since: datetime | None = None) -> tuple[int, int]:
    """Recompute every agent's hourly rows for the UTC hours in [start, end) (and, with
    `ended_since`, the start hours of sessions that ended since then), every tenant's in one
    statement under the platform bypass. Returns (rows written, rows removed)."""
    lo, hi = hour_floor(start), hour_floor(end)
    if hi < end:
        hi += HOUR  # a partial last hour is included
    if hi <= lo:
        raise InvalidInput("The range ends before it starts.", code="invalid_range")
    with (
        transaction.atomic(),
        platform_bypass(reason="agents: hourly metrics roll-up", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute(_ROLLUP, {"lo": lo, "hi": hi, "since": ended_since})
        written, removed = cursor.fetchone()
    return int(written), int(removed)


def metrics_rollup_range(
    *, start: datetime, end: datetime, progress: Callable[[int], None] | None = None
) -> int:
    """Recompute [start, end) a day at a time, each in its own transaction (a failure keeps the
    days before it; re-running is safe). Returns the number of hours rolled up."""
    lo, hi = hour_floor(start), hour_floor(end)
    if hi < end:
        hi += HOUR
    if hi <= lo:
        raise InvalidInput("The range ends before it starts.", code="invalid_range")
    step = HOUR * MAX_ROLLUP_HOURS_PER_STATEMENT
    cursor, done = lo, 0
    while cursor < hi:
        upper = min(cursor + step, hi)
        metrics_rollup(start=cursor, end=upper)
        done += int((upper - cursor) / HOUR)
        cursor = upper
        if progress is not None:
            progress(done)
    return done


def metrics_rollup_recent(*, now: datetime | None = None) -> tuple[int, int]:
    """What the hourly task keeps current: the last two hours (this one and the one before), and
    the start hours of sessions that ended in them (a long run's outcome lands in its start hour)."""
    current = hour_floor(now or timezone.now())
    since = current - HOUR
    return metrics_rollup(start=since, end=current + HOUR, ended_since=since)
