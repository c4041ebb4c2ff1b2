"""The admin's index: a dashboard of the whole platform (UNFOLD["DASHBOARD_CALLBACK"]).

KPIs (tenants by status and plan, active users, the last 30 days' credits charged, provider
cost and margin, low balances) and 30-day charts drawn by unfold's chart components (Chart.js,
shipped inside the django-unfold package: no CDN). Every number comes from billing's
platform-wide selectors, one query each, whatever the number of tenants or ledger entries; the
admin runs them under the platform bypass.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.http import HttpRequest

from billing import selectors
from billing.admin.common import credits_text
from core.admin_bypass import is_admin_platform_staff
from tenants.models import PlanCode, TenantStatus

DAYS = 30
LOW_BALANCE_ROWS = 10


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


def dashboard(*, days: int = DAYS) -> dict[str, Any]:
    """What the dashboard shows: five queries."""
    counts = selectors.platform_tenant_counts()
    by_status = {s.value: 0 for s in TenantStatus}
    by_plan = {p.value: 0 for p in PlanCode}
    for row in counts:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["count"]
        by_plan[row["plan"]] = by_plan.get(row["plan"], 0) + row["count"]
    series = selectors.platform_spend_by_day(days=days)
    charged = sum((d.credits for d in series), Decimal(0))
    cost = sum((d.provider_cost_usd for d in series), Decimal(0))
    low = selectors.platform_low_balances(limit=LOW_BALANCE_ROWS)
    labels = [d.day.strftime("%b %d") for d in series]
    return {
        "days": days,
        "tenants_total": sum(by_status.values()),
        "tenants_by_status": [(TenantStatus(k).label, v) for k, v in by_status.items()],
        "tenants_by_plan": [
            (PlanCode(k).label if k in PlanCode.values else k, v) for k, v in by_plan.items()
        ],
        "users": selectors.platform_active_users(days=days),
        "credits_charged": credits_text(charged),
        "provider_cost": credits_text(cost),
        "margin": credits_text(charged - cost),
        "margin_percent": f"{(charged - cost) / charged * 100:.0f}%" if charged else "—",
        "low_balances": low,
        "low_balance_count": f"{len(low)}+" if len(low) >= LOW_BALANCE_ROWS else str(len(low)),
        "top_tenants": selectors.platform_top_tenants(
            start=selectors.platform_period(days=days)[0], end=selectors.platform_period(days=days)[1]
        ),
        "spend_chart": _chart(
            labels,
            [
                ("Credits charged", [d.credits for d in series], "var(--color-primary-600)"),
                ("Provider cost (USD)", [d.provider_cost_usd for d in series], "var(--color-base-400)"),
            ],
        ),
        "margin_chart": _chart(
            labels, [("Margin", [d.margin_usd for d in series], "var(--color-primary-400)")]
        ),
    }


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """UNFOLD's DASHBOARD_CALLBACK: the dashboard for platform staff (the index is theirs only)."""
    if is_admin_platform_staff(request.user):
        context["dashboard"] = dashboard()
    return context
