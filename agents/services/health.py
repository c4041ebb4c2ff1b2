"""Container health: agent runtimes report, an unhealthy report raises an alert (a healthy one
resolves it), and a periodic task keeps detailed reports 24 hours and hourly aggregates 30 days.

Reports are telemetry, not changes people make: they are not audited one by one (a runtime
reporting every few seconds would bury the audit log); the alerts they raise and resolve are,
and the housekeeping run is, once per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from agents.models import Agent, ContainerHealth, HealthStatus
from alerts.models import Severity as AlertSeverity
from alerts.services import alert_raise, alert_resolve_by_key
from audit.services import audit_record
from core.tenancy import tenant_pk
from core.types import Principal, TenantRef

DETAIL_RETENTION = timedelta(hours=24)
HOURLY_RETENTION = timedelta(days=30)
ALERT_SOURCE = "agents.health"


def health_alert_key(container_id: str) -> str:
    """The dedupe key of a container's health alert: one unresolved alert per container."""
    return f"{ALERT_SOURCE}:{container_id}"


@transaction.atomic
def health_report(
    *,
    tenant: TenantRef,
    container_id: str,
    status: str,
    agent: Agent | None = None,
    cpu_percent: Decimal = Decimal(0),
    memory_mb: int = 0,
    restarts: int = 0,
    reported_at: datetime | None = None,
    actor: Principal | None = None,
) -> ContainerHealth:
    """Record one container's report. Unhealthy: raise a critical alert (one per container while
    it is unresolved); healthy: resolve that alert; degraded: neither."""
    tenant_id = tenant_pk(tenant)
    row = ContainerHealth.objects.create(
        tenant_id=tenant_id,
        agent=agent,
        container_id=container_id,
        status=status,
        cpu_percent=cpu_percent,
        memory_mb=memory_mb,
        restarts=restarts,
        reported_at=reported_at or timezone.now(),
    )
    key = health_alert_key(container_id)
    if status == HealthStatus.UNHEALTHY:
        where = f" (agent {agent.name})" if agent is not None else ""
        alert_raise(
            tenant_id=tenant_id,
            severity=AlertSeverity.CRITICAL,
            source=ALERT_SOURCE,
            title=f"Container {container_id} is unhealthy{where}",
            message=(
                f"Reported unhealthy: cpu {cpu_percent} %, memory {memory_mb} MB, "
                f"{restarts} restart{'s' if restarts != 1 else ''}."
            ),
            dedupe_key=key,
            actor=actor,
        )
    elif status == HealthStatus.HEALTHY:
        alert_resolve_by_key(tenant_id=tenant_id, dedupe_key=key, reason="the container reported healthy")
    return row


# Every complete hour that still has detailed reports, recomputed from them (so a second run, or
# a late report, gives the same rows): an UPSERT keyed on (tenant, container, hour).
_AGGREGATE = """
INSERT INTO agents_containerhealthhourly (
    id, created_at, updated_at, tenant_id, agent_id, container_id, hour, reports, worst_status,
    avg_cpu_percent, max_cpu_percent, avg_memory_mb, max_memory_mb, restarts_max
)
SELECT gen_random_uuid(), now(), now(), tenant_id,
       (array_agg(agent_id ORDER BY reported_at DESC) FILTER (WHERE agent_id IS NOT NULL))[1],
       container_id, date_trunc('hour', reported_at) AS hour, count(*),
       (ARRAY['healthy', 'degraded', 'unhealthy'])[1 + max(
           CASE status WHEN 'unhealthy' THEN 2 WHEN 'degraded' THEN 1 ELSE 0 END)],
       round(avg(cpu_percent), 2), max(cpu_percent),
       round(avg(memory_mb))::integer, max(memory_mb), max(restarts)
  FROM agents_containerhealth
 WHERE reported_at < %(current_hour)s
 GROUP BY tenant_id, container_id, date_trunc('hour', reported_at)
ON CONFLICT (tenant_id, container_id, hour) DO UPDATE SET
    updated_at = now(), agent_id = EXCLUDED.agent_id, reports = EXCLUDED.reports,
    worst_status = EXCLUDED.worst_status, avg_cpu_percent = EXCLUDED.avg_cpu_percent,
    max_cpu_percent = EXCLUDED.max_cpu_percent, avg_memory_mb = EXCLUDED.avg_memory_mb,
    max_memory_mb = EXCLUDED.max_memory_mb, restarts_max = EXCLUDED.restarts_max
"""


@dataclass(frozen=True)
class HousekeepingResult:
    aggregated: int  # hourly rows written (new or recomputed)
    deleted_reports: int
    deleted_hours: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "aggregated": self.aggregated,
            "deleted_reports": self.deleted_reports,
            "deleted_hours": self.deleted_hours,
        }


@transaction.atomic
def health_housekeeping(*, now: datetime | None = None) -> HousekeepingResult:
    """Aggregate every tenant's complete hours into hourly rows, then delete detailed reports
    older than 24 hours and aggregates older than 30 days; one audit entry. Idempotent. Runs
    under the platform bypass (the periodic task)."""
    now = now or timezone.now()
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    # Hour-aligned: an hour is deleted whole, so the hours left are always aggregated from all
    # of their reports (a recomputation never sees half an hour).
    detail_cutoff = current_hour - DETAIL_RETENTION
    hourly_cutoff = current_hour - HOURLY_RETENTION
    with connection.cursor() as cursor:
        cursor.execute(_AGGREGATE, {"current_hour": current_hour})
        aggregated = cursor.rowcount
        cursor.execute("DELETE FROM agents_containerhealth WHERE reported_at < %s", [detail_cutoff])
        deleted_reports = cursor.rowcount
        cursor.execute("DELETE FROM agents_containerhealthhourly WHERE hour < %s", [hourly_cutoff])
        deleted_hours = cursor.rowcount
    result = HousekeepingResult(aggregated, deleted_reports, deleted_hours)
    audit_record(
        action="agents.health_housekeeping",
        target_type="agents.containerhealth",
        details={**result.as_dict(), "detail_cutoff": detail_cutoff.isoformat()},
        system=True,
    )
    return result
