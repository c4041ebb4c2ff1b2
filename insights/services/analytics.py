"""The daily analytics roll-up: one SQL statement per day over the ledger, agents' sessions and
tasks, and the memberships, upserted per tenant and for the whole platform (tenant NULL).
Re-running a day rewrites the same rows with the same values, so any date range can be rolled up
again.

What each field counts, for one UTC day:
- ledger entries by when the usage happened (`occurred_at`; a grant's is its posting time):
  tokens and provider cost of usage and of unlimited accounts' bypass entries (the platform
  pays the provider either way), credits charged (usage), credits granted (grants, top-ups);
- sessions started (started_at in the day), completed and failed (ended_at in the day), the
  average length of the sessions that ended that day;
- errors: sessions that failed plus tasks that failed for good (finished_at in the day);
- active users: distinct users whose usage was charged or who started a session; new users:
  memberships joined.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction

from core.errors import InvalidInput
from core.tenancy import platform_bypass

_ROLLUP = """
WITH bounds AS (SELECT %(start)s::timestamptz AS lo, %(end)s::timestamptz AS hi),
ledger AS (
    SELECT COALESCE(t.tenant_id::text, '') AS k,
           COALESCE(SUM(t.input_tokens) FILTER (WHERE t.kind IN ('usage', 'bypass')), 0) AS input_tokens,
           COALESCE(SUM(t.output_tokens) FILTER (WHERE t.kind IN ('usage', 'bypass')), 0) AS output_tokens,
           COALESCE(SUM(t.provider_cost_usd) FILTER (WHERE t.kind IN ('usage', 'bypass')), 0)
               AS provider_cost_usd,
           COALESCE(-SUM(t.amount) FILTER (WHERE t.kind = 'usage'), 0) AS credits_charged,
           COALESCE(SUM(t.amount) FILTER (WHERE t.kind IN ('grant', 'topup')), 0) AS credits_granted
    FROM billing_credittransaction t, bounds b
    WHERE t.occurred_at >= b.lo AND t.occurred_at < b.hi
    GROUP BY GROUPING SETS ((t.tenant_id), ())
),
sessions AS (
    SELECT COALESCE(s.tenant_id::text, '') AS k,
           COUNT(*) FILTER (WHERE s.started_at >= b.lo AND s.started_at < b.hi) AS started,
           COUNT(*) FILTER (WHERE s.status = 'completed' AND s.ended_at >= b.lo AND s.ended_at < b.hi)
               AS completed,
           COUNT(*) FILTER (WHERE s.status = 'failed' AND s.ended_at >= b.lo AND s.ended_at < b.hi) AS failed,
           COALESCE(AVG(EXTRACT(EPOCH FROM s.ended_at - s.started_at))
               FILTER (WHERE s.ended_at >= b.lo AND s.ended_at < b.hi), 0) AS avg_seconds
    FROM agents_agentsession s, bounds b
    WHERE (s.started_at >= b.lo AND s.started_at < b.hi) OR (s.ended_at >= b.lo AND s.ended_at < b.hi)
    GROUP BY GROUPING SETS ((s.tenant_id), ())
),
failed_tasks AS (
    SELECT COALESCE(q.tenant_id::text, '') AS k, COUNT(*) AS failed
    FROM agents_agenttask q, bounds b
    WHERE q.status = 'failed' AND q.finished_at >= b.lo AND q.finished_at < b.hi
    GROUP BY GROUPING SETS ((q.tenant_id), ())
),
actors AS (
    SELECT COALESCE(a.tenant_id::text, '') AS k, COUNT(DISTINCT a.user_id) AS active_users
    FROM (
        SELECT t.tenant_id, t.actor_user_id AS user_id
        FROM billing_credittransaction t, bounds b
        WHERE t.kind IN ('usage', 'bypass') AND t.actor_user_id IS NOT NULL
          AND t.occurred_at >= b.lo AND t.occurred_at < b.hi
        UNION ALL
        SELECT s.tenant_id, s.initiated_by_id
        FROM agents_agentsession s, bounds b
        WHERE s.initiated_by_id IS NOT NULL AND s.started_at >= b.lo AND s.started_at < b.hi
    ) a
    GROUP BY GROUPING SETS ((a.tenant_id), ())
),
joined AS (
    SELECT COALESCE(m.tenant_id::text, '') AS k, COUNT(*) AS new_users
    FROM tenants_membership m, bounds b
    WHERE m.joined_at >= b.lo AND m.joined_at < b.hi
    GROUP BY GROUPING SETS ((m.tenant_id), ())
),
keys AS (
    SELECT k FROM ledger UNION SELECT k FROM sessions UNION SELECT k FROM failed_tasks
    UNION SELECT k FROM actors UNION SELECT k FROM joined
),
rows AS (
    SELECT NULLIF(keys.k, '')::uuid AS tenant_id,
           COALESCE(a.active_users, 0) AS active_users, COALESCE(j.new_users, 0) AS new_users,
           COALESCE(s.started, 0) AS sessions_started, COALESCE(s.completed, 0) AS sessions_completed,
           COALESCE(s.failed, 0) AS sessions_failed,
           COALESCE(l.input_tokens, 0) AS input_tokens, COALESCE(l.output_tokens, 0) AS output_tokens,
           COALESCE(l.provider_cost_usd, 0) AS provider_cost_usd,
           COALESCE(l.credits_charged, 0) AS credits_charged,
           COALESCE(l.credits_granted, 0) AS credits_granted,
           COALESCE(s.failed, 0) + COALESCE(f.failed, 0) AS errors,
           ROUND(COALESCE(s.avg_seconds, 0)::numeric, 2) AS avg_session_seconds
    FROM keys
    LEFT JOIN ledger l ON l.k = keys.k
    LEFT JOIN sessions s ON s.k = keys.k
    LEFT JOIN failed_tasks f ON f.k = keys.k
    LEFT JOIN actors a ON a.k = keys.k
    LEFT JOIN joined j ON j.k = keys.k
)
INSERT INTO insights_dailyanalytics (
    id, created_at, updated_at, date, tenant_id, active_users, new_users, sessions_started,
    sessions_completed, sessions_failed, input_tokens, output_tokens, provider_cost_usd,
    credits_charged, credits_granted, errors, avg_session_seconds)
