"""The live stream follows who sees which agent (issue 13): a share granted or revoked, a
member's team or role, an agent's team, a team deleted, a role's permissions, an API key
revoked, an account locked or deactivated reach open websockets once the write commits
(core.stream.refresh -> the consumer asks the gate again), not at the next connect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, transaction

from accounts.models import User
from accounts.services import account_lock
from accounts.services.users import ADMIN_EDITABLE_FIELDS, user_save_from_admin
from accounts.tests.test_api_keys import make_key, with_key
from agents.services import agent_share, agent_update
from agents.stream import events, services
from agents.tests.factories import AgentFactory
from agents.tests.test_stream import ORIGIN, communicator, connections, issue, run
from core import stream
from core.tenancy import tenant_context
from tenants.models import Membership
from tenants.services.members import member_update
from tenants.services.teams import team_delete
from tenants.tests.factories import MembershipFactory, RoleFactory, TeamFactory, member, system_role

API = "/api/v1/tenants"


def status_of(*agents: Any) -> None:
    with transaction.atomic():
        for agent in agents:
            events.agent_status(agent)


async def outputs(ws: Any, names: dict[str, str], wait: float = 0.5) -> list[Any]:
    """What the server sent within `wait` seconds: each frame's agent by name, a close as
    ("close", code)."""
    await asyncio.sleep(wait)
    got: list[Any] = []
    while not ws.output_queue.empty():
        message = ws.output_queue.get_nowait()
        if message["type"] == "websocket.close":
            got.append(("close", message.get("code")))
        else:
            frame = json.loads(message["text"])
            got.append(names.get(str(frame["data"].get("agent_id")), frame["type"]))
    return got


Socket = tuple[Any, str, str | None]  # tenant, ticket, origin


def watch(
    sockets: dict[str, Socket], agents: dict[str, Any], trigger: Callable[[], Any], *, wait: float = 0.5
) -> dict[str, tuple[list[Any], list[Any]]]:
    """Open each socket; an event of each agent (in its tenant); `trigger()`; an event of each
    agent again. What each socket got before and after the trigger, agents by name."""
    names = {str(agent.pk): name for name, agent in agents.items()}

    async def scenario() -> dict[str, tuple[list[Any], list[Any]]]:
        opened = {name: communicator(*socket) for name, socket in sockets.items()}
        for ws in opened.values():
            assert (await ws.connect())[0]
        await sync_to_async(status_of)(*agents.values())
        before = {name: await outputs(ws, names, wait) for name, ws in opened.items()}
        await sync_to_async(trigger)()
        await sync_to_async(status_of)(*agents.values())
        after = {name: await outputs(ws, names, wait) for name, ws in opened.items()}
        for ws in opened.values():
            await ws.disconnect()  # raises if the application crashed
        return {name: (before[name], after[name]) for name in opened}

    return run(scenario)


def browser(client: Any, tenant: Any) -> Socket:
    return tenant, issue(client, tenant, HTTP_ORIGIN=ORIGIN)["ticket"], ORIGIN


def script(raw_key: str, tenant: Any) -> Socket:
    return tenant, issue(with_key(raw_key), tenant)["ticket"], None


@pytest.fixture
def refreshes(monkeypatch: Any) -> list[str]:
    """The users whose streams were refreshed (services.stream_refresh: the gate asked again)."""
    refreshed: list[str] = []
    real = services.stream_refresh

    def spy(open_stream: services.OpenStream) -> services.OpenStream:
        refreshed.append(str(open_stream.user_id))
        return real(open_stream)

    monkeypatch.setattr(services, "stream_refresh", spy)
    return refreshed


def closed_codes() -> dict[Any, Any]:
    return {row.user_id: row.close_code for row in connections()}


# --- Shares ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_share_revoked__that_agents_events_stop_at_once_the_teams_still_come(
    tenant, owner, teammate, team, as_user
):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)
    with tenant_context(tenant, user=owner):
        agent_share(agent=theirs, actor=owner, user=teammate, permissions=["view_agent"])

    def unshare() -> None:
        with tenant_context(tenant, user=owner):
            agent_share(agent=theirs, actor=owner, user=teammate, permissions=[])

    got = watch({"m": browser(as_user(teammate), tenant)}, {"ours": ours, "theirs": theirs}, unshare)
    assert got["m"] == (["ours", "theirs"], ["ours"])


@pytest.mark.django_db(transaction=True)
def test_share_granted_through_the_api__arrives_at_once_without_a_recheck(
    tenant, owner, teammate, team, as_user, checks
):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)

    def share() -> None:
        response = as_user(owner).post(
            f"{API}/{tenant.pk}/agents/{theirs.pk}/share",
            {"user_id": str(teammate.pk), "permissions": ["view_agent"]},
            format="json",
        )
        assert response.status_code == 200, response.content

    got = watch({"m": browser(as_user(teammate), tenant)}, {"ours": ours, "theirs": theirs}, share)
    assert got["m"] == (["ours"], ["ours", "theirs"])
    # Asked about once before the share (a "no", kept 60 s); after it the refreshed set has it.
    assert checks == [str(theirs.pk)]


# --- Members: team and role --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_member_taken_out_of_their_team_through_the_api__team_agents_stop_shared_one_stays(
    tenant, owner, teammate, team, as_user
):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)
    with tenant_context(tenant, user=owner):
        agent_share(agent=theirs, actor=owner, user=teammate, permissions=["view_agent"])
        membership = Membership.objects.get(tenant=tenant, user=teammate)

    def clear_team() -> None:
        response = as_user(owner).patch(
            f"{API}/{tenant.pk}/members/{membership.pk}/", {"team_id": None}, format="json"
        )
        assert response.status_code == 200, response.content

    got = watch({"m": browser(as_user(teammate), tenant)}, {"ours": ours, "theirs": theirs}, clear_team)
    assert got["m"] == (["ours", "theirs"], ["theirs"])


@pytest.mark.django_db(transaction=True)
def test_member_moved_to_another_team__the_old_teams_agents_stop_the_new_ones_come(
    tenant, owner, teammate, team, as_user
):
    other_team = TeamFactory.create(tenant=tenant)
    ours, theirs = (
        AgentFactory.create(tenant=tenant, team=team),
        AgentFactory.create(tenant=tenant, team=other_team),
    )

    def move() -> None:
        with tenant_context(tenant, user=owner):
            membership = Membership.objects.get(tenant=tenant, user=teammate)
            member_update(membership=membership, actor=owner, team=other_team)

    got = watch({"m": browser(as_user(teammate), tenant)}, {"ours": ours, "theirs": theirs}, move)
    assert got["m"] == (["ours"], ["theirs"])


@pytest.mark.django_db(transaction=True)
def test_admin_lowered_to_member_through_the_api__only_their_teams_agents_after(tenant, owner, team, as_user):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)
    lowered = member(tenant, "admin", team=team)
    with tenant_context(tenant, user=owner):
        membership = Membership.objects.get(tenant=tenant, user=lowered)

    def lower() -> None:
        response = as_user(owner).patch(
            f"{API}/{tenant.pk}/members/{membership.pk}/",
            {"role_id": str(system_role("member").pk)},
            format="json",
        )
        assert response.status_code == 200, response.content

    got = watch({"a": browser(as_user(lowered), tenant)}, {"ours": ours, "theirs": theirs}, lower)
    assert got["a"] == (["ours", "theirs"], ["ours"])


@pytest.mark.parametrize("how", ["role_changed_through_the_api", "member_given_another_role"])
@pytest.mark.django_db(transaction=True)
def test_member_loses_agents_read__their_stream_closed_4403_others_stay(tenant, owner, team, as_user, how):
    ours = AgentFactory.create(tenant=tenant, team=team)
    reader = RoleFactory.create(tenant=tenant, permissions=["agents:read"])
    losing = MembershipFactory.create(tenant=tenant, team=team, role=reader).user
    staying = member(tenant, "viewer", team=team)

    def take_agents_read() -> None:
        if how == "role_changed_through_the_api":
            response = as_user(owner).patch(
                f"{API}/{tenant.pk}/roles/{reader.pk}/", {"permissions": ["teams:read"]}, format="json"
            )
            assert response.status_code == 200, response.content
            return
        blind = RoleFactory.create(tenant=tenant, permissions=["teams:read"])
        with tenant_context(tenant, user=owner):
            membership = Membership.objects.get(tenant=tenant, user=losing)
            member_update(membership=membership, actor=owner, role=blind)

    got = watch(
        {"losing": browser(as_user(losing), tenant), "staying": browser(as_user(staying), tenant)},
        {"ours": ours},
        take_agents_read,
    )
    assert got["losing"] == (["ours"], [("close", stream.CLOSE_REMOVED)])
    assert got["staying"] == (["ours"], ["ours"])  # another role: not refused
    codes = closed_codes()
    assert codes[losing.pk] == stream.CLOSE_REMOVED
    assert codes[staying.pk] == 1000  # closed by the client at the end


# --- Agents and teams ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_agent_moved_to_another_team_through_the_api__old_team_stops_new_team_starts(
    tenant, owner, teammate, team, as_user
):
    other_team = TeamFactory.create(tenant=tenant)
    newcomer = member(tenant, team=other_team)
    moving, staying = (
        AgentFactory.create(tenant=tenant, team=team),
        AgentFactory.create(tenant=tenant, team=team),
    )

    def move() -> None:
        response = as_user(owner).patch(
            f"{API}/{tenant.pk}/agents/{moving.pk}/", {"team_id": str(other_team.pk)}, format="json"
        )
        assert response.status_code == 200, response.content

    got = watch(
        {
            "old": browser(as_user(teammate), tenant),
            "new": browser(as_user(newcomer), tenant),
            "owner": browser(as_user(owner), tenant),
        },
        {"moving": moving, "staying": staying},
        move,
    )
    assert got["old"] == (["moving", "staying"], ["staying"])
    assert got["new"] == ([], ["moving"])
    assert got["owner"] == (["moving", "staying"], ["moving", "staying"])


@pytest.mark.django_db(transaction=True)
def test_agent_renamed__no_refresh(tenant, owner, teammate, team, as_user, refreshes):
    ours = AgentFactory.create(tenant=tenant, team=team)

    def rename() -> None:
        with tenant_context(tenant, user=owner):
            agent_update(agent=ours, actor=owner, data={"name": "Renamed"})

    got = watch({"m": browser(as_user(teammate), tenant)}, {"ours": ours}, rename)
    assert got["m"] == (["ours"], ["ours"])
    assert refreshes == []


@pytest.mark.django_db(transaction=True)
def test_team_deleted__its_members_stop_getting_its_agents_shared_one_stays(
    tenant, owner, teammate, team, as_user
):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)
    with tenant_context(tenant, user=owner):
        agent_share(agent=theirs, actor=owner, user=teammate, permissions=["view_agent"])

    def delete() -> None:
        with tenant_context(tenant, user=owner):
            team_delete(team=team, actor=owner)

    got = watch({"m": browser(as_user(teammate), tenant)}, {"ours": ours, "theirs": theirs}, delete)
    assert got["m"] == (["ours", "theirs"], ["theirs"])


# --- API keys, locks, deactivation ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_api_key_revoked_through_the_api__its_stream_closed_the_users_browser_stream_stays(
    tenant, owner, teammate, team, as_user
):
    ours = AgentFactory.create(tenant=tenant, team=team)
    api_key, raw = make_key(tenant, teammate, scopes=["agents:read"])

    def revoke() -> None:
        response = as_user(owner).post(f"{API}/{tenant.pk}/api-keys/{api_key.pk}/revoke")
        assert response.status_code == 200, response.content

    got = watch(
        {"key": script(raw, tenant), "browser": browser(as_user(teammate), tenant)}, {"ours": ours}, revoke
    )
    assert got["key"] == (["ours"], [("close", stream.CLOSE_REMOVED)])
    assert got["browser"] == (["ours"], ["ours"])
    rows = {row.api_key_id: row.close_code for row in connections()}
    assert rows[api_key.pk] == stream.CLOSE_REMOVED


@pytest.mark.django_db(transaction=True)
def test_account_locked__browser_streams_closed_in_every_tenant_key_stream_stays(
    tenant, other_tenant, owner, teammate, team, as_user, platform_admin
):
    ours, elsewhere = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=other_tenant)
    member(other_tenant, "admin", user=teammate)  # sees every agent there
    _, raw = make_key(tenant, teammate, scopes=["agents:read"])

    def lock() -> None:
        account_lock(user=teammate, actor=platform_admin, reason="stolen laptop")

    got = watch(
        {
            "browser": browser(as_user(teammate), tenant),
            "browser_elsewhere": browser(as_user(teammate), other_tenant),
            "key": script(raw, tenant),
        },
        {"ours": ours, "elsewhere": elsewhere},
        lock,
    )
    assert got["browser"] == (["ours"], [("close", stream.CLOSE_REMOVED)])
    assert got["browser_elsewhere"] == (["elsewhere"], [("close", stream.CLOSE_REMOVED)])
    assert got["key"] == (["ours"], ["ours"])  # the key still works on the API, so here too


@pytest.mark.django_db(transaction=True)
def test_user_deactivated_in_the_back_office__every_stream_closed(
    tenant, teammate, team, as_user, platform_admin
):
    ours = AgentFactory.create(tenant=tenant, team=team)
    _, raw = make_key(tenant, teammate, scopes=["agents:read"])

    def deactivate() -> None:
        user = User.objects.get(pk=teammate.pk)
        before = {field: getattr(user, field) for field in ADMIN_EDITABLE_FIELDS}
        user.is_active = False
        user_save_from_admin(user=user, actor=platform_admin, created=False, before=before)

    got = watch(
        {"key": script(raw, tenant), "browser": browser(as_user(teammate), tenant)},
        {"ours": ours},
        deactivate,
    )
    assert got["key"] == (["ours"], [("close", stream.CLOSE_REMOVED)])
    assert got["browser"] == (["ours"], [("close", stream.CLOSE_REMOVED)])


# --- The consumer's side -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_refresh_slow__events_meanwhile_wait_and_are_judged_by_the_new_set(
    tenant, owner, teammate, team, as_user, monkeypatch
):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)
    with tenant_context(tenant, user=owner):
        agent_share(agent=theirs, actor=owner, user=teammate, permissions=["view_agent"])
    real = services.stream_refresh

    def slow(open_stream: services.OpenStream) -> services.OpenStream:
        import time

        time.sleep(0.3)  # the events below are published while this runs
        return real(open_stream)

    monkeypatch.setattr(services, "stream_refresh", slow)

    def unshare_then_publish_at_once() -> None:
        with tenant_context(tenant, user=owner):
            agent_share(agent=theirs, actor=owner, user=teammate, permissions=[])
        for _ in range(3):
            status_of(theirs, ours)

    got = watch(
        {"m": browser(as_user(teammate), tenant)},
        {"ours": ours, "theirs": theirs},
        unshare_then_publish_at_once,
        wait=1.0,
    )
    assert got["m"] == (["ours", "theirs"], ["ours", "ours", "ours", "ours"])


@pytest.mark.django_db(transaction=True)
def test_refresh_fails__closed_1011_so_the_client_comes_back(
    tenant, owner, teammate, team, as_user, monkeypatch
):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)

    def database_away(open_stream: services.OpenStream) -> services.OpenStream:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "stream_refresh", database_away)

    def share() -> None:
        with tenant_context(tenant, user=owner):
            agent_share(agent=theirs, actor=owner, user=teammate, permissions=["view_agent"])

    got = watch({"m": browser(as_user(teammate), tenant)}, {"ours": ours, "theirs": theirs}, share)
    assert got["m"] == (["ours"], [("close", 1011)])
    assert 1011 not in (stream.CLOSE_REMOVED, stream.CLOSE_SUSPENDED)  # the console reconnects


@pytest.mark.django_db(transaction=True)
def test_refresh_of_one_user__other_connections_not_asked(tenant, owner, teammate, team, as_user, refreshes):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)
    bystander = member(tenant, team=team)

    def share() -> None:
        with tenant_context(tenant, user=owner):
            agent_share(agent=theirs, actor=owner, user=teammate, permissions=["view_agent"])

    got = watch(
        {"m": browser(as_user(teammate), tenant), "b": browser(as_user(bystander), tenant)},
        {"ours": ours, "theirs": theirs},
        share,
    )
    assert got["m"][1] == ["ours", "theirs"]
    assert got["b"] == (["ours"], ["ours"])
    assert refreshes == [str(teammate.pk)]


@pytest.mark.django_db(transaction=True)
def test_share_rolled_back__no_refresh_sent(tenant, owner, teammate, team, as_user, refreshes):
    ours, theirs = AgentFactory.create(tenant=tenant, team=team), AgentFactory.create(tenant=tenant)

    def share_then_fail() -> None:
        try:
            with transaction.atomic(), tenant_context(tenant, user=owner):
                agent_share(agent=theirs, actor=owner, user=teammate, permissions=["view_agent"])
                raise RuntimeError("roll back")
        except RuntimeError:
            pass

    got = watch({"m": browser(as_user(teammate), tenant)}, {"ours": ours}, share_then_fail)
    assert got["m"] == (["ours"], ["ours"])
    assert refreshes == []
