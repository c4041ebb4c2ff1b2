"""Background work of alerts: Slack delivery, queued after the raise commits (alerts.services)."""

from __future__ import annotations

import structlog
from celery import shared_task

from alerts import slack
from alerts.models import Alert
from core.tenancy import tenant_context
from tenants.models import Tenant
from tenants.selectors import get_setting

logger = structlog.get_logger(__name__)

SLACK_SETTING = "notifications.slack_webhook_url"
MAX_RETRIES = 5


def _load(tenant_id: str, alert_id: str) -> tuple[str, dict[str, object]] | None:
    """The webhook URL and the message, read in the tenant's context (a short transaction: the
    HTTP call happens after it, so no connection waits on Slack inside a transaction)."""
    with tenant_context(tenant_id):
        alert = Alert.objects.filter(pk=alert_id).first()
        url = get_setting(tenant_id, SLACK_SETTING)
        if alert is None or not url:
            return None
        tenant = Tenant.objects.get(pk=tenant_id)
        body = slack.message_of(
            tenant_name=tenant.name,
            severity=alert.severity,
            title=alert.title,
            message=alert.message,
            source=alert.source,
        )
    return url, body


@shared_task(
    name="alerts.deliver_slack",
    autoretry_for=(slack.SlackDeliveryError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def deliver_slack(*, tenant_id: str, alert_id: str) -> bool:
    """Post one alert to the tenant's Slack webhook; retried with backoff when Slack fails.
    False when there is nothing to send (the setting was cleared, the alert is gone)."""
    loaded = _load(tenant_id, alert_id)
    if loaded is None:
        return False
    url, body = loaded
    slack.post_webhook(url, body)
    logger.info("alerts.slack_delivered", alert_id=alert_id, tenant_id=tenant_id)
    return True
