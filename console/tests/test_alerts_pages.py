"""The alerts page: what each role sees and may press, acknowledge and resolve (plain and htmx),
another tenant's alert 404, the query count pinned."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.services.health import health_report
from agents.tests.factories import AgentFactory
from alerts import services
from alerts.models import Alert, AlertStatus
from alerts.tests.factories import make_alert
from core.tenancy import tenant_context
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def _page(tenant: Any) -> str:
    return f"/t/{tenant.pk}/alerts/inbox/"


def _act(alert: Any, action: str) -> str:
    return f"/t/{alert.tenant_id}/alerts/inbox/{alert.pk}/{action}/"


def _status(tenant: Any, alert: Any) -> str:
    with tenant_context(tenant):
        return Alert.objects.get(pk=alert.pk).status


def test_alerts_page__owner__lists_unresolved_with_buttons_and_health(
    tenant: Any, owner: Any, signed_in: Any
) -> None:
    make_alert(tenant, title="Disk almost full", severity="critical")
    resolved = make_alert(tenant, title="Old news")
    with tenant_context(tenant):
        services.alert_resolve(alert=resolved, actor=owner)
        health_report(tenant=tenant, container_id="runtime-7", status="degraded", memory_mb=512)

    body = signed_in(owner).get(_page(tenant)).content.decode()

    assert "Disk almost full" in body
    assert "Old news" not in body  # resolved: shown with the filter only
    assert "Acknowledge Disk almost full" in body
    assert "runtime-7" in body
    assert "1 open, 0 acknowledged" in body


def test_alerts_page__viewer__sees_alerts_no_buttons(tenant: Any, viewer: Any, signed_in: Any) -> None:
    make_alert(tenant, title="Disk almost full")

    response = signed_in(viewer).get(_page(tenant))

    assert response.status_code == 200
    assert "Disk almost full" in response.content.decode()
    assert "Acknowledge Disk almost full" not in response.content.decode()
    assert "/acknowledge/" not in response.content.decode()


def test_alerts_page__resolved_filter__shows_resolved(tenant: Any, owner: Any, signed_in: Any) -> None:
    alert = make_alert(tenant, title="Old news")
    client = signed_in(owner)
    client.post(_act(alert, "resolve"))

    body = client.get(_page(tenant), {"status": "resolved"}).content.decode()

    assert "Old news" in body
    assert "Resolved" in body
    assert client.get(_page(tenant), {"status": "bogus"}).status_code == 400


def test_alert_acknowledge__plain_post__redirect_and_acknowledged(
    tenant: Any, owner: Any, signed_in: Any
) -> None:
    alert = make_alert(tenant)

    response = signed_in(owner).post(_act(alert, "acknowledge"))

    assert response.status_code == 302
    assert _status(tenant, alert) == AlertStatus.ACKNOWLEDGED


def test_alert_resolve__htmx__list_panel_only(tenant: Any, owner: Any, signed_in: Any) -> None:
    alert = make_alert(tenant, title="Disk almost full")

    response = signed_in(owner).post(_act(alert, "resolve"), HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="alert-list"' in body
    assert "<html" not in body
    assert "Resolved: Disk almost full." in body
    assert _status(tenant, alert) == AlertStatus.RESOLVED


def test_alert_acknowledge__resolved__409_in_place(tenant: Any, owner: Any, signed_in: Any) -> None:
    alert = make_alert(tenant)
    client = signed_in(owner)
    client.post(_act(alert, "resolve"))

    response = client.post(_act(alert, "acknowledge"), HTTP_HX_REQUEST="true")

    assert response.status_code == 409
    assert "resolved already" in response.content.decode()


def test_alert_acknowledge__viewer__403_unchanged(tenant: Any, viewer: Any, signed_in: Any) -> None:
    alert = make_alert(tenant)

    response = signed_in(viewer).post(_act(alert, "acknowledge"))

    assert response.status_code == 403
    assert _status(tenant, alert) == AlertStatus.OPEN


def test_alert_acknowledge__other_tenants_alert__404(
    tenant: Any, other_tenant: Any, owner: Any, signed_in: Any
) -> None:
    theirs = make_alert(other_tenant)

    response = signed_in(owner).post(f"/t/{tenant.pk}/alerts/inbox/{theirs.pk}/acknowledge/")

    assert response.status_code == 404
    assert _status(other_tenant, theirs) == AlertStatus.OPEN


def _statements(client: Client, url: str) -> list[str]:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_alerts_page__many_alerts_and_containers__query_count_pinned(
    tenant: Any, owner: Any, signed_in: Any
) -> None:
    client = signed_in(owner)
    make_alert(tenant)
    few = _statements(client, _page(tenant))
    admin = member(tenant, "admin")
    for i in range(8):
        alert = make_alert(tenant)
        with tenant_context(tenant):
            services.alert_acknowledge(alert=alert, actor=admin)
            agent = AgentFactory.create(tenant=tenant)
            health_report(
                tenant=tenant,
                container_id=f"c-{i}",
                status="healthy",
                agent=agent,
                reported_at=datetime.now(UTC),
            )
    many = _statements(client, _page(tenant))

    assert len(many) == len(few), "\n".join(many)
