"""Agents over HTTP: create from a template or from scratch, limits, the status machine,
visibility (team, sharing, owners), skills, isolation between tenants."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from agents.models import Agent, Skill
from agents.tests.factories import AgentFactory, SkillFactory, TemplateFactory
from audit.models import AuditLogEntry
from billing.tests.factories import make_subscription
from core.tenancy import platform_bypass
from tenants.models import Tenant
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def url(tenant: Any, rest: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/agents/{rest}"


def _audit(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action))


def test_agent_create__from_template__takes_its_defaults(as_user, tenant, owner):
    template = TemplateFactory.create(description="Finds bugs", avatar_icon="bug")
    response = as_user(owner).post(
        url(tenant), {"name": "Bugsy", "template_id": str(template.pk)}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["role"], body["model_tier"], body["thinking_mode"]) == ("engineering", "opus", "high")
    assert body["tool_policy"] == {"allow": ["web.search"], "deny": []}
    assert body["status"] == "provisioning"
    assert body["template"] == str(template.pk)
    assert [e.target_id for e in _audit("agent.created")] == [body["id"]]


def test_agent_create__from_scratch__takes_tenant_model_defaults(as_user, tenant, owner):
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(
            model_defaults={"model_tier": "haiku", "thinking_mode": "low"}
        )
    body = as_user(owner).post(url(tenant), {"name": "Scratch"}, format="json").json()
    assert (body["model_tier"], body["thinking_mode"], body["role"]) == ("haiku", "low", "custom")


def test_agent_create__past_max_agents__422_limit_exceeded(as_user, tenant, owner):
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(resource_limits={"max_agents": 1})
    client = as_user(owner)
    assert client.post(url(tenant), {"name": "One"}, format="json").status_code == 201
    response = client.post(url(tenant), {"name": "Two"}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "limit_exceeded"


def test_agent_create__past_subscription_slots__422_agent_slots_exhausted(as_user, tenant, owner):
    make_subscription(tenant)  # starter: its plan's slots
    from billing.models import Subscription

    with platform_bypass(reason="test", log=False):
        slots = Subscription.objects.get(tenant=tenant).agent_slots
    AgentFactory.create_batch(slots, tenant=tenant)
    response = as_user(owner).post(url(tenant), {"name": "Extra"}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "agent_slots_exhausted"


@pytest.mark.django_db(transaction=True)
def test_agent_create__concurrent_past_limit__never_more_than_max(tenant, owner):
    """Eight concurrent creations against max_agents = 3: exactly three succeed."""
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(resource_limits={"max_agents": 3})
    from rest_framework.test import APIClient

    statuses: list[int] = []

    def create(n: int) -> None:
        client = APIClient()
        client.force_authenticate(owner)
        try:
            statuses.append(client.post(url(tenant), {"name": f"Racer {n}"}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 201, 201, 422, 422, 422, 422, 422]
    with platform_bypass(reason="test", log=False):
        assert Agent.objects.filter(tenant=tenant).count() == 3


def test_agent_create__bad_input__400_with_code(as_user, tenant, owner, other_tenant):
    client = as_user(owner)
    cases = [
        ({"name": "x", "tool_policy": {"allow": ["a"], "deny": ["a"]}}, "tool_policy"),
        ({"name": "x", "model_tier": "gigantic"}, "model_tier"),
        ({"name": "x\x00y"}, None),
        ({"name": "x", "status": "active"}, "status"),  # not writable: no mass assignment
        ({"name": "x", "team_id": str(__import__("uuid").uuid4())}, "team_id"),
    ]
    for body, field in cases:
        response = client.post(url(tenant), body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["code"], body
        if field:
            assert field in response.json()["errors"], (body, response.json())


def test_agent_create__another_tenants_team__400(as_user, tenant, owner, other_tenant):
    from tenants.tests.factories import TeamFactory

    foreign = TeamFactory.create(tenant=other_tenant)
    response = as_user(owner).post(url(tenant), {"name": "x", "team_id": str(foreign.pk)}, format="json")
    assert response.status_code == 400
    assert "team_id" in response.json()["errors"]


def test_agent_pause_resume__legal__moves_and_audits(as_user, tenant, owner):
    agent = AgentFactory.create(tenant=tenant, status="active")
    client = as_user(owner)
    response = client.post(url(tenant, f"{agent.pk}/pause"), {"reason": "budget review"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "paused"
    assert response.json()["status_reason"] == "budget review"
    response = client.post(url(tenant, f"{agent.pk}/resume"), {}, format="json")
    assert response.json()["status"] == "idle"
    assert len(_audit("agent.paused")) == 1
    assert len(_audit("agent.resumed")) == 1


def test_agent_transition__illegal__409(as_user, tenant, owner):
    agent = AgentFactory.create(tenant=tenant, status="paused")
    client = as_user(owner)
    response = client.post(url(tenant, f"{agent.pk}/pause"), {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    response = client.post(url(tenant, f"{agent.pk}/status"), {"status": "active"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    idle = AgentFactory.create(tenant=tenant, status="idle")
    response = client.post(url(tenant, f"{idle.pk}/resume"), {}, format="json")
    assert response.status_code == 409


def _stamps(agent: Any) -> tuple[Any, Any]:
    with platform_bypass(reason="test", log=False):
        agent.refresh_from_db()
    return agent.last_active_at, agent.status_changed_at


def test_agent_report_status__same_status__no_op_answered_with_the_agent(as_user, tenant, owner):
    """A runtime reports on every heartbeat: the status it already has changes nothing (no audit
    entry, no 409), except that `active` moves last_active_at."""
    agent = AgentFactory.create(tenant=tenant, status="idle")
    client = as_user(owner)
    first = client.post(url(tenant, f"{agent.pk}/status"), {"status": "active"}, format="json")
    assert first.status_code == 200
    assert first.json()["status"] == "active"
    seen, changed = _stamps(agent)
    again = client.post(url(tenant, f"{agent.pk}/status"), {"status": "active"}, format="json")
    assert again.status_code == 200
    assert again.json()["status"] == "active"
    now_seen, now_changed = _stamps(agent)
    assert now_seen > seen
    assert now_changed == changed
    idle = client.post(url(tenant, f"{agent.pk}/status"), {"status": "idle"}, format="json")
    assert (
        client.post(url(tenant, f"{agent.pk}/status"), {"status": "idle"}, format="json").json()
        == idle.json()
    )
    assert len(_audit("agent.activated")) == 1
    assert len(_audit("agent.idled")) == 1


def test_agent_update_and_delete__owner__changes_then_removes(as_user, tenant, owner):
    agent = AgentFactory.create(tenant=tenant)
    client = as_user(owner)
    response = client.patch(
        url(tenant, f"{agent.pk}/"), {"description": "new", "model_tier": "opus"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["model_tier"] == "opus"
    assert client.delete(url(tenant, f"{agent.pk}/")).status_code == 204
    assert client.get(url(tenant, f"{agent.pk}/")).status_code == 404


def test_agents__viewer_writes__403(as_user, tenant, viewer):
    agent = AgentFactory.create(tenant=tenant)
    client = as_user(viewer)
    assert client.get(url(tenant)).status_code == 200
    for response in (
        client.post(url(tenant), {"name": "x"}, format="json"),
        client.post(url(tenant, f"{agent.pk}/pause"), {}, format="json"),
        client.delete(url(tenant, f"{agent.pk}/")),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "missing_permission"


def test_agents__other_tenants_agent__404(as_user, tenant, owner, other_tenant):
    foreign = AgentFactory.create(tenant=other_tenant)
    client = as_user(owner)
    assert client.get(url(tenant, f"{foreign.pk}/")).status_code == 404
    assert client.post(url(tenant, f"{foreign.pk}/pause"), {}, format="json").status_code == 404
    assert client.get(url(tenant)).json()["results"] == []


def test_agents_visibility__member__team_and_shared_only(as_user, tenant, owner, team, teammate):
    mine = AgentFactory.create(tenant=tenant, team=team, name="Team agent")
    other = AgentFactory.create(tenant=tenant, name="Other agent")
    shared = AgentFactory.create(tenant=tenant, name="Shared agent")
    response = as_user(owner).post(
        url(tenant, f"{shared.pk}/share"),
        {"user_id": str(teammate.pk), "permissions": ["view_agent"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    client = as_user(teammate)
    names = [a["name"] for a in client.get(url(tenant)).json()["results"]]
    assert names == ["Shared agent", "Team agent"]
    assert client.get(url(tenant, f"{other.pk}/")).status_code == 404
    # Seeing is not changing: the shared agent needs change_agent for a pause.
    assert client.post(url(tenant, f"{shared.pk}/pause"), {}, format="json").status_code == 404
    assert client.post(url(tenant, f"{mine.pk}/pause"), {}, format="json").status_code == 200
    # Owners and admins see all three.
    assert len(as_user(owner).get(url(tenant)).json()["results"]) == 3


def test_agent_list__many_rows__constant_queries(
    as_user, tenant, team, teammate, django_assert_max_num_queries
):
    client = as_user(teammate)
    AgentFactory.create_batch(2, tenant=tenant, team=team)
    client.get(url(tenant))  # warm caches (content types, settings)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url(tenant))
    AgentFactory.create_batch(20, tenant=tenant, team=team)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(url(tenant)).json()["results"]) == 22
    assert len(many) == len(few)


# --- Skills --------------------------------------------------------------------------------------


def test_skill_install__published_compatible__pinned_and_counted(as_user, tenant, owner):
    skill = SkillFactory.create(compatible_roles=["engineering"], version="2.0.1")
    agent = AgentFactory.create(tenant=tenant, role="engineering")
    client = as_user(owner)
    response = client.post(url(tenant, f"{agent.pk}/skills/"), {"skill_id": str(skill.pk)}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["version"] == "2.0.1"
    skill.refresh_from_db()
    assert skill.install_count == 1
    again = client.post(url(tenant, f"{agent.pk}/skills/"), {"skill_id": str(skill.pk)}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "skill_already_installed"
    installation = f"/api/v1/tenants/{tenant.pk}/skill-installations/{response.json()['id']}/"
    response = client.patch(installation, {"config": {"depth": 2}}, format="json")
    assert response.json()["config"] == {"depth": 2}
    assert client.delete(installation).status_code == 204
    skill.refresh_from_db()
    assert skill.install_count == 0


def test_skill_install__draft_or_incompatible__422_with_code(as_user, tenant, owner):
    agent = AgentFactory.create(tenant=tenant, role="pm")
    client = as_user(owner)
    draft = SkillFactory.create(status="draft")
    incompatible = SkillFactory.create(compatible_roles=["engineering"])
    for skill, code in ((draft, "skill_not_published"), (incompatible, "skill_incompatible")):
        response = client.post(url(tenant, f"{agent.pk}/skills/"), {"skill_id": str(skill.pk)}, format="json")
        assert response.status_code == 422
        assert response.json()["code"] == code


@pytest.mark.django_db(transaction=True)
def test_skill_install__concurrent_installs__install_count_exact(tenant, owner):
    from rest_framework.test import APIClient

    skill = SkillFactory.create()
    agents = AgentFactory.create_batch(10, tenant=tenant)

    def install(agent: Any) -> None:
        client = APIClient()
        client.force_authenticate(owner)
        try:
            assert (
                client.post(
                    url(tenant, f"{agent.pk}/skills/"), {"skill_id": str(skill.pk)}, format="json"
                ).status_code
                == 201
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=install, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Skill.objects.get(pk=skill.pk).install_count == 10


def test_skill_rate__two_people__mean_and_replace(as_user, tenant, owner, admin):
    skill = SkillFactory.create()
    rate = f"/api/v1/catalogue/skills/{skill.pk}/rate"
    as_user(owner).post(rate, {"stars": 5}, format="json")
    body = as_user(admin).post(rate, {"stars": 2}, format="json").json()
    assert (body["rating"], body["rating_count"]) == ("3.50", 2)
    body = as_user(admin).post(rate, {"stars": 4}, format="json").json()
    assert (body["rating"], body["rating_count"]) == ("4.50", 2)
    assert as_user(admin).post(rate, {"stars": 6}, format="json").status_code == 400


def test_agent_channel__other_tenants_secret__refused_by_database(tenant, other_tenant):
    """The trigger keeps a channel's secret in the agent's tenant, whatever the code does."""
    from django.db import DatabaseError, transaction

    from agents.models import AgentChannel
    from tenants.tests.factories import SecretFactory

    agent = AgentFactory.create(tenant=tenant)
    foreign = SecretFactory.create(tenant=other_tenant)
    with platform_bypass(reason="test", log=False), pytest.raises(DatabaseError), transaction.atomic():
        AgentChannel.objects.create(tenant=tenant, agent=agent, type="slack", secret=foreign)


def test_member_role__holds_session_permissions(tenant):
    from accounts.models import Role

    role = Role.objects.get(tenant=None, slug="member")
    assert {"sessions:read", "sessions:write", "tasks:write"} <= set(role.permissions)
    assert "sessions:write" not in Role.objects.get(tenant=None, slug="viewer").permissions
    assert member(tenant, "viewer")
