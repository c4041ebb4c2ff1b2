"""Reads of insights, the tenant passed explicitly."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

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
