"""Reads of insights, the tenant passed explicitly."""

from __future__ import annotations

from django.db.models import QuerySet

from insights.models import Intervention, Recommendation
from tenants.models import Tenant


def intervention_list(*, tenant: Tenant) -> QuerySet[Intervention]:
    return Intervention.objects.filter(tenant=tenant).select_related("operator", "reversed_by")


def recommendation_list(*, tenant: Tenant, status: str | None = None) -> QuerySet[Recommendation]:
    qs = Recommendation.objects.filter(tenant=tenant).select_related("decided_by")
    return qs.filter(status=status) if status else qs
