"""A live stream lives no longer than the sign-in it was asked with: the ticket keeps the session
(a JWT's, or the console's), the socket closes (4403) when that session is revoked (logout, "end
all sessions", a lock) and a ticket of an ended session opens nothing. An API key's stream has no
session: it follows the key (revoked, expired) instead."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import UserSession
from accounts.services import auth
from accounts.tests.conftest import bearer, login
from accounts.tests.factories import TEST_PASSWORD
from accounts.tests.test_api_keys import make_key, with_key
from agents.models import StreamTicket, WebsocketConnection
from agents.tests.test_stream import communicator, issue, run
from core.tenancy import platform_bypass
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db(transaction=True)


def _jwt(user: Any) -> tuple[Any, UserSession]:
    response = login(APIClient(), user.email)  # the API's login, as a script signs in
    assert response.status_code == 200, response.content
    session = UserSession.objects.filter(user=user, revoked_at__isnull=True).latest("created_at")
    return bearer(response.json()["access"]), session


def _rows(model: Any) -> list[Any]:
    with platform_bypass(reason="test", log=False):
        return list(model.objects.all())


def test_ticket__jwt__bound_to_its_session__api_key__to_none(tenant: Any) -> None:
    owner = member(tenant, "owner")
    client, session = _jwt(owner)
    issue(client, tenant)
    _, raw = make_key(tenant, owner, scopes=["agents:read"])
    issue(with_key(raw), tenant)
    assert sorted((t.api_key_id is None, t.user_session_id) for t in _rows(StreamTicket)) == sorted(
        [(True, session.pk), (False, None)]
    )


def test_stream__session_revoked_while_open__closed_4403_and_recorded(tenant: Any) -> None:
    owner = member(tenant, "owner")
    client, session = _jwt(owner)
    other_client, _ = _jwt(owner)  # the same person signed in elsewhere: that stream stays
    mine, theirs = issue(client, tenant)["ticket"], issue(other_client, tenant)["ticket"]

    async def scenario() -> tuple[Any, Any]:
        ws, other = communicator(tenant, mine), communicator(tenant, theirs)
        assert (await ws.connect())[0]
        assert (await other.connect())[0]
        logout = await sync_to_async(client.post)("/api/v1/auth/logout")
        assert logout.status_code == 204, logout.content
        closed = await ws.receive_output(3)
        other_still_open = await other.receive_nothing(0.5)
        await asyncio.sleep(0.3)  # the close is recorded after it is sent
        await other.disconnect()
        return closed, other_still_open

    closed, other_still_open = run(scenario)
    assert closed == {"type": "websocket.close", "code": 4403}
    assert other_still_open is True
    by_session = {row.user_session_id: row for row in _rows(WebsocketConnection)}
    assert by_session[session.pk].close_code == 4403


def test_stream__ticket_of_a_session_revoked_since__refused(tenant: Any) -> None:
    owner = member(tenant, "owner")
    client, session = _jwt(owner)
    ticket = issue(client, tenant)["ticket"]
    auth.session_revoke(session=session, actor=owner, reason="logout")

    async def scenario() -> bool:
        connected, _ = await communicator(tenant, ticket).connect()
        return bool(connected)

    assert run(scenario) is False
    assert _rows(WebsocketConnection) == []


def test_stream__console_ticket__bound_to_the_console_session(tenant: Any) -> None:
    owner = member(tenant, "owner")
    browser = Client()
    signed = browser.post("/signin/", {"email": owner.email, "password": TEST_PASSWORD})
    assert signed.status_code == 302, signed.content[:300]
    response = browser.post(f"/t/{tenant.pk}/stream-ticket/", HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200, response.content
    (ticket,) = _rows(StreamTicket)
    session = UserSession.objects.get(user=owner, revoked_at__isnull=True)
    assert ticket.user_session_id == session.pk


def test_stream__session_expires_while_open__closed_4403_at_the_next_heartbeat(
    tenant: Any, monkeypatch: Any
) -> None:
    from django.utils import timezone

    from agents.stream.consumer import TenantEventsConsumer

    owner = member(tenant, "owner")
    client, session = _jwt(owner)
    ticket = issue(client, tenant)["ticket"]
    monkeypatch.setattr(TenantEventsConsumer, "heartbeat_seconds", 0.2)

    def expire() -> None:  # no revocation, so nothing is pushed: the heartbeat finds it
        UserSession.objects.filter(pk=session.pk).update(expires_at=timezone.now())

    async def scenario() -> tuple[bool, Any]:
        ws = communicator(tenant, ticket)
        assert (await ws.connect())[0]
        beating = await ws.receive_nothing(0.5)  # beats while the session stands
        await sync_to_async(expire)()
        closed = await ws.receive_output(3)
        await asyncio.sleep(0.3)
        return beating, closed

    beating, closed = run(scenario)
    assert beating is True
    assert closed == {"type": "websocket.close", "code": 4403}
    (row,) = _rows(WebsocketConnection)
    assert (row.close_code, row.last_seen_at > row.connected_at) == (4403, True)
