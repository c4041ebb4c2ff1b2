"""Accounts' periodic task (scheduled in settings.CELERY_BEAT_SCHEDULE, django-celery-beat)."""

from __future__ import annotations

from celery import shared_task

from accounts.services.housekeeping import sessions_clean


@shared_task(name="accounts.clean_sessions")
def clean_sessions() -> dict[str, int]:
    """Daily: remove the user sessions that ended more than QM_SESSION_RETENTION_DAYS ago."""
    result = sessions_clean()
    return {"expired": result.expired, "revoked": result.revoked}
