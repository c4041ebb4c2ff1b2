"""The participant graph kept in step: hooks from memberships, invites, agents and sessions; the
backfill (idempotent); lifecycle stages; inferred relationships."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.tests.factories import UserFactory
from agents.tests.factories import AgentFactory, SessionFactory
from core.tenancy import platform_bypass, tenant_context
from insights.models import Participant, Relationship
from insights.services.graph import lifecycle_stage, participants_sync, syncs_deferred
from tenants.services.invites import invite_accept, invite_create, invite_revoke
from tenants.services.members import member_remove
from tenants.tests.factories import MembershipFactory, TeamFactory, member, system_role

pytestmark = pytest.mark.django_db


def nodes(tenant: Any) -> dict[str, tuple[str, str]]:
    """display_name → (kind, stage)."""
    with platform_bypass(reason="test", log=False):
        return {
            p.display_name: (p.kind, p.lifecycle_stage) for p in Participant.objects.filter(tenant=tenant)
        }


def edges(tenant: Any) -> set[tuple[str, str, str]]:
    with platform_bypass(reason="test", log=False):
        return {
            (e.from_participant.display_name, e.type, e.to_participant.display_name)
            for e in Relationship.objects.filter(tenant=tenant).select_related(
                "from_participant", "to_participant"
            )
        }


def test_invite_then_accept__invitee_becomes_the_member_with_an_invited_edge(tenant, owner):
    owner.full_name = "Olga Owner"
    owner.save()
    with tenant_context(tenant):
        _invite, token = invite_create(
            tenant=tenant, actor=owner, email="new@example.com", role=system_role("member")
        )
    assert nodes(tenant)["new@example.com"] == ("invitee", "invited")
    assert ("Olga Owner", "invited", "new@example.com") in edges(tenant)
    with platform_bypass(reason="test", log=False):
        invitee_id = Participant.objects.get(tenant=tenant, kind="invitee").pk

    invite_accept(token=token, password="a long enough pass phrase 1", full_name="Nina New")

    with platform_bypass(reason="test", log=False):
        joined = Participant.objects.get(tenant=tenant, email="new@example.com")
    assert joined.pk == invitee_id  # the same node, now a member
    assert (joined.kind, joined.display_name, joined.origin) == ("member", "Nina New", "invited")
    assert joined.lifecycle_stage == "onboarding"
    assert ("Olga Owner", "invited", "Nina New") in edges(tenant)


def test_syncs_deferred__many_invites__graph_synced_once_at_the_end(tenant, owner):
    with tenant_context(tenant), syncs_deferred():
        for n in range(3):
            email = f"bulk{n}@example.com"
            invite_create(tenant=tenant, actor=owner, email=email, role=system_role("member"))
        assert "bulk0@example.com" not in nodes(tenant)  # noted, not synced yet

    assert {name for name, (kind, _) in nodes(tenant).items() if kind == "invitee"} == {
        "bulk0@example.com",
        "bulk1@example.com",
        "bulk2@example.com",
    }
    with tenant_context(tenant):  # and outside the block, a change is synced at once again
        invite_create(tenant=tenant, actor=owner, email="after@example.com", role=system_role("member"))
    assert nodes(tenant)["after@example.com"] == ("invitee", "invited")


def test_invite_revoked__invitee_churned_and_its_edge_gone(tenant, owner):
    with tenant_context(tenant):
        invite, _ = invite_create(
            tenant=tenant, actor=owner, email="gone@example.com", role=system_role("member")
        )
        invite_revoke(invite=invite, actor=owner)
    assert nodes(tenant)["gone@example.com"] == ("invitee", "churned")
    assert not [e for e in edges(tenant) if e[2] == "gone@example.com"]


def test_member_removed__participant_kept_as_churned(tenant, owner):
    person = member(tenant, "member", user=UserFactory.create(full_name="Leaving Lee"))
    participants_sync(tenant=tenant)
    assert nodes(tenant)["Leaving Lee"][1] == "onboarding"
    with tenant_context(tenant):
        membership = person.memberships.get(tenant=tenant)
        member_remove(membership=membership, actor=owner)
    assert nodes(tenant)["Leaving Lee"] == ("member", "churned")


def test_agents_and_sessions__assists_spawned_collaborates(tenant, owner):
    owner.full_name = "Olga Owner"
    owner.save()
    lead = AgentFactory.create(tenant=tenant, name="Lead", assisted_user=owner, last_active_at=timezone.now())
    worker = AgentFactory.create(tenant=tenant, name="Worker")
    helper = AgentFactory.create(tenant=tenant, name="Helper")
    root = SessionFactory.create(tenant=tenant, agent=lead)
    SessionFactory.create(tenant=tenant, agent=worker, parent=root)
    SessionFactory.create(tenant=tenant, agent=helper, parent=root)
    result = participants_sync(tenant=tenant)
    got = edges(tenant)
    assert ("Lead", "assists", "Olga Owner") in got
    assert ("Lead", "spawned", "Worker") in got
    assert ("Lead", "spawned", "Helper") in got
    # Worker and Helper share the tree without one spawning the other: collaborators, stored once.
    collab = {(a, b) for a, t, b in got if t == "collaborates"}
    assert collab in ({("Worker", "Helper")}, {("Helper", "Worker")})
    assert nodes(tenant)["Lead"] == ("agent", "active")
    assert result.created == 4

    again = participants_sync(tenant=tenant)  # idempotent
    assert (again.created, again.updated, again.edges_created, again.edges_removed) == (0, 0, 0, 0)


def test_team__admin_manages_members_and_members_collaborate(tenant):
    team = TeamFactory.create(tenant=tenant)
    boss = MembershipFactory.create(
        tenant=tenant, team=team, role=system_role("admin"), user=UserFactory.create(full_name="Boss")
    )
    for name in ("Ann", "Bob"):
        MembershipFactory.create(
            tenant=tenant, team=team, role=system_role("member"), user=UserFactory.create(full_name=name)
        )
    participants_sync(tenant=tenant)
    got = edges(tenant)
    assert {("Boss", "manages", "Ann"), ("Boss", "manages", "Bob")} <= got
    assert ("Ann", "collaborates", "Bob") in got or ("Bob", "collaborates", "Ann") in got
    assert boss.user.full_name == "Boss"


def test_spawn_through_the_service__edge_added_at_once(tenant, owner, price):
    from agents.services.sessions import session_spawn, session_start
    from billing.tests.factories import fund

    fund(tenant, "100")
    with tenant_context(tenant):
        lead = AgentFactory.create(tenant=tenant, name="Lead")
        worker = AgentFactory.create(tenant=tenant, name="Worker")
        participants_sync(tenant=tenant)
        root = session_start(tenant=tenant, agent=lead, actor=owner)
        session_spawn(tenant=tenant, parent=root, actor=owner, agent=worker)
    assert ("Lead", "spawned", "Worker") in edges(tenant)


def test_lifecycle_stage__rules():
    now = timezone.now()
    assert lifecycle_stage(now=now, gone=True, last_activity=now) == "churned"
    assert lifecycle_stage(now=now, pending_invite=True) == "invited"
    assert lifecycle_stage(now=now, last_activity=now - timedelta(days=29)) == "active"
    assert lifecycle_stage(now=now, joined=now - timedelta(days=3)) == "onboarding"
    assert lifecycle_stage(now=now, provisioning=True, joined=now - timedelta(days=90)) == "onboarding"
    assert (
        lifecycle_stage(now=now, last_activity=now - timedelta(days=31), joined=now - timedelta(days=90))
        == "dormant"
    )


def test_sync_participants_command__backfills_every_tenant_idempotently(tenant, other_tenant, capsys):
    member(tenant, "member", user=UserFactory.create(full_name="Here"))
    member(other_tenant, "member", user=UserFactory.create(full_name="There"))
    call_command("sync_participants")
    assert "Here" in nodes(tenant)
    assert "There" in nodes(other_tenant)
    call_command("sync_participants", "--tenant", str(tenant.pk))
    with platform_bypass(reason="test", log=False):
        assert Participant.objects.filter(tenant=tenant, display_name="Here").count() == 1
    assert "participants created 0" in capsys.readouterr().out.splitlines()[-1]


def test_rls__participants_of_another_tenant_invisible(tenant, other_tenant):
    member(other_tenant, "member")
    participants_sync(tenant=other_tenant)
    with tenant_context(tenant):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM insights_participant")
            assert cursor.fetchone()[0] == 0
