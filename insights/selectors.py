"""Reads of insights, the tenant passed explicitly."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Max, QuerySet, Sum

from insights.models import DailyAnalytics, Intervention, Recommendation
from tenants.models import Tenant


def intervention_list(*, tenant: Tenant) -> QuerySet[Intervention]:
    return Intervention.objects.filter(tenant=tenant).select_related("operator", "reversed_by")


def recommendation_list(*, tenant: Tenant, status: str | None = None) -> QuerySet[Recommendation]:
    qs = Recommendation.objects.filter(tenant=tenant).select_related("decided_by")
    return qs.filter(status=status) if status else qs


def daily_analytics_list(*, tenant: Tenant | None, start: date, end: date) -> QuerySet[DailyAnalytics]:
    """A tenant's daily figures (tenant None: the platform's) from `start` to `end` inclusive,
    oldest first. The platform's rows are under row-level security: read them inside
    `core.tenancy.platform_bypass`."""
    qs = DailyAnalytics.objects.filter(date__gte=start, date__lte=end)
    qs = qs.filter(tenant=tenant) if tenant is not None else qs.filter(tenant__isnull=True)
    return qs.order_by("date")


def daily_analytics_top_tenants(*, start: date, end: date, limit: int = 10) -> list[dict[str, Any]]:
    """The tenants that were charged the most credits from `start` to `end` inclusive, with their
    totals over those days (credits, provider cost, margin, sessions, errors) and name: one query.
    Across tenants: read inside `core.tenancy.platform_bypass`."""
    rows = (
        DailyAnalytics.objects.filter(date__gte=start, date__lte=end, tenant__isnull=False)
        .values("tenant_id")
        .annotate(
            name=Max("tenant__name"),
            credits_charged=Sum("credits_charged"),
            provider_cost_usd=Sum("provider_cost_usd"),
            sessions_started=Sum("sessions_started"),
            errors=Sum("errors"),
        )
        .order_by("-credits_charged", "-provider_cost_usd", "tenant_id")[:limit]
    )
    return [{**row, "margin_usd": row["credits_charged"] - row["provider_cost_usd"]} for row in rows]