SELECT gen_random_uuid(), now(), now(), %(day)s, tenant_id, active_users, new_users, sessions_started,
       sessions_completed, sessions_failed, input_tokens, output_tokens, provider_cost_usd,
       credits_charged, credits_granted, errors, avg_session_seconds
FROM rows
ON CONFLICT (date, tenant_id) DO UPDATE SET
    updated_at = now(), active_users = EXCLUDED.active_users, new_users = EXCLUDED.new_users,
    sessions_started = EXCLUDED.sessions_started, sessions_completed = EXCLUDED.sessions_completed,
    sessions_failed = EXCLUDED.sessions_failed,
    input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
    provider_cost_usd = EXCLUDED.provider_cost_usd, credits_charged = EXCLUDED.credits_charged,
    credits_granted = EXCLUDED.credits_granted, errors = EXCLUDED.errors,
    avg_session_seconds = EXCLUDED.avg_session_seconds
"""


def analytics_rollup(*, day: date) -> None:
    """Recompute one UTC day's rows (every tenant with activity, and the platform's)."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    with (
        transaction.atomic(),
        platform_bypass(reason=f"insights: analytics roll-up {day}", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute(_ROLLUP, {"start": start, "end": start + timedelta(days=1), "day": day})


def analytics_rollup_range(*, start: date, end: date, progress: Callable[[int], None] | None = None) -> int:
    """Recompute every day from `start` to `end` inclusive, each in its own transaction (a failure
    keeps the days before it; re-running is safe). Returns the number of days rolled up."""
    if end < start:
        raise InvalidInput("The range ends before it starts.", code="invalid_range")
    days = (end - start).days + 1
    for n in range(days):
        analytics_rollup(day=start + timedelta(days=n))
        if progress is not None:
            progress(n + 1)
    return days


def analytics_rollup_recent(*, now: datetime | None = None) -> list[date]:
    """Yesterday and today (UTC): what the periodic task keeps current. Yesterday too, because
    usage reported late or a run missed around midnight still lands in it."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    days = [today - timedelta(days=1), today]
    for day in days:
        analytics_rollup(day=day)
    return days
