"""Tenants' periodic task (scheduled in settings.CELERY_BEAT_SCHEDULE, django-celery-beat)."""

from __future__ import annotations

from celery import shared_task

from tenants.services.housekeeping import invites_expire


@shared_task(name="tenants.expire_invites")
def expire_invites() -> dict[str, int]:
    """Daily: mark the pending invites past their expiry expired; {tenant id: how many}."""
    return invites_expire()
