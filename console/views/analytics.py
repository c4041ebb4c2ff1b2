"""Daily analytics in charts: a tenant's (`/t/<id>/analytics/`, analytics:read) and the whole
platform's (`/platform/analytics/`, platform staff, with the top tenants of the period).

Both read the rows of insights' daily roll-up (`insights.selectors.daily_analytics_list`: one
query, whatever the period) over a chosen period of UTC days (the roll-up's days; the last 30 by
default), fill the days without a row with zeros, and draw one server-side SVG chart a figure
(console.charts): active users, sessions started, completed and failed, tokens, provider cost,
credits charged, margin, errors, average session length; the numbers below as a table.

Margin is credits charged less provider cost, in US dollars: billing prices a credit at one US
dollar of provider cost times the markup (billing.selectors.PlatformDay), so a credit converts to
one dollar. A day whose margin is negative draws no bar (the table shows its value).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from console import charts
from console.access import render_page, tenant_page
from console.formatting import amount, usd
from console.forms_insights import PERIODS, AnalyticsPeriodForm
from console.views.platform import platform_page
from core.access import TenantAccess
from core.tenancy import platform_bypass
from insights import selectors
from insights.models import DailyAnalytics

TOP_TENANTS = 10


def _count(value: Decimal) -> str:
    return f"{int(value):,}"


def _seconds(value: Decimal) -> str:
    return f"{value:,.1f} s"


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str
    value: Callable[[DailyAnalytics], Decimal]
    fmt: Callable[[Decimal], str]


METRICS: tuple[Metric, ...] = (
    Metric("active_users", "Active users", "users", lambda r: Decimal(r.active_users), _count),
    Metric("sessions_started", "Sessions started", "sessions", lambda r: Decimal(r.sessions_started), _count),
    Metric(
        "sessions_completed",
        "Sessions completed",
        "sessions",
        lambda r: Decimal(r.sessions_completed),
        _count,
    ),
    Metric("sessions_failed", "Sessions failed", "sessions", lambda r: Decimal(r.sessions_failed), _count),
    Metric(
        "tokens",
        "Tokens (input and output)",
        "tokens",
        lambda r: Decimal(r.input_tokens + r.output_tokens),
        _count,
    ),
    Metric("provider_cost_usd", "Provider cost", "US dollars", lambda r: r.provider_cost_usd, usd),
    Metric("credits_charged", "Credits charged", "credits", lambda r: r.credits_charged, amount),
    Metric(
        "margin_usd", "Margin (credits charged less provider cost)", "US dollars", lambda r: r.margin_usd, usd
    ),
    Metric("errors", "Errors (failed sessions and tasks)", "errors", lambda r: Decimal(r.errors), _count),
    Metric(
        "avg_session_seconds", "Average session length", "seconds", lambda r: r.avg_session_seconds, _seconds
    ),
)


@dataclass(frozen=True)
class Chart:
    """A console.charts.BarChart with its figures written for people (counts without decimals,
    dollars with their sign)."""

    metric: Metric
    chart: charts.BarChart
    bars: list[tuple[charts.Bar, str]]  # each bar with its tooltip
    figures: list[tuple[date, str]]
    total: str


def _chart(metric: Metric, days: Sequence[DailyAnalytics]) -> Chart:
    points = [(row.date, metric.value(row)) for row in days]
    drawn = charts.daily_bars(points, unit=metric.unit)
    labels = [f"{day.day} {day:%b}: {metric.fmt(value)} {metric.unit}" for day, value in points]
    total = sum((value for _, value in points), Decimal(0))
    if metric.key in ("avg_session_seconds", "active_users"):
        shown = [value for _, value in points if value]
        total = sum(shown, Decimal(0)) / len(shown) if shown else Decimal(0)
    return Chart(
        metric=metric,
        chart=drawn,
        bars=list(zip(drawn.bars, labels, strict=True)),
        figures=[(day, metric.fmt(value)) for day, value in points],
        total=metric.fmt(total),
    )


def _every_day(rows: list[DailyAnalytics], start: date, end: date, tenant_id: Any) -> list[DailyAnalytics]:
    """One row a day from start to end, zeros where the roll-up wrote none (no activity)."""
    found = {row.date: row for row in rows}
    return [
        found.get(start + timedelta(days=n))
        or DailyAnalytics(date=start + timedelta(days=n), tenant_id=tenant_id)
        for n in range((end - start).days + 1)
    ]


def _totals(days: list[DailyAnalytics]) -> dict[str, Any]:
    charged = sum((d.credits_charged for d in days), Decimal(0))
    cost = sum((d.provider_cost_usd for d in days), Decimal(0))
    active = [d.active_users for d in days if d.active_users]
    return {
        "credits_charged": charged,
        "provider_cost_usd": cost,
        "margin_usd": charged - cost,
        "margin_share": (charged - cost) / charged * 100 if charged else None,
        "sessions_started": sum(d.sessions_started for d in days),
        "sessions_failed": sum(d.sessions_failed for d in days),
        "errors": sum(d.errors for d in days),
        "active_users_peak": max(active, default=0),
        "rolled_up_at": max((d.updated_at for d in days if d.updated_at), default=None),
    }


def _period(request: HttpRequest) -> AnalyticsPeriodForm:
    given = {k: request.GET[k][:20] for k in ("start", "end") if request.GET.get(k)}
    today = datetime.now(UTC).date()
    return AnalyticsPeriodForm(given or None, today=today)


def _quick_links(today: date) -> list[tuple[str, str]]:
    return [
        (f"Last {n} days", urlencode({"start": str(today - timedelta(days=n - 1)), "end": str(today)}))
        for n in PERIODS
    ]


def _analytics_context(
    form: AnalyticsPeriodForm, rows: list[DailyAnalytics], tenant_id: Any
) -> dict[str, Any]:
    start, end = form.period()
    days = _every_day(rows, start, end, tenant_id)
    return {
        "form": form,
        "start": start,
        "end": end,
        "span": len(days),
        "quick": _quick_links(form.today),
        "charts": [_chart(metric, days) for metric in METRICS],
        "days": list(reversed(days)),
        "has_rows": bool(rows),
        "totals": _totals(days),
    }


@tenant_page("analytics:read")
def analytics(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's figures by day over the chosen period: one query for the rows."""
    form = _period(request)
    start, end = form.period()
    rows = list(selectors.daily_analytics_list(tenant=access.tenant, start=start, end=end))
    context = _analytics_context(form, rows, access.tenant.pk)
    status = 400 if form.errors else 200
    return render_page(request, "console/insights/analytics.html", context, access=access, status=status)


@platform_page()
@require_GET
def platform_analytics(request: HttpRequest) -> HttpResponse:
    """The platform's figures by day (the roll-up's tenant = null rows) and the top tenants of the
    period, read under the logged platform bypass: two queries."""
    form = _period(request)
    start, end = form.period()
    with transaction.atomic(), platform_bypass(reason="console: platform analytics", actor=request.user):
        rows = list(selectors.daily_analytics_list(tenant=None, start=start, end=end))
        top = selectors.daily_analytics_top_tenants(start=start, end=end, limit=TOP_TENANTS)
    context = {
        **_analytics_context(form, rows, None),
        "nav_current": "console:platform_analytics",
        "top": top,
    }
    status = 400 if form.errors else 200
    return render_page(request, "console/insights/platform_analytics.html", context, status=status)


urlpatterns = [
    path("t/<uuid:tenant_id>/analytics/", analytics, name="analytics"),
    path("platform/analytics/", platform_analytics, name="platform_analytics"),
]
