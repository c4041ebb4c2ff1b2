from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from alerts import selectors, services
from alerts.models import Alert, AlertStatus
from alerts.tests.factories import make_alert
from audit.models import AuditLogEntry
from core.errors import Conflict
from core.tenancy import platform_bypass, tenant_context

pytestmark = pytest.mark.django_db


def _actions(tenant: Any) -> list[str]:
    with tenant_context(tenant):
        return list(
            AuditLogEntry.objects.filter(tenant=tenant, action__startswith="alert.")
            .order_by("created_at", "chain_seq")
            .values_list("action", flat=True)
        )


def test_alert_raise__new__open_and_audited(tenant: Any) -> None:
    alert = make_alert(tenant, severity="critical", title="Disk full")

    assert alert.status == AlertStatus.OPEN
    assert alert.tenant_id == tenant.pk
    assert _actions(tenant) == ["alert.raised"]


def test_alert_raise__same_dedupe_key_while_unresolved__same_alert(tenant: Any, owner: Any) -> None:
    first = make_alert(tenant, dedupe_key="disk:1")
    with tenant_context(tenant):
        services.alert_acknowledge(alert=first, actor=owner)
    again = make_alert(tenant, dedupe_key="disk:1")

    assert again.pk == first.pk
    with tenant_context(tenant):
        assert Alert.objects.filter(tenant=tenant).count() == 1
    assert _actions(tenant) == ["alert.raised", "alert.acknowledged"]


def test_alert_raise__key_of_a_resolved_alert__new_alert(tenant: Any) -> None:
    first = make_alert(tenant, dedupe_key="disk:1")
    with tenant_context(tenant):
        services.alert_resolve(alert=first, actor=None)
    second = make_alert(tenant, dedupe_key="disk:1")

    assert second.pk != first.pk
    assert second.status == AlertStatus.OPEN


def test_alert_raise__same_key_in_two_tenants__two_alerts(tenant: Any, other_tenant: Any) -> None:
    assert make_alert(tenant, dedupe_key="k").pk != make_alert(other_tenant, dedupe_key="k").pk


def test_alert_raise__platform_alerts_same_key__deduplicated(db: Any) -> None:
    assert make_alert(None, dedupe_key="broker").pk == make_alert(None, dedupe_key="broker").pk


def test_alert_raise__unknown_severity__refused(tenant: Any) -> None:
    with pytest.raises(ValueError, match="severity"):
        make_alert(tenant, severity="panic")


def test_alert_acknowledge__twice__idempotent_one_audit_entry(tenant: Any, owner: Any) -> None:
    alert = make_alert(tenant)
    with tenant_context(tenant):
        first = services.alert_acknowledge(alert=alert, actor=owner)
        second = services.alert_acknowledge(alert=alert, actor=owner)

    assert first.acknowledged_at == second.acknowledged_at
    assert second.acknowledged_by_id == owner.pk
    assert second.status == AlertStatus.ACKNOWLEDGED
    assert _actions(tenant) == ["alert.raised", "alert.acknowledged"]


def test_alert_acknowledge__resolved__409(tenant: Any, owner: Any) -> None:
    alert = make_alert(tenant)
    with tenant_context(tenant):
        services.alert_resolve(alert=alert, actor=owner)
        with pytest.raises(Conflict) as caught:
            services.alert_acknowledge(alert=alert, actor=owner)

    assert caught.value.code == "alert_resolved"


def test_alert_resolve__twice__idempotent_audit_has_old_and_new(tenant: Any, owner: Any) -> None:
    alert = make_alert(tenant)
    with tenant_context(tenant):
        services.alert_acknowledge(alert=alert, actor=owner)
        first = services.alert_resolve(alert=alert, actor=owner, reason="fixed")
        second = services.alert_resolve(alert=alert, actor=owner)
        entry = AuditLogEntry.objects.get(tenant=tenant, action="alert.resolved")

    assert first.resolved_at == second.resolved_at
    assert entry.details["changes"]["status"] == {"old": "acknowledged", "new": "resolved"}
    assert entry.details["reason"] == "fixed"
    assert entry.actor_user_id == owner.pk


def test_alert_resolve_by_key__open__resolved_by_system(tenant: Any) -> None:
    make_alert(tenant, dedupe_key="k")
    with tenant_context(tenant):
        resolved = services.alert_resolve_by_key(tenant_id=tenant, dedupe_key="k")
        nothing = services.alert_resolve_by_key(tenant_id=tenant, dedupe_key="k")

    assert resolved is not None
    assert resolved.status == AlertStatus.RESOLVED
    assert resolved.resolved_by_id is None
    assert nothing is None


def test_alert_list__filters__by_status_severity_source(tenant: Any, owner: Any) -> None:
    acked = make_alert(tenant, severity="critical", source="agents.health")
    make_alert(tenant, severity="info", source="billing")
    with tenant_context(tenant):
        services.alert_acknowledge(alert=acked, actor=owner)
        assert [a.pk for a in selectors.alert_list(tenant=tenant, filters={"status": "acknowledged"})] == [
            acked.pk
        ]
        assert selectors.alert_list(tenant=tenant, filters={"status": "open"}).count() == 1
        assert selectors.alert_list(tenant=tenant, filters={"severity": "critical"}).count() == 1
        assert selectors.alert_list(tenant=tenant, filters={"source": "billing"}).count() == 1
        assert selectors.alert_counts(tenant=tenant) == {"open": 1, "acknowledged": 1}


def test_rls__platform_alert__invisible_in_a_tenant_context_visible_under_bypass(tenant: Any) -> None:
    platform = make_alert(None, title="Broker down")
    mine = make_alert(tenant)
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM alerts_alert")
        seen = {row[0] for row in cursor.fetchall()}
    with platform_bypass(reason="test", log=False), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM alerts_alert")
        everything = {row[0] for row in cursor.fetchall()}

    assert seen == {mine.pk}
    assert {platform.pk, mine.pk} <= everything


def test_rls__other_tenants_alert__invisible(tenant: Any, other_tenant: Any) -> None:
    theirs = make_alert(other_tenant)
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM alerts_alert WHERE id = %s", [theirs.pk])
        assert cursor.fetchone()[0] == 0
