"""Reads of container health (agents.models.health); beside agents/selectors.py, which other
subjects share, until that module becomes a package split by subject."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from agents.models import Agent, ContainerHealth, ContainerHealthHourly
from core.tenancy import tenant_pk
from core.types import TenantRef


def health_latest(*, tenant: TenantRef, agent_id: Any = None) -> QuerySet[ContainerHealth]:
    """Each container's latest report (one row per container), by container id."""
    queryset = ContainerHealth.objects.filter(tenant_id=tenant_pk(tenant))
    if agent_id is not None:
        queryset = queryset.filter(agent_id=agent_id)
    return (
        queryset.select_related("agent")
        .order_by("container_id", "-reported_at", "-id")
        .distinct("container_id")
    )


def health_hourly_list(
    *,
    tenant: TenantRef,
    container_id: str | None = None,
    agent_id: Any = None,
    since: datetime | None = None,
) -> QuerySet[ContainerHealthHourly]:
    """The tenant's hourly aggregates, newest hour first."""
    queryset = ContainerHealthHourly.objects.filter(tenant_id=tenant_pk(tenant))
    if container_id:
        queryset = queryset.filter(container_id=container_id)
    if agent_id is not None:
        queryset = queryset.filter(agent_id=agent_id)
    if since is not None:
        queryset = queryset.filter(hour__gte=since)
    return queryset.select_related("agent").order_by("-hour", "container_id", "id")


def health_agent(*, tenant: TenantRef, agent_id: Any) -> Agent | None:
    """The tenant's agent a runtime names in a report (None: not the tenant's). A runtime's key
    holds agents:write, not the guardian visibility people have, so the tenant alone decides."""
    return Agent.objects.filter(tenant_id=tenant_pk(tenant), pk=agent_id).first()
