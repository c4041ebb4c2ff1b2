"""Insights' periodic tasks (scheduled in settings.CELERY_BEAT_SCHEDULE, django-celery-beat)."""

from __future__ import annotations

from celery import shared_task

from insights import services


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
