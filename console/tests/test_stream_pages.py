"""The console's live-stream pieces: the page script's ticket, the hooks on the agent pages, and
the platform staff's page of live connections (its query count pinned)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import StreamTicket, WebsocketConnection
from agents.tests.factories import AgentFactory
from core.tenancy import platform_bypass
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def test_stream_ticket__member_with_csrf__json_ticket_for_the_page(signed_in: Any, viewer: Any, tenant: Any):
    client = signed_in(viewer)
    client.handler.enforce_csrf_checks = True
    client.get(f"/t/{tenant.pk}/agents/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/t/{tenant.pk}/stream-ticket/", HTTP_X_CSRFTOKEN=token, HTTP_ORIGIN="http://testserver"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["url"].endswith(f"/ws/tenants/{tenant.pk}/events/")
    with platform_bypass(reason="test", log=False):
        (row,) = StreamTicket.objects.all()
    assert row.user_id == viewer.pk
    assert body["ticket"] not in row.digest


def test_stream_ticket__without_csrf__refused(signed_in: Any, viewer: Any, tenant: Any):
    client = signed_in(viewer)
    client.handler.enforce_csrf_checks = True
    assert client.post(f"/t/{tenant.pk}/stream-ticket/").status_code == 403


def test_stream_ticket__another_tenant__refused(signed_in: Any, viewer: Any, other_tenant: Any):
    response = signed_in(viewer).post(f"/t/{other_tenant.pk}/stream-ticket/")
    assert response.status_code in (403, 404)
    with platform_bypass(reason="test", log=False):
        assert not StreamTicket.objects.exists()


def test_agent_pages__status_badges_and_stream_hook(signed_in: Any, owner: Any, tenant: Any):
    agent = AgentFactory.create(tenant=tenant)
    client = signed_in(owner)
    for url in (f"/t/{tenant.pk}/agents/", f"/t/{tenant.pk}/agents/{agent.pk}/"):
        html = client.get(url).content.decode()
        assert f'data-agent-id="{agent.pk}"' in html
        assert f'data-qm-stream="/t/{tenant.pk}/stream-ticket/"' in html
        assert "console/stream.js" in html


def _open(tenant: Any, user: Any) -> None:
    with platform_bypass(reason="test", log=False):
        WebsocketConnection.objects.create(tenant=tenant, user=user, channel_name="x", client_ip="10.0.0.1")


def test_platform_connections__operator__lists_open_ones_queries_pinned(
    signed_in: Any, platform_operator: Any, tenant: Any, owner: Any
):
    _open(tenant, owner)
    client = signed_in(platform_operator)
    client.get("/platform/connections/")
    with CaptureQueriesContext(connection) as few:
        response = client.get("/platform/connections/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 open connection" in html
    assert owner.email in html
    for _ in range(4):
        other = TenantFactory.create()
        _open(other, member(other, "viewer"))
    with CaptureQueriesContext(connection) as many:
        html = client.get("/platform/connections/").content.decode()
    assert "5 open connections" in html
    assert len(many.captured_queries) == len(few.captured_queries)


def test_platform_connections__tenant_owner__403(signed_in: Any, owner: Any):
    assert signed_in(owner).get("/platform/connections/").status_code == 403
