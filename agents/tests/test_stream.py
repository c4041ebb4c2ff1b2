"""The live stream: tickets (POST .../stream-ticket) and the websocket consumer
(/ws/tenants/{id}/events/), on the in-memory channel layer of this test process."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts.models import ApiKey
from accounts.tests.test_api_keys import make_key, with_key
from agents.models import StreamTicket, WebsocketConnection
from agents.services import agent_share
from agents.stream import events, services
from agents.stream.consumer import TenantEventsConsumer
from agents.tests.factories import AgentFactory
from agents.tests.websocket import WebsocketCommunicator
from config.asgi import application
from core import stream
from core.tenancy import platform_bypass, tenant_context
from tenants.gate import tenant_access
from tenants.models import Membership
from tenants.services.members import member_remove
from tenants.services.tenants import tenant_suspend
from tenants.tests.factories import member

ORIGIN = "http://127.0.0.1:8000"


def ticket_url(tenant: Any) -> str:
    return f"/api/v1/tenants/{tenant.pk}/stream-ticket"


def issue(client: Any, tenant: Any, **headers: Any) -> dict[str, Any]:
    response = client.post(ticket_url(tenant), **headers)
    assert response.status_code == 201, response.content
    return response.json()


def tickets() -> list[StreamTicket]:
    with platform_bypass(reason="test", log=False):
        return list(StreamTicket.objects.all())


def connections() -> list[WebsocketConnection]:
    with platform_bypass(reason="test", log=False):
        return list(WebsocketConnection.objects.order_by("connected_at"))


# --- Tickets -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ticket__member__single_use_ticket_stored_hashed(tenant, as_user):
    viewer = member(tenant, "viewer")
    body = issue(as_user(viewer), tenant, HTTP_ORIGIN=ORIGIN)
    assert len(body["ticket"]) >= 40
    assert body["url"].endswith(f"/ws/tenants/{tenant.pk}/events/")
    (row,) = tickets()
    assert body["ticket"] not in row.digest
    assert (row.user_id, row.tenant_id, row.origin) == (viewer.pk, tenant.pk, ORIGIN)
    assert row.expires_at <= timezone.now() + timedelta(seconds=61)

    assert services.ticket_redeem(tenant_id=tenant.pk, ticket=body["ticket"]) is not None
    assert services.ticket_redeem(tenant_id=tenant.pk, ticket=body["ticket"]) is None
    assert tickets() == []


@pytest.mark.django_db
def test_ticket__expired__refused(tenant, owner, as_user):
    body = issue(as_user(owner), tenant)
    with platform_bypass(reason="test", log=False):
        StreamTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.ticket_redeem(tenant_id=tenant.pk, ticket=body["ticket"]) is None


@pytest.mark.django_db
def test_ticket__redeemed_for_another_tenant__refused_and_kept(tenant, other_tenant, owner, as_user):
    body = issue(as_user(owner), tenant)
    assert services.ticket_redeem(tenant_id=other_tenant.pk, ticket=body["ticket"]) is None
    assert len(tickets()) == 1  # another tenant's context cannot even see it


@pytest.mark.django_db
def test_ticket__not_a_member__403(tenant, other_tenant, as_user):
    outsider = member(other_tenant, "owner")
    response = as_user(outsider).post(ticket_url(tenant))
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_member"
    assert tickets() == []


@pytest.mark.django_db
def test_ticket__api_key_with_agents_read__ticket_bound_to_key(tenant, owner):
    api_key, raw = make_key(tenant, owner, scopes=["agents:read"])
    issue(with_key(raw), tenant)
    (row,) = tickets()
    assert (row.api_key_id, row.user_id, row.origin) == (api_key.pk, owner.pk, "")


@pytest.mark.django_db
def test_ticket__api_key_without_agents_read__403(tenant, owner):
    _, raw = make_key(tenant, owner, scopes=["tasks:read"])
    response = with_key(raw).post(ticket_url(tenant))
    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"


@pytest.mark.django_db
def test_ticket__unknown_origin__403(tenant, owner, as_user):
    response = as_user(owner).post(ticket_url(tenant), HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"


@pytest.mark.django_db
def test_ticket__anonymous__401(tenant, api_client):
    assert api_client.post(ticket_url(tenant)).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_ticket__redeemed_concurrently__exactly_one_wins(tenant, owner, as_user):
    body = issue(as_user(owner), tenant)
    results: list[Any] = []
    barrier = threading.Barrier(8)

    def redeem() -> None:
        barrier.wait()
        try:
            results.append(services.ticket_redeem(tenant_id=tenant.pk, ticket=body["ticket"]))
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert sum(r is not None for r in results) == 1


# --- The consumer ----------------------------------------------------------------------------------


def communicator(tenant: Any, ticket: str | None, origin: str | None = ORIGIN) -> WebsocketCommunicator:
    path = f"/ws/tenants/{tenant.pk}/events/" + (f"?ticket={ticket}" if ticket is not None else "")
    headers = [(b"user-agent", b"pytest-ws")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def run(coroutine_function: Any) -> Any:
    return async_to_sync(coroutine_function)()


async def frames(ws: WebsocketCommunicator, wait: float = 1.0) -> list[dict[str, Any]]:
    return await ws.receive_available(wait)


def publish_committed(tenant: Any, event_type: str, data: dict[str, Any]) -> None:
    with transaction.atomic():
        stream.publish(tenant.pk, event_type, data)


@pytest.mark.django_db(transaction=True)
def test_consumer__members_of_two_tenants__each_gets_only_its_own(tenant, other_tenant, as_user):
    alice, bob = member(tenant, "admin"), member(other_tenant, "viewer")  # alice sees every agent
    ticket_a = issue(as_user(alice), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]
    ticket_b = issue(as_user(bob), other_tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    async def scenario() -> tuple[list[Any], list[Any]]:
        a, b = communicator(tenant, ticket_a), communicator(other_tenant, ticket_b)
        assert (await a.connect())[0]
        assert (await b.connect())[0]
        await sync_to_async(publish_committed)(tenant, "agent.status", {"agent_id": "A1", "status": "paused"})
        await sync_to_async(publish_committed)(other_tenant, "task.status", {"task_id": "B1"})
        got_a, got_b = await frames(a), await frames(b)
        await a.disconnect()
        await b.disconnect()
        return got_a, got_b

    got_a, got_b = run(scenario)
    assert got_a == [{"type": "agent.status", "data": {"agent_id": "A1", "status": "paused"}}]
    assert got_b == [{"type": "task.status", "data": {"task_id": "B1"}}]


@pytest.mark.django_db(transaction=True)
def test_consumer__rolled_back_publish__nothing_sent(tenant, owner, as_user):
    ticket = issue(as_user(owner), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    def rolled_back() -> None:
        try:
            with transaction.atomic():
                stream.publish(tenant.pk, "agent.status", {"status": "paused"})
                raise RuntimeError("roll back")
        except RuntimeError:
            pass

    async def scenario() -> list[Any]:
        ws = communicator(tenant, ticket)
        assert (await ws.connect())[0]
        await sync_to_async(rolled_back)()
        got = await frames(ws, 0.5)
        await ws.disconnect()
        return got

    assert run(scenario) == []


@pytest.mark.parametrize(
    ("ticket", "origin"),
    [
        pytest.param(None, ORIGIN, id="missing-ticket"),
        pytest.param("not-a-ticket", ORIGIN, id="bad-ticket"),
        pytest.param("GOOD", "https://evil.example", id="bad-origin"),
        pytest.param("GOOD", "http://localhost:8000", id="other-origin-than-the-tickets"),
        pytest.param("GOOD", None, id="browser-ticket-without-origin"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_consumer__refused_handshake__no_connection_recorded(tenant, owner, as_user, ticket, origin):
    good = issue(as_user(owner), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    async def scenario() -> bool:
        ws = communicator(tenant, good if ticket == "GOOD" else ticket, origin)
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    assert run(scenario) is False
    assert connections() == []


@pytest.mark.django_db(transaction=True)
def test_consumer__reused_ticket__second_refused(tenant, owner, as_user):
    ticket = issue(as_user(owner), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    async def scenario() -> tuple[bool, bool]:
        first, second = communicator(tenant, ticket), communicator(tenant, ticket)
        ok_first = (await first.connect())[0]
        ok_second = (await second.connect())[0]
        await first.disconnect()
        await second.disconnect()
        return ok_first, ok_second

    assert run(scenario) == (True, False)


@pytest.mark.django_db(transaction=True)
def test_consumer__ticket_of_another_tenant_in_the_url__refused(tenant, other_tenant, owner, as_user):
    member(other_tenant, "owner", user=owner)
    ticket = issue(as_user(owner), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    async def scenario() -> bool:
        ws = communicator(other_tenant, ticket)
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    assert run(scenario) is False


@pytest.mark.django_db(transaction=True)
def test_consumer__api_key_without_origin__connects_and_is_recorded(tenant, owner):
    api_key, raw = make_key(tenant, owner, scopes=["agents:read"])
    ticket = issue(with_key(raw), tenant)["ticket"]

    async def scenario() -> list[Any]:
        ws = communicator(tenant, ticket, origin=None)
        assert (await ws.connect())[0]
        open_rows = await sync_to_async(connections)()
        await sync_to_async(publish_committed)(tenant, "task.status", {"task_id": "T"})
        got = await frames(ws, 0.5)
        await ws.disconnect()
        return [open_rows, got]

    open_rows, got = run(scenario)
    (row,) = open_rows
    assert (row.api_key_id, row.user_id, row.disconnected_at) == (api_key.pk, owner.pk, None)
    assert (row.user_agent, row.stream) == ("pytest-ws", "events")
    assert row.channel_name
    assert got == [{"type": "task.status", "data": {"task_id": "T"}}]
    (closed,) = connections()
    assert closed.disconnected_at is not None


@pytest.mark.django_db(transaction=True)
def test_consumer__api_key_expires_while_open__closed_4403_at_the_next_heartbeat(tenant, owner, monkeypatch):
    api_key, raw = make_key(tenant, owner, scopes=["agents:read"])
    ticket = issue(with_key(raw), tenant)["ticket"]
    monkeypatch.setattr(TenantEventsConsumer, "heartbeat_seconds", 0.2)

    def expire() -> None:
        with platform_bypass(reason="test", log=False):
            ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() + timedelta(seconds=1))

    async def scenario() -> tuple[bool, Any]:
        ws = communicator(tenant, ticket, origin=None)
        assert (await ws.connect())[0]
        # Beats while the key is good: still open; then it expires and the next beat closes.
        still_open = await ws.receive_nothing(0.5)
        closed = await ws.receive_output(3)
        await asyncio.sleep(0.3)  # the close is recorded after it is sent
        return still_open, closed

    # The consumer reads the key (and its expiry) at connect: a second from now.
    expire()
    still_open, closed = run(scenario)
    assert still_open is True
    assert closed == {"type": "websocket.close", "code": 4403}
    (row,) = connections()
    assert (row.close_code, row.disconnected_at is not None) == (4403, True)


@pytest.mark.django_db(transaction=True)
def test_consumer__member_removed__their_socket_closed_others_stay(tenant, owner, as_user):
    leaving, staying = member(tenant, "viewer"), member(tenant, "viewer")
    ticket_leaving = issue(as_user(leaving), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]
    ticket_staying = issue(as_user(staying), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    def remove() -> None:
        with tenant_context(tenant, user=owner):
            member_remove(membership=Membership.objects.get(tenant=tenant, user=leaving), actor=owner)

    async def scenario() -> tuple[Any, Any]:
        a, b = communicator(tenant, ticket_leaving), communicator(tenant, ticket_staying)
        assert (await a.connect())[0]
        assert (await b.connect())[0]
        await sync_to_async(remove)()
        closed = await a.receive_output(2)
        await sync_to_async(publish_committed)(tenant, "alert", {"title": "x"})
        still = await frames(b, 0.5)
        await b.disconnect()
        return closed, still

    closed, still = run(scenario)
    assert closed == {"type": "websocket.close", "code": stream.CLOSE_REMOVED}
    assert still == [{"type": "alert", "data": {"title": "x"}}]
    rows = {row.user_id: row for row in connections()}
    assert rows[leaving.pk].disconnected_at is not None
    assert rows[leaving.pk].close_code == stream.CLOSE_REMOVED


@pytest.mark.django_db(transaction=True)
def test_consumer__tenant_suspended__every_socket_closed_and_no_new_one(
    tenant, owner, as_user, platform_admin
):
    ticket = issue(as_user(owner), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]
    second = issue(as_user(owner), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    def suspend() -> None:
        with tenant_context(tenant, user=platform_admin):
            tenant_suspend(tenant=tenant, actor=platform_admin, reason="unpaid")

    async def scenario() -> tuple[Any, bool]:
        ws = communicator(tenant, ticket)
        assert (await ws.connect())[0]
        await sync_to_async(suspend)()
        closed = await ws.receive_output(2)
        again = communicator(tenant, second)
        connected, _ = await again.connect()
        await again.disconnect()
        return closed, connected

    closed, connected = run(scenario)
    assert closed == {"type": "websocket.close", "code": stream.CLOSE_SUSPENDED}
    assert connected is False


# --- Agent visibility on the stream ----------------------------------------------------------------


def agents_of_two_teams(tenant: Any, team: Any) -> tuple[Any, Any]:
    return AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)


def agent_ids(got: list[dict[str, Any]]) -> list[Any]:
    return [frame["data"].get("agent_id", frame["type"]) for frame in got]


@pytest.mark.django_db(transaction=True)
def test_consumer__team_member__only_their_teams_agents_events_owner_every_one(
    tenant, owner, teammate, team, as_user, checks
):
    ours, theirs = agents_of_two_teams(tenant, team)
    ticket_member = issue(as_user(teammate), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]
    ticket_owner = issue(as_user(owner), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    def publish_all() -> None:
        with transaction.atomic():
            events.agent_status(theirs)
            events.agent_status(ours)
            stream.publish(tenant.pk, "activity", {"id": "1", "agent_id": str(theirs.pk)})
            stream.publish(tenant.pk, "task.status", {"task_id": "T", "agent_id": None})  # no agent
            stream.publish(tenant.pk, "alert", {"title": "x"})

    async def scenario() -> tuple[list[Any], list[Any]]:
        m, o = communicator(tenant, ticket_member), communicator(tenant, ticket_owner)
        assert (await m.connect())[0]
        assert (await o.connect())[0]
        await sync_to_async(publish_all)()
        got_m, got_o = await frames(m), await frames(o)
        await m.disconnect()
        await o.disconnect()
        return got_m, got_o

    got_member, got_owner = run(scenario)
    assert agent_ids(got_member) == [str(ours.pk), "alert"]
    assert agent_ids(got_owner) == [str(theirs.pk), str(ours.pk), str(theirs.pk), None, "alert"]
    assert got_member[0] == {"type": "agent.status", "data": got_owner[1]["data"]}
    # The owner is never asked about; the member about the other team's agent once (then cached).
    assert checks == [str(theirs.pk)]


@pytest.mark.django_db(transaction=True)
def test_consumer__agent_shared_or_created_after_connect__delivered_after_the_recheck(
    tenant, owner, teammate, team, as_user, checks, monkeypatch
):
    _, theirs = agents_of_two_teams(tenant, team)
    ticket = issue(as_user(teammate), tenant, HTTP_ORIGIN=ORIGIN)["ticket"]

    def status_of(agent: Any) -> None:
        with transaction.atomic():
            events.agent_status(agent)

    def share() -> None:
        # Granted without the service: agent_share refreshes open streams at once
        # (test_stream_refresh.py); a grant that does not (guardian's own, made elsewhere)
        # reaches the stream through this re-check.
        with tenant_context(tenant, user=owner):
            assign_perm("agents.view_agent", teammate, theirs)

    def new_team_agent() -> Any:
        return AgentFactory.create(tenant=tenant, team=team)

    async def scenario() -> tuple[list[Any], list[Any], list[Any], Any]:
        ws = communicator(tenant, ticket)
        assert (await ws.connect())[0]
        await sync_to_async(status_of)(theirs)
        before = await frames(ws, 0.5)
        await sync_to_async(share)()
        await sync_to_async(status_of)(theirs)
        cached_no = await frames(ws, 0.5)  # the "no" stands for recheck_after_seconds
        monkeypatch.setattr(TenantEventsConsumer, "recheck_after_seconds", 0.0)
        await sync_to_async(status_of)(theirs)
        await sync_to_async(status_of)(theirs)
        after = await frames(ws, 0.5)
        created = await sync_to_async(new_team_agent)()
        await sync_to_async(status_of)(created)
        after += await frames(ws, 0.5)
        await ws.disconnect()
        return before, cached_no, after, created

    before, cached_no, after, created = run(scenario)
    assert (before, cached_no) == ([], [])
    assert agent_ids(after) == [str(theirs.pk), str(theirs.pk), str(created.pk)]
    # Asked before the share, again once the "no" expired (the "yes" is then kept), and about
    # the new agent once.
    assert checks == [str(theirs.pk), str(theirs.pk), str(created.pk)]


@pytest.mark.parametrize(
    ("creator_role", "scopes", "sees"),
    [
        pytest.param("member", ["agents:read"], {"ours"}, id="team-member-key"),
        pytest.param("owner", ["agents:read", "agents:admin"], {"ours", "theirs"}, id="owner-admin-key"),
        # A key sees what its creator's membership sees; scopes narrow actions, not agents.
        pytest.param("owner", ["agents:read"], {"ours", "theirs"}, id="owner-runtime-key"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_consumer__api_key__the_agents_the_api_lists_for_it(tenant, team, creator_role, scopes, sees):
    ours, theirs = agents_of_two_teams(tenant, team)
    creator = member(tenant, creator_role, team=team if creator_role == "member" else None)
    _, raw = make_key(tenant, creator, scopes=scopes)
    client = with_key(raw)
    listed = client.get(f"/api/v1/tenants/{tenant.pk}/agents/")
    assert listed.status_code == 200, listed.content
    names = {str(ours.pk): "ours", str(theirs.pk): "theirs"}
    assert {names[row["id"]] for row in listed.json()["results"]} == sees
    ticket = issue(client, tenant)["ticket"]

    def publish_both() -> None:
        with transaction.atomic():
            events.agent_status(ours)
            events.agent_status(theirs)

    async def scenario() -> list[Any]:
        ws = communicator(tenant, ticket, origin=None)
        assert (await ws.connect())[0]
        await sync_to_async(publish_both)()
        got = await frames(ws, 0.5)
        await ws.disconnect()
        return got

    assert {names[agent_id] for agent_id in agent_ids(run(scenario))} == sees


def test_consumer_recheck_cache__bounded__least_recently_used_dropped(monkeypatch):
    asked: list[str] = []

    def fake(*, access: Any, agent_id: str) -> bool:
        asked.append(agent_id)
        return agent_id == "yes"

    monkeypatch.setattr(services, "agent_visible", fake)
    consumer = TenantEventsConsumer()
    consumer._rechecked = OrderedDict()
    consumer.recheck_cache_size = 2
    consumer.stream = services.OpenStream(
        connection_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        access=None,  # type: ignore[arg-type]
        visible_agents=frozenset({"seen"}),
    )

    def may_see(*agent_ids: str) -> list[bool]:
        # On a loop of its own in a thread of its own: whatever loop an earlier test left in this
        # thread (the browser tests' Playwright) does not matter.
        async def ask() -> list[bool]:
            return [await consumer._may_see({"data": {"agent_id": a}}) for a in agent_ids]

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, ask()).result()

    assert may_see("seen", "yes", "no", "yes", "other", "yes", "no") == [
        True,
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    # "other" pushed out the least recently used ("no": "yes" was used after it), asked again.
    assert asked == ["yes", "no", "other", "no"]
    assert list(consumer._rechecked) == ["yes", "no"]


@pytest.mark.django_db
def test_visible_agent_ids__owner_none__member_their_teams_and_shared(tenant, owner, teammate, team):
    ours, theirs = agents_of_two_teams(tenant, team)
    with tenant_context(tenant):
        as_owner = tenant_access(user=owner, api_key=None, tenant_id=tenant.pk, permission=None, write=False)
        as_member = tenant_access(
            user=teammate, api_key=None, tenant_id=tenant.pk, permission=None, write=False
        )
        assert services.visible_agent_ids(access=as_owner) is None
        assert services.visible_agent_ids(access=as_member) == {str(ours.pk)}
    assert services.agent_visible(access=as_member, agent_id=str(theirs.pk)) is False
    assert services.agent_visible(access=as_member, agent_id="not-a-uuid") is False
    with tenant_context(tenant, user=owner):
        agent_share(agent=theirs, actor=owner, user=teammate, permissions=["view_agent"])
    assert services.agent_visible(access=as_member, agent_id=str(theirs.pk)) is True


@pytest.mark.django_db
def test_connections_api__lists_open_ones_only__pinned_queries(
    tenant, other_tenant, owner, as_user, django_assert_max_num_queries
):
    def open_row(t: Any, user: Any, **fields: Any) -> None:
        with platform_bypass(reason="test", log=False):
            WebsocketConnection.objects.create(tenant=t, user=user, channel_name="c", **fields)

    for _ in range(3):
        open_row(tenant, owner)
    open_row(tenant, owner, disconnected_at=timezone.now())
    open_row(tenant, owner, last_seen_at=timezone.now() - timedelta(minutes=10))  # stale
    open_row(other_tenant, member(other_tenant, "owner"))
    url = f"/api/v1/tenants/{tenant.pk}/stream-connections"
    client = as_user(owner)
    with django_assert_max_num_queries(8):
        body = client.get(url).json()
    assert body["count"] == 3
    assert {row["user_email"] for row in body["results"]} == {owner.email}
    for _ in range(5):
        open_row(tenant, member(tenant, "viewer"))
    with django_assert_max_num_queries(8):
        assert client.get(url).json()["count"] == 8
    assert as_user(member(other_tenant, "viewer")).get(url).status_code == 403


@pytest.mark.django_db
def test_admin_connections__platform_admin__rows_of_every_tenant_read_only(
    client, platform_admin, tenant, other_tenant, owner
):
    for t in (tenant, other_tenant):
        with platform_bypass(reason="test", log=False):
            WebsocketConnection.objects.create(tenant=t, user=owner, channel_name=f"chan-{t.slug}")
    client.force_login(platform_admin)
    response = client.get("/admin/agents/websocketconnection/")
    assert response.status_code == 200
    assert tenant.name.encode() in response.content
    assert other_tenant.name.encode() in response.content
    assert client.get("/admin/agents/websocketconnection/add/").status_code == 403
