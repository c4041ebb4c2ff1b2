"""Insights' periodic tasks (scheduled in settings.CELERY_BEAT_SCHEDULE, django-celery-beat)."""

from __future__ import annotations

from celery import shared_task

from insights import services
from insights.services.graph import participants_sync_all


@shared_task(name="insights.rollup_daily_analytics")
def rollup_daily_analytics() -> list[str]:
    """Recompute yesterday's and today's daily analytics (UTC), per tenant and for the platform."""
    return [day.isoformat() for day in services.analytics_rollup_recent()]


@shared_task(name="insights.refresh_recommendations")
def refresh_recommendations() -> dict[str, dict[str, int]]:
    """Refresh every active tenant's recommendations, one tenant at a time in its own context."""
    return {
        tenant_id: {"created": r.created, "expired": r.expired}
        for tenant_id, r in services.recommendations_refresh_all().items()
    }


@shared_task(name="insights.sync_participants")
def sync_participants() -> dict[str, int]:
    """Daily: every tenant's participants and relationships refreshed; the lifecycle stages move
    with time alone (active -> dormant). Audited once per run that changed something."""
    return participants_sync_all()
