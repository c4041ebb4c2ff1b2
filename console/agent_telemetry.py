"""The agent page's telemetry blocks (templates/console/agents/_activity.html and _metrics.html):
the latest activity of the agent and its hourly metrics over the last 48 hours as server-drawn
charts. Two queries, whatever the number of rows."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from agents import selectors
from agents.models import Agent
from agents.services.telemetry import hour_floor
from console import charts
from core.access import TenantAccess

ACTIVITY_SHOWN = 20
METRICS_HOURS = 48


def telemetry_context(access: TenantAccess, agent: Agent) -> dict[str, Any]:
    """`activity` (newest first), `metrics_chart` (sessions per hour, failures drawn over them),
    `cost_chart` (credits per hour) and `metrics_totals` for the last 48 hours."""
    activity = list(selectors.activity_list(access=access, filters={"agent": agent.pk})[:ACTIVITY_SHOWN])
    end = hour_floor(timezone.now()) + timedelta(hours=1)  # the current hour included
    series = selectors.metrics_series(agent=agent, end=end, hours=METRICS_HOURS)
    tz = zoneinfo.ZoneInfo(access.tenant.timezone or "UTC")
    zero = Decimal(0)
    sessions = [(hour, Decimal(row.sessions) if row else zero) for hour, row in series]
    failures = [Decimal(row.failures) if row else zero for _, row in series]
    credits = [(hour, row.credits_charged if row else zero) for hour, row in series]
    rows = [row for _, row in series if row is not None]
    return {
        "activity": activity,
        "metrics_chart": charts.hourly_bars(
            sessions, unit="sessions", tz=tz, overlay=failures, overlay_unit="failed"
        ),
        "cost_chart": charts.hourly_bars(credits, unit="credits", tz=tz),
        "metrics_totals": {
            "sessions": sum(r.sessions for r in rows),
            "successes": sum(r.successes for r in rows),
            "failures": sum(r.failures for r in rows),
            "credits": sum((r.credits_charged for r in rows), zero),
            "tokens": sum(r.input_tokens + r.output_tokens for r in rows),
        },
        "metrics_hours": METRICS_HOURS,
    }
