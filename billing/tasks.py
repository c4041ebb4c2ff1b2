"""Billing's periodic tasks (scheduled in settings.CELERY_BEAT_SCHEDULE, django-celery-beat)."""

from __future__ import annotations

import structlog
from celery import shared_task

from billing import services
from billing.models import Subscription, SubscriptionStatus
from core.tenancy import platform_bypass, tenant_context

logger = structlog.get_logger(__name__)


@shared_task(name="billing.expire_reservations")
def expire_reservations() -> int:
    """Release every credit hold past its expiry, each exactly once."""
    return services.reservations_expire()


@shared_task(name="billing.renew_subscriptions")
def renew_subscriptions() -> int:
    """Roll subscriptions into their current period; grant each period's included credits once."""
    with platform_bypass(reason="billing: renew subscriptions", log=False):
        tenant_ids = list(
            Subscription.objects.filter(
                status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING]
            ).values_list("tenant_id", flat=True)
        )
    granted = 0
    for tenant_id in tenant_ids:
        try:
            with tenant_context(tenant_id):
                granted += services.subscription_renew(tenant=tenant_id)
        except Exception:  # one tenant's failure must not stop the others' grants
            logger.exception("billing.renew_failed", tenant_id=str(tenant_id))
    return granted


@shared_task(name="billing.prune_idempotency_records")
def prune_idempotency_records() -> int:
    return services.idempotency_records_prune()
