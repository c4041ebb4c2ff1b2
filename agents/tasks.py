"""The agents app's periodic tasks (scheduled in settings.CELERY_BEAT_SCHEDULE, django-celery-beat)."""

from __future__ import annotations

from celery import shared_task

from agents import services
from agents.services import health
from agents.stream.housekeeping import stream_housekeeping
from core.tenancy import platform_bypass


@shared_task(name="agents.expire_task_leases")
def expire_task_leases() -> int:
    """Return every running task whose lease ran out to pending (or fail it, attempts spent);
    every tenant's in one statement."""
    with platform_bypass(reason="agents: expire task leases", log=False):
        return services.tasks_expire_leases()


@shared_task(name="agents.rollup_agent_metrics")
def rollup_agent_metrics() -> list[int]:
    """Recompute the last two hours' agent metrics (and the start hours of sessions that ended in
    them), every tenant's in one statement; returns [rows written, rows removed]."""
    return list(services.metrics_rollup_recent())


@shared_task(name="agents.health_housekeeping")
def health_housekeeping() -> dict[str, int]:
    """Aggregate container health into hourly rows, then drop reports older than 24 hours and
    aggregates older than 30 days (every tenant's); one audit entry per run."""
    with platform_bypass(reason="agents: container health retention", log=False):
        return health.health_housekeeping().as_dict()


@shared_task(name="agents.stream_housekeeping")
def prune_stream() -> dict[str, int]:
    """Daily: delete expired stream tickets, close connections whose process died, delete
    connections closed past QM_STREAM_CONNECTION_RETENTION_DAYS (agents.stream.housekeeping)."""
    return stream_housekeeping()
