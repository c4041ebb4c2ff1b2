"""Agent shares (guardian object permissions) go with what they name: a member removed from a
tenant loses the shares of its agents (so they do not come back with a later re-add), and a
deleted agent takes its users' and groups' rows along."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm

from agents.models import Agent, AgentSession, SessionStatus
from agents.services import agent_delete, agent_share
from agents.tests.factories import AgentFactory, SessionFactory
from audit.models import AuditLogEntry
from core.errors import Conflict
from core.tenancy import platform_bypass, tenant_context
from tenants.models import Membership
from tenants.services.members import member_remove, membership_create, system_role
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def _share(agent: Agent, user: Any, actor: Any, permissions: list[str] | None = None) -> None:
    with tenant_context(agent.tenant_id, user=actor):
        agent_share(
            agent=agent, actor=actor, user=user, permissions=permissions or ["view_agent", "run_agent"]
        )


def _rows(user: Any, agent: Agent | None = None) -> set[tuple[str, str]]:
    """(agent id, codename) of the user's object permissions on agents (on one agent if given)."""
    qs = UserObjectPermission.objects.filter(user=user, content_type=ContentType.objects.get_for_model(Agent))
    if agent is not None:
        qs = qs.filter(object_pk=str(agent.pk))
    return set(qs.values_list("object_pk", "permission__codename"))


def _membership(tenant: Any, user: Any) -> Membership:
    with platform_bypass(reason="test", log=False):
        return Membership.objects.get(tenant=tenant, user=user)


def _remove(tenant: Any, user: Any, actor: Any) -> None:
    with tenant_context(tenant, user=actor):
        member_remove(membership=_membership(tenant, user), actor=actor)


def _readd(tenant: Any, user: Any, actor: Any, role: str = "member") -> None:
    with tenant_context(tenant, user=actor):
        membership_create(tenant=tenant, user=user, role=system_role(role), actor=actor)


