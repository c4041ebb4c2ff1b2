"""The admin's index: a dashboard of the whole platform (UNFOLD["DASHBOARD_CALLBACK"]).

Its money and activity come from insights' daily analytics (the roll-up's rows, the platform's
tenant = null row of each UTC day and the tenants' rows for the top tenants), so the index reads
30 small rows instead of aggregating the ledger: credits charged, provider cost, margin, sessions
and errors, and the 30-day charts. What the roll-up has no field for is read where it lives,
through billing's platform-wide selectors: tenants by status and plan, the low balances now, and
active accounts (people seen in the last 30 days, counted once however many days they came).

It lives in insights, the layer above billing, because it reads both. Five queries, whatever the
number of tenants, days or ledger entries; the admin runs them under the platform bypass. Days
not rolled up yet (the roll-up runs every 15 minutes) show as zeros.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.http import HttpRequest

from billing import selectors as billing_selectors
from billing.admin.common import credits_text
from core.admin_bypass import is_admin_platform_staff
from insights import selectors
from insights.models import DailyAnalytics
from tenants.models import PlanCode, TenantStatus

DAYS = 30
LOW_BALANCE_ROWS = 10
TOP_TENANTS = 5


def _chart(labels: list[str], datasets: list[tuple[str, list[Decimal], str]]) -> str:
    return json.dumps(
        {
            "labels": labels,
            "datasets": [
                {
                    "label": label,
                    "data": [float(v) for v in values],
                    "borderColor": color,
                    "backgroundColor": color,
                }
                for label, values, color in datasets
            ],
        }
    )


def _period(days: int, today: date | None = None) -> tuple[date, date]:
    end = today or datetime.now(UTC).date()
    return end - timedelta(days=days - 1), end


def dashboard(*, days: int = DAYS, today: date | None = None) -> dict[str, Any]:
    """What the dashboard shows: five queries."""
    counts = billing_selectors.platform_tenant_counts()
    by_status = {s.value: 0 for s in TenantStatus}
    by_plan = {p.value: 0 for p in PlanCode}
    for row in counts:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["count"]
        by_plan[row["plan"]] = by_plan.get(row["plan"], 0) + row["count"]
    start, end = _period(days, today)
    found = {row.date: row for row in selectors.daily_analytics_list(tenant=None, start=start, end=end)}
    series = [
        found.get(start + timedelta(days=n)) or DailyAnalytics(date=start + timedelta(days=n))
        for n in range(days)
    ]
    charged = sum((d.credits_charged for d in series), Decimal(0))
    cost = sum((d.provider_cost_usd for d in series), Decimal(0))
    low = billing_selectors.platform_low_balances(limit=LOW_BALANCE_ROWS)
    top = selectors.daily_analytics_top_tenants(start=start, end=end, limit=TOP_TENANTS)
    labels = [d.date.strftime("%b %d") for d in series]
    return {
        "days": days,
        "tenants_total": sum(by_status.values()),
        "tenants_by_status": [(TenantStatus(k).label, v) for k, v in by_status.items()],
        "tenants_by_plan": [
            (PlanCode(k).label if k in PlanCode.values else k, v) for k, v in by_plan.items()
        ],
        "users": billing_selectors.platform_active_users(days=days),
        "credits_charged": credits_text(charged),
        "provider_cost": credits_text(cost),
        "margin": credits_text(charged - cost),
        "margin_percent": f"{(charged - cost) / charged * 100:.0f}%" if charged else "—",
        "sessions_started": sum(d.sessions_started for d in series),
        "sessions_failed": sum(d.sessions_failed for d in series),
        "errors": sum(d.errors for d in series),
        "low_balances": low,
        "low_balance_count": f"{len(low)}+" if len(low) >= LOW_BALANCE_ROWS else str(len(low)),
        "top_tenants": [{**row, "credits": row["credits_charged"]} for row in top],
        "spend_chart": _chart(
            labels,
            [
                ("Credits charged", [d.credits_charged for d in series], "var(--color-primary-600)"),
                ("Provider cost (USD)", [d.provider_cost_usd for d in series], "var(--color-base-400)"),
            ],
        ),
        "margin_chart": _chart(
            labels, [("Margin", [d.margin_usd for d in series], "var(--color-primary-400)")]
        ),
        "sessions_chart": _chart(
            labels,
            [
                (
                    "Sessions started",
                    [Decimal(d.sessions_started) for d in series],
                    "var(--color-primary-600)",
                ),
                ("Errors", [Decimal(d.errors) for d in series], "var(--color-base-400)"),
            ],
        ),
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """UNFOLD's DASHBOARD_CALLBACK: the dashboard for platform staff (the index is theirs only)."""
    if is_admin_platform_staff(request.user):
        context["dashboard"] = dashboard()
    return context
