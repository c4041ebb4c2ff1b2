"""Every write to alerts: raise (deduplicated), acknowledge, resolve. One transaction each, the
audit entry inside it; the live event and the Slack delivery run after commit."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction

from alerts.models import Alert, AlertStatus, Severity
from alerts.tasks import deliver_slack
from audit.services import audit_record
from core import clock, stream
from core.errors import Conflict
from core.hygiene import clean_text
from core.tenancy import tenant_pk
from core.types import Principal, TenantRef
from tenants.selectors import get_setting

SLACK_SETTING = "notifications.slack_webhook_url"
MAX_TITLE = 200
MAX_MESSAGE = 4000

# The audit entry's severity for each alert severity (the same names).
_AUDIT_SEVERITY = {s.value: s.value for s in Severity}


def alert_event(alert: Alert, change: str) -> dict[str, Any]:
    """What the live stream carries for an alert (no secrets; ids as strings)."""
    return {
        "id": str(alert.pk),
        "change": change,
        "status": alert.status,
        "severity": alert.severity,
        "source": alert.source,
        "title": alert.title,
    }


def _after_commit(alert: Alert, change: str) -> None:
    # Platform alerts have no tenant stream: staff see them in the console and the admin.
    if alert.tenant_id is not None:
        stream.publish(alert.tenant_id, "alert", alert_event(alert, change))


def _audit(alert: Alert, action: str, *, actor: Principal | None, details: dict[str, Any]) -> None:
    audit_record(
        action=action,
        tenant=alert.tenant_id,
        target=alert,
        severity=_AUDIT_SEVERITY.get(alert.severity, Severity.INFO),
        details=details,
        actor=actor,
        system=actor is None,
    )


def _open_with_key(tenant_id: uuid.UUID | None, dedupe_key: str) -> Alert | None:
    queryset = Alert.objects.filter(dedupe_key=dedupe_key, resolved_at__isnull=True)
    if tenant_id is None:
        queryset = queryset.filter(tenant__isnull=True)
    else:
        queryset = queryset.filter(tenant_id=tenant_id)
    return queryset.order_by("created_at").first()


@transaction.atomic
def alert_raise(
    *,
    tenant_id: TenantRef | None,
    severity: str,
    source: str,
    title: str,
    message: str = "",
    dedupe_key: str | None = None,
    actor: Principal | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert (tenant None: a platform alert); with a dedupe key, an unresolved alert with
    the same key is returned instead of a second one. Returns (alert, created)."""
    if severity not in Severity.values:
        raise ValueError(f"Unknown alert severity {severity!r}")
    tenant = tenant_pk(tenant_id)
    key = clean_text(dedupe_key or "")[:200]
    if key:
        existing = _open_with_key(tenant, key)
        if existing is not None:
            return existing, False
    alert = Alert(
        tenant_id=tenant,
        severity=severity,
        source=clean_text(source)[:64],
        title=clean_text(title)[:MAX_TITLE],
        message=clean_text(message)[:MAX_MESSAGE],
        dedupe_key=key,
    )
    try:
        # A savepoint: a concurrent raise of the same key makes this INSERT wait for the other
        # transaction, then fail on the unique partial index; the alert is then theirs.
        with transaction.atomic():
            alert.save(force_insert=True)
    except IntegrityError:
        existing = _open_with_key(tenant, key) if key else None
        if existing is None:
            raise
        return existing, False
    _audit(
        alert,
        "alert.raised",
        actor=actor,
        details={"severity": alert.severity, "source": alert.source, "dedupe_key": key},
    )
    _after_commit(alert, "raised")
    if tenant is not None and get_setting(tenant, SLACK_SETTING):
        # The URL is read by the task, never put on the broker; the request does not wait.
        alert_id, tenant_text = str(alert.pk), str(tenant)
        # robust: a broker that cannot take the task is logged, not raised into the committed
        # request (the alert stands; Slack is best effort).
        transaction.on_commit(
            lambda: deliver_slack.delay(tenant_id=tenant_text, alert_id=alert_id), robust=True
        )
    return alert, True


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor: Principal | None) -> Alert:
    """Acknowledge an open alert (someone is on it). Acknowledging it again changes nothing;
    a resolved alert cannot be acknowledged (409 alert_resolved)."""
    row = _locked(alert)
    if row.resolved_at is not None:
        raise Conflict("The alert is resolved already.", code="alert_resolved")
    if row.acknowledged_at is not None:
        return row
    row.acknowledged_at = clock.now()
    row.acknowledged_by = actor if getattr(actor, "is_authenticated", False) else None  # type: ignore[assignment]  # a User
    row.save(update_fields=["acknowledged_at", "acknowledged_by", "updated_at"])
    _audit(
        row,
        "alert.acknowledged",
        actor=actor,
        details={"changes": {"status": {"old": AlertStatus.OPEN, "new": AlertStatus.ACKNOWLEDGED}}},
    )
    _after_commit(row, "acknowledged")
    return row


@transaction.atomic
def alert_resolve(*, alert: Alert, actor: Principal | None, reason: str = "") -> Alert:
    """Resolve an alert (open or acknowledged); resolving it again changes nothing. actor None:
    resolved by the system, because what raised it went away."""
    row = _locked(alert)
    if row.resolved_at is not None:
        return row
    before = row.status
    row.resolved_at = clock.now()
    row.resolved_by = actor if getattr(actor, "is_authenticated", False) else None  # type: ignore[assignment]  # a User
    row.save(update_fields=["resolved_at", "resolved_by", "updated_at"])
    details: dict[str, Any] = {"changes": {"status": {"old": before, "new": AlertStatus.RESOLVED}}}
    if reason:
        details["reason"] = clean_text(reason)[:500]
    _audit(row, "alert.resolved", actor=actor, details=details)
    _after_commit(row, "resolved")
    return row


def alert_resolve_by_key(*, tenant_id: TenantRef | None, dedupe_key: str, reason: str = "") -> Alert | None:
    """Resolve the unresolved alert with this key, if any (the system: its cause went away)."""
    existing = _open_with_key(tenant_pk(tenant_id), dedupe_key)
    if existing is None:
        return None
    return alert_resolve(alert=existing, actor=None, reason=reason)