def _entries(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


def _listed(as_user: Any, user: Any, tenant: Any) -> list[str]:
    response = as_user(user).get(f"/api/v1/tenants/{tenant.pk}/agents/")
    assert response.status_code == 200, response.content
    return [a["name"] for a in response.json()["results"]]


def test_member_remove__service__their_shares_go_and_a_readd_does_not_bring_them_back(as_user, tenant, owner):
    leaving, staying = member(tenant, "member"), member(tenant, "member")
    shared, also_shared = (
        AgentFactory.create(tenant=tenant, name="Shared"),
        AgentFactory.create(tenant=tenant, name="Also"),
    )
    _share(shared, leaving, owner)
    _share(also_shared, leaving, owner, ["view_agent"])
    _share(shared, staying, owner)
    # The same user in another tenant, with a share there: that tenant's business.
    elsewhere = TenantFactory.create()
    elsewhere_owner = member(elsewhere, "owner")
    member(elsewhere, "member", user=leaving)
    foreign = AgentFactory.create(tenant=elsewhere, name="Foreign")
    _share(foreign, leaving, elsewhere_owner)
    assert sorted(_listed(as_user, leaving, tenant)) == ["Also", "Shared"]

    _remove(tenant, leaving, owner)

    assert _rows(leaving) == {(str(foreign.pk), "view_agent"), (str(foreign.pk), "run_agent")}
    assert _rows(staying) == {(str(shared.pk), "view_agent"), (str(shared.pk), "run_agent")}
    (entry,) = _entries("agent.shares_removed")
    assert str(entry.tenant_id) == str(tenant.pk)
    assert entry.target_id == str(leaving.pk)
    assert entry.details["permissions_removed"] == 3
    assert entry.details["agent_ids"] == sorted([str(shared.pk), str(also_shared.pk)])
    assert entry.actor_label == owner.email
    # Back with the same role: no team, no shares, nothing to see.
    _readd(tenant, leaving, owner)
    assert _listed(as_user, leaving, tenant) == []
    assert _listed(as_user, staying, tenant) == ["Shared"]
    assert _listed(as_user, leaving, elsewhere) == ["Foreign"]


def test_member_remove__api_route__shares_gone_and_readd_sees_nothing(as_user, tenant, owner):
    leaving = member(tenant, "member")
    agent = AgentFactory.create(tenant=tenant, name="Shared")
    _share(agent, leaving, owner, ["view_agent", "change_agent", "run_agent"])
    membership = _membership(tenant, leaving)

    response = as_user(owner).delete(f"/api/v1/tenants/{tenant.pk}/members/{membership.pk}/")

    assert response.status_code == 204, response.content
    assert _rows(leaving) == set()
    (entry,) = _entries("agent.shares_removed")
    assert entry.details["permissions_removed"] == 3
    member(tenant, "member", user=leaving)  # the factory, as an import or a fixture would
    assert _listed(as_user, leaving, tenant) == []


def test_member_remove__one_delete_statement_for_all_their_shares(tenant, owner):
    leaving = member(tenant, "member")
    for agent in AgentFactory.create_batch(4, tenant=tenant):
        _share(agent, leaving, owner)
    assert len(_rows(leaving)) == 8

    with CaptureQueriesContext(connection) as queries:
        _remove(tenant, leaving, owner)

    deletes = [q["sql"] for q in queries if "DELETE FROM" in q["sql"] and "guardian" in q["sql"]]
    assert len(deletes) == 1, deletes
    assert _rows(leaving) == set()


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_member_remove__admin_or_owner_with_shares_from_before__same_rule(as_user, tenant, owner, role):
    """They see every agent, but a share from their time as a member would outlive a demotion."""
    leaving = member(tenant, role)
    agent = AgentFactory.create(tenant=tenant, name="Shared")
    _share(agent, leaving, owner)

    _remove(tenant, leaving, owner)

    assert _rows(leaving) == set()
    _readd(tenant, leaving, owner, role="viewer")
    assert _listed(as_user, leaving, tenant) == []


def test_member_remove__no_shares__no_shares_entry(tenant, owner):
    leaving = member(tenant, "member")
    other = member(tenant, "member")
    _share(AgentFactory.create(tenant=tenant), other, owner)

    _remove(tenant, leaving, owner)

    assert _entries("agent.shares_removed") == []
    assert [e.action for e in _entries("member.removed")] == ["member.removed"]
    assert len(_rows(other)) == 2


def test_member_remove__rolled_back__removes_nothing(tenant, owner):
    leaving = member(tenant, "member")
    agent = AgentFactory.create(tenant=tenant)
    _share(agent, leaving, owner)

    def remove_then_fail() -> None:
        with transaction.atomic():
            _remove(tenant, leaving, owner)
            assert _rows(leaving) == set()  # gone inside the transaction ...
            raise RuntimeError("something after the removal failed")

    with pytest.raises(RuntimeError):
        remove_then_fail()

    assert len(_rows(leaving)) == 2  # ... and back with its rollback
    _membership(tenant, leaving)  # the membership too
    assert _entries("agent.shares_removed") == []


def test_member_remove__last_owner_refused_409__their_shares_stay(as_user, tenant, owner, platform_admin):
    agent = AgentFactory.create(tenant=tenant)
    _share(agent, owner, owner)

    response = as_user(platform_admin).delete(
        f"/api/v1/tenants/{tenant.pk}/members/{_membership(tenant, owner).pk}/"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert len(_rows(owner)) == 2


def test_agent_delete__removes_its_user_and_group_rows_only(tenant, owner):
    user, other_user = member(tenant, "member"), member(tenant, "member")
    doomed, kept = AgentFactory.create(tenant=tenant), AgentFactory.create(tenant=tenant)
    _share(doomed, user, owner)
    _share(kept, user, owner)
    _share(doomed, other_user, owner, ["change_agent"])
    group = Group.objects.create(name="reviewers")
    assign_perm("agents.view_agent", group, doomed)
    assign_perm("agents.view_agent", group, kept)

    with tenant_context(tenant, user=owner):
        agent_delete(agent=doomed, actor=owner)

    assert _rows(user) == {(str(kept.pk), "view_agent"), (str(kept.pk), "run_agent")}
    assert _rows(other_user) == set()
    assert set(GroupObjectPermission.objects.values_list("object_pk", flat=True)) == {str(kept.pk)}
    (entry,) = _entries("agent.deleted")
    assert entry.details["shares_removed"] == 4


def test_agent_delete__refused__rows_stay(tenant, owner):
    user = member(tenant, "member")
    agent = AgentFactory.create(tenant=tenant)
    _share(agent, user, owner)
    SessionFactory.create(tenant=tenant, agent=agent, status=SessionStatus.RUNNING)

    with pytest.raises(Conflict), tenant_context(tenant, user=owner):
        agent_delete(agent=agent, actor=owner)

    assert len(_rows(user)) == 2
    with platform_bypass(reason="test", log=False):
        assert AgentSession.objects.filter(agent_id=agent.pk).exists()


def test_agent_share__not_a_member_or_agent_gone__refused_nothing_granted(tenant: Any) -> None:
    """The share locks the agent and the membership (FOR UPDATE), so it cannot land after a
    concurrent removal or delete has cleaned up: it waits, or finds nothing to share."""
    from accounts.tests.factories import UserFactory
    from core.errors import InvalidInput, NotFound

    owner = member(tenant, "owner")
    agent = AgentFactory.create(tenant=tenant)
    outsider = UserFactory.create()
    with pytest.raises(InvalidInput) as refused:
        _share(agent, outsider, owner)
    assert refused.value.code == "not_a_member"
    assert _rows(outsider) == set()

    teammate = member(tenant, "member")
    with tenant_context(tenant, user=owner), CaptureQueriesContext(connection) as queries:
        agent_share(agent=agent, actor=owner, user=teammate, permissions=["view_agent"])
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert [("agents_agent" in sql, "tenants_membership" in sql) for sql in locks[:2]] == [
        (True, False),
        (False, True),
    ]
    with tenant_context(tenant, user=owner):
        agent_delete(agent=agent, actor=owner)
        with pytest.raises(NotFound):
            agent_share(agent=agent, actor=owner, user=teammate, permissions=["view_agent"])
    assert _rows(teammate) == set()


def test_migration_0008__orphan_shares_of_before__pruned_the_rest_kept(tenant: Any) -> None:
    """Shares left by removals and deletes made before the clean-up existed (made here by going
    round the services) are deleted by the data migration; live ones stay."""
    import importlib

    from django.db import connection as conn

    migration = importlib.import_module("agents.migrations.0008_prune_orphan_shares")
    owner = member(tenant, "owner")
    stays, leaves = member(tenant, "member"), member(tenant, "member")
    kept, gone = AgentFactory.create(tenant=tenant), AgentFactory.create(tenant=tenant)
    group = Group.objects.create(name="ops")
    for user in (stays, leaves):
        _share(kept, user, owner)
    _share(gone, stays, owner)
    with tenant_context(tenant, user=owner):
        assign_perm("agents.view_agent", group, gone)
        assign_perm("agents.view_agent", group, kept)
    with platform_bypass(reason="test: as before the clean-up", log=False):
        Membership.objects.filter(tenant=tenant, user=leaves).delete()
        Agent.objects.filter(pk=gone.pk).delete()

    with conn.schema_editor() as editor:
        migration.prune(None, editor)

    assert _rows(stays) == {(str(kept.pk), "view_agent"), (str(kept.pk), "run_agent")}
    assert _rows(leaves) == set()
    groups = GroupObjectPermission.objects.filter(group=group).values_list("object_pk", flat=True)
    assert list(groups) == [str(kept.pk)]
