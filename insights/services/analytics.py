"""The daily analytics roll-up: one SQL aggregate per day over the ledger and the memberships,
upserted per tenant and for the whole platform (tenant NULL). Re-running a day rewrites the same
rows with the same values, so any date range can be rolled up again.

Sessions fields stay 0 until the roll-up reads agents' session table (left for a later step).
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
           COUNT(DISTINCT t.actor_user_id) FILTER (WHERE t.kind = 'usage') AS active_users,
           COALESCE(SUM(t.input_tokens) FILTER (WHERE t.kind = 'usage'), 0) AS input_tokens,
           COALESCE(SUM(t.output_tokens) FILTER (WHERE t.kind = 'usage'), 0) AS output_tokens,
           COALESCE(SUM(t.provider_cost_usd) FILTER (WHERE t.kind = 'usage'), 0) AS provider_cost_usd,
           COALESCE(-SUM(t.amount) FILTER (WHERE t.kind = 'usage'), 0) AS credits_charged,
           COALESCE(SUM(t.amount) FILTER (WHERE t.kind IN ('grant', 'topup')), 0) AS credits_granted
    FROM billing_credittransaction t, bounds b
    WHERE t.created_at >= b.lo AND t.created_at < b.hi
    GROUP BY GROUPING SETS ((t.tenant_id), ())
),
joined AS (
    SELECT COALESCE(m.tenant_id::text, '') AS k, COUNT(*) AS new_users
    FROM tenants_membership m, bounds b
    WHERE m.joined_at >= b.lo AND m.joined_at < b.hi
    GROUP BY GROUPING SETS ((m.tenant_id), ())
),
rows AS (
    SELECT NULLIF(COALESCE(l.k, j.k), '')::uuid AS tenant_id,
           COALESCE(l.active_users, 0) AS active_users, COALESCE(j.new_users, 0) AS new_users,
           COALESCE(l.input_tokens, 0) AS input_tokens, COALESCE(l.output_tokens, 0) AS output_tokens,
           COALESCE(l.provider_cost_usd, 0) AS provider_cost_usd,
           COALESCE(l.credits_charged, 0) AS credits_charged,
           COALESCE(l.credits_granted, 0) AS credits_granted
    FROM ledger l FULL JOIN joined j ON l.k = j.k
)
INSERT INTO insights_dailyanalytics (
    id, created_at, updated_at, date, tenant_id, active_users, new_users, sessions_started,
    sessions_completed, sessions_failed, input_tokens, output_tokens, provider_cost_usd,
    credits_charged, credits_granted, errors, avg_session_seconds)
SELECT gen_random_uuid(), now(), now(), %(day)s, tenant_id, active_users, new_users, 0, 0, 0,
       input_tokens, output_tokens, provider_cost_usd, credits_charged, credits_granted, 0, 0
FROM rows
ON CONFLICT (date, tenant_id) DO UPDATE SET
    updated_at = now(), active_users = EXCLUDED.active_users, new_users = EXCLUDED.new_users,
    input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
    provider_cost_usd = EXCLUDED.provider_cost_usd, credits_charged = EXCLUDED.credits_charged,
    credits_granted = EXCLUDED.credits_granted
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
