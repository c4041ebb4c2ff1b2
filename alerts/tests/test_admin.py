"""Alerts and container health in the back office: every tenant's alerts and the platform's with
their filters, acknowledge and resolve through the services (audited with the staff member; a
reason asked for resolving), operators only look; health reports and hours read-only. Query
counts pinned."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import ContainerHealth, ContainerHealthHourly
from agents.services.health import health_housekeeping, health_report
from agents.tests.factories import AgentFactory
from alerts.models import Alert
from alerts.services import alert_acknowledge, alert_resolve
from alerts.tests.factories import make_alert
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass, tenant_context

pytestmark = pytest.mark.django_db

ALERTS = "/admin/alerts/alert/"


def _fresh(alert: Alert) -> Alert:
    with platform_bypass(reason="test", log=False):
        return Alert.objects.get(pk=alert.pk)


def _audit(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


def test_alert_changelist__operator__tenants_and_platform_alerts_filtered_by_status(
    client: Any, platform_operator: Any, tenant: Any, other_tenant: Any, owner: Any
) -> None:
    make_alert(tenant, title="Balance low at Acme", severity="critical", source="billing")
    make_alert(other_tenant, title="Container c-7 is unhealthy", source="agents.health")
    make_alert(None, title="Broker queue backing up", source="platform")
    done = make_alert(tenant, title="Old resolved alert")
    with tenant_context(tenant):
        alert_resolve(alert=done, actor=owner)
    client.force_login(platform_operator)

    everything = client.get(ALERTS).content.decode()
    unresolved = client.get(ALERTS, {"status": "open"}).content.decode()
    platform = client.get(ALERTS, {"level": "platform"}).content.decode()
    found = client.get(ALERTS, {"q": "c-7"}).content.decode()
    critical = client.get(ALERTS, {"severity__exact": "critical"}).content.decode()

    for title in ("Balance low at Acme", "Container c-7 is unhealthy", "Broker queue backing up"):
        assert title in everything
    assert "Old resolved alert" in everything
    assert "Old resolved alert" not in unresolved
    assert "Balance low at Acme" in unresolved
    assert "Broker queue backing up" in platform
    assert "Balance low at Acme" not in platform
    assert "Container c-7 is unhealthy" in found
    assert "Balance low at Acme" not in found
    assert "Balance low at Acme" in critical
    assert "Container c-7 is unhealthy" not in critical
    # Operators only look: no actions offered.
    assert "acknowledge_selected" not in everything
    assert "resolve_selected" not in everything


def test_acknowledge_action__platform_admin__acknowledged_by_them_and_audited(
    client: Any, platform_admin: Any, tenant: Any
) -> None:
    first, second = make_alert(tenant), make_alert(None)
    client.force_login(platform_admin)

    response = client.post(
        ALERTS, {"action": "acknowledge_selected", "_selected_action": [str(first.pk), str(second.pk)]}
    )

    assert response.status_code == 302
    for alert in (first, second):
        row = _fresh(alert)
        assert row.status == "acknowledged"
        assert row.acknowledged_by_id == platform_admin.pk
    entries = _audit("alert.acknowledged")
    assert {e.target_id for e in entries} == {str(first.pk), str(second.pk)}
    assert {e.actor_user_id for e in entries} == {platform_admin.pk}


def test_resolve_action__no_reason__asks_again_and_resolves_nothing(
    client: Any, platform_admin: Any, tenant: Any
) -> None:
    alert = make_alert(tenant)
    client.force_login(platform_admin)

    ask = client.post(ALERTS, {"action": "resolve_selected", "_selected_action": [str(alert.pk)]})
    blank = client.post(
        ALERTS,
        {"action": "resolve_selected", "_selected_action": [str(alert.pk)], "apply": "1", "reason": " "},
    )

    assert ask.status_code == 200
    assert "Resolve alerts" in ask.content.decode()
    assert blank.status_code == 200
    assert "This field is required." in blank.content.decode()
    assert _fresh(alert).status == "open"


def test_resolve_action__with_a_reason__resolved_reason_in_the_audit_entry(
    client: Any, platform_admin: Any, tenant: Any
) -> None:
    open_one, resolved = make_alert(tenant), make_alert(tenant)
    client.force_login(platform_admin)
    client.post(
        ALERTS,
        {"action": "resolve_selected", "_selected_action": [str(resolved.pk)], "apply": "1", "reason": "x"},
    )

    response = client.post(
        ALERTS,
        {
            "action": "resolve_selected",
            "_selected_action": [str(open_one.pk), str(resolved.pk)],
            "apply": "1",
            "reason": "Fixed the runtime's credentials",
        },
        follow=True,
    )

    assert response.status_code == 200
    row = _fresh(open_one)
    assert row.status == "resolved"
    assert row.resolved_by_id == platform_admin.pk
    reasons = [e.details.get("reason") for e in _audit("alert.resolved")]
    # Resolving a resolved alert again changes nothing (the service is idempotent).
    assert sorted(reasons) == ["Fixed the runtime's credentials", "x"]


def test_acknowledge_action__resolved_alert__refusal_shown_and_nothing_changed(
    client: Any, platform_admin: Any, tenant: Any
) -> None:
    alert = make_alert(tenant, title="Gone already")
    client.force_login(platform_admin)
    client.post(
        ALERTS,
        {"action": "resolve_selected", "_selected_action": [str(alert.pk)], "apply": "1", "reason": "done"},
    )

    response = client.post(
        ALERTS, {"action": "acknowledge_selected", "_selected_action": [str(alert.pk)]}, follow=True
    )

    assert "Gone already: The alert is resolved already." in response.content.decode()
    assert _fresh(alert).acknowledged_at is None
    assert _audit("alert.acknowledged") == []


def test_alert_detail_actions__acknowledge_confirms_then_resolve_with_a_reason(
    client: Any, platform_admin: Any, tenant: Any
) -> None:
    alert = make_alert(tenant, title="Disk almost full")
    client.force_login(platform_admin)
    page = client.get(f"{ALERTS}{alert.pk}/change/").content.decode()

    confirm = client.get(f"{ALERTS}{alert.pk}/acknowledge/")
    assert _fresh(alert).status == "open"  # a GET only asks
    acknowledged = client.post(f"{ALERTS}{alert.pk}/acknowledge/", {"apply": "1"})
    resolved = client.post(f"{ALERTS}{alert.pk}/resolve/", {"apply": "1", "reason": "Cleaned up /var"})

    assert "Disk almost full" in page
    assert f"{ALERTS}{alert.pk}/acknowledge/" in page
    assert confirm.status_code == 200
    assert "Acknowledge alert" in confirm.content.decode()
    assert acknowledged.status_code == 302
    assert resolved.status_code == 302
    assert resolved["Location"] == f"{ALERTS}{alert.pk}/change/"
    row = _fresh(alert)
    assert row.status == "resolved"
    assert row.acknowledged_by_id == platform_admin.pk


def test_alert_actions__operator__refused_and_nothing_changed(
    client: Any, platform_operator: Any, tenant: Any
) -> None:
    alert = make_alert(tenant)
    client.force_login(platform_operator)

    client.post(ALERTS, {"action": "acknowledge_selected", "_selected_action": [str(alert.pk)]})
    detail = client.post(f"{ALERTS}{alert.pk}/resolve/", {"apply": "1", "reason": "nope"})

    assert detail.status_code == 403
    assert _fresh(alert).status == "open"
    assert client.get(f"{ALERTS}add/").status_code == 403


def test_alert_changelist__query_count__does_not_grow_with_the_alerts(
    client: Any, platform_admin: Any, tenant: Any, other_tenant: Any, owner: Any
) -> None:
    make_alert(tenant)
    client.force_login(platform_admin)
    client.get(ALERTS)  # warm
    with CaptureQueriesContext(connection) as few:
        assert client.get(ALERTS).status_code == 200
    for n in range(6):
        alert = make_alert(other_tenant if n % 2 else None)
        if n % 3 == 0:
            with platform_bypass(reason="test", log=False):
                alert_acknowledge(alert=alert, actor=owner)
    with CaptureQueriesContext(connection) as many:
        assert client.get(ALERTS).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def _health(tenant: Any) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Route planner")
    now = timezone.now()
    with tenant_context(tenant):
        for minutes, status in ((130, "healthy"), (70, "degraded"), (5, "unhealthy")):
            health_report(
                tenant=tenant,
                agent=agent,
                container_id="runner-1",
                status=status,
                cpu_percent=Decimal("42.5"),
                memory_mb=512,
                reported_at=now - timedelta(minutes=minutes),
            )
    with platform_bypass(reason="test", log=False):
        health_housekeeping(now=now)


def test_health_admin__operator__reports_and_hours_read_only(
    client: Any, platform_operator: Any, tenant: Any
) -> None:
    _health(tenant)
    client.force_login(platform_operator)
    with platform_bypass(reason="test", log=False):
        report = ContainerHealth.objects.order_by("reported_at").first()
        hour = ContainerHealthHourly.objects.order_by("hour").first()
    assert report is not None
    assert hour is not None

    reports = client.get("/admin/agents/containerhealth/").content.decode()
    unhealthy = client.get("/admin/agents/containerhealth/", {"status__exact": "unhealthy"}).content.decode()
    hours = client.get("/admin/agents/containerhealthhourly/").content.decode()
    change = client.get(f"/admin/agents/containerhealth/{report.pk}/change/")

    assert reports.count("runner-1") >= 3
    assert "Route planner" in reports
    assert "runner-1" in unhealthy
    assert unhealthy.count("runner-1") < reports.count("runner-1")  # the other two filtered out
    assert "runner-1" in hours
    assert "Route planner" in hours
    assert change.status_code == 200
    assert 'name="status"' not in change.content.decode()  # nothing to edit
    assert client.get("/admin/agents/containerhealth/add/").status_code == 403
    assert client.post(f"/admin/agents/containerhealthhourly/{hour.pk}/delete/").status_code == 403


def test_health_admin__query_count__does_not_grow_with_the_rows(
    client: Any, platform_admin: Any, tenant: Any, other_tenant: Any
) -> None:
    urls = ("/admin/agents/containerhealth/", "/admin/agents/containerhealthhourly/")
    _health(tenant)
    client.force_login(platform_admin)
    few: dict[str, int] = {}
    for url in urls:
        client.get(url)  # warm
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        few[url] = len(captured.captured_queries)
    _health(other_tenant)
    many: dict[str, int] = {}
    for url in urls:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        many[url] = len(captured.captured_queries)
    assert many == few
