"""The console's agents pages (issue 13): the list (visibility, status filter, creation from a
template or from scratch, limits shown in place), one agent (skills, sessions with own and tree
cost, pause and resume with a reason), their guards and their query counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from agents.tests.factories import AgentFactory, InstallationFactory, SessionFactory, TemplateFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants.models import Tenant
from tenants.tests.factories import TeamFactory, member

pytestmark = pytest.mark.django_db


def _list(tenant: Any) -> str:
    return f"/t/{tenant.pk}/agents/"


def _detail(agent: Any) -> str:
    return f"/t/{agent.tenant_id}/agents/{agent.pk}/"


def _audit(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action))


def _agent(pk: Any) -> Agent:
    with platform_bypass(reason="test", log=False):
        return Agent.objects.get(pk=pk)


def _agents(tenant: Any) -> list[str]:
    with platform_bypass(reason="test", log=False):
        return sorted(Agent.objects.filter(tenant=tenant).values_list("name", flat=True))


def _statements(client: Client, url: str) -> int:
    client.get(url)  # warm: sessions, configuration cache
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


# --- The list --------------------------------------------------------------------------------


def test_agents_page__owner__lists_agents_with_status_tier_team_and_create_form(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    team = TeamFactory.create(tenant=tenant, name="Platform crew")
    AgentFactory.create(tenant=tenant, name="Bugsy", status="paused", model_tier="opus", team=team)
    AgentFactory.create(tenant=tenant, name="Scribe", status="idle")
    TemplateFactory.create(name="Code reviewer")
    TemplateFactory.create(name="Hidden draft", is_published=False)
    body = signed_in(owner).get(_list(tenant)).content.decode()
    assert "Bugsy" in body
    assert "Scribe" in body
    assert "Platform crew" in body
    assert "Paused" in body
    assert "Opus" in body
    assert "Create agent" in body
    assert "Code reviewer" in body
    assert "Hidden draft" not in body
    assert f'href="/t/{tenant.pk}/agents/"' in body  # the nav's Agents section


def test_agents_page__status_filter__only_that_status(signed_in: Any, tenant: Any, owner: Any) -> None:
    AgentFactory.create(tenant=tenant, name="Bugsy", status="paused")
    AgentFactory.create(tenant=tenant, name="Scribe", status="idle")
    body = signed_in(owner).get(_list(tenant), {"status": "paused"}).content.decode()
    assert "Bugsy" in body
    assert "Scribe" not in body


def test_agents_page__bad_status_filter__400_with_the_error_in_place(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    response = signed_in(owner).get(_list(tenant), {"status": "nope"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_agents_page__member__sees_only_their_teams_agents(signed_in: Any, tenant: Any) -> None:
    team = TeamFactory.create(tenant=tenant)
    teammate = member(tenant, "member")
    with platform_bypass(reason="test", log=False):
        teammate.memberships.filter(tenant=tenant).update(team=team)
    AgentFactory.create(tenant=tenant, name="Ours", team=team)
    AgentFactory.create(tenant=tenant, name="Theirs", team=TeamFactory.create(tenant=tenant))
    body = signed_in(teammate).get(_list(tenant)).content.decode()
    assert "Ours" in body
    assert "Theirs" not in body


def test_agents_page__member_who_sees_none__says_so_not_that_there_are_none(
    signed_in: Any, tenant: Any
) -> None:
    AgentFactory.create(tenant=tenant, name="Theirs", team=TeamFactory.create(tenant=tenant))
    body = signed_in(member(tenant, "member")).get(_list(tenant)).content.decode()
    assert "No agents of your team, and none shared with you." in body
    assert "No agents yet" not in body


def test_agents_page__viewer__no_create_form_and_post_403(signed_in: Any, tenant: Any, viewer: Any) -> None:
    AgentFactory.create(tenant=tenant, name="Bugsy")
    client = signed_in(viewer)
    body = client.get(_list(tenant)).content.decode()
    assert "Create agent" not in body
    response = client.post(f"{_list(tenant)}new/", {"name": "Sneaky"})
    assert response.status_code == 403
    assert _agents(tenant) == ["Bugsy"]


def test_agents_page__other_tenant__403_page_naming_nothing_of_it(
    signed_in: Any, owner: Any, other_tenant: Any
) -> None:
    AgentFactory.create(tenant=other_tenant, name="Their secret agent")
    response = signed_in(owner).get(_list(other_tenant))
    assert response.status_code == 403
    assert "Their secret agent" not in response.content.decode()


def test_agents_page__query_count__same_for_one_agent_and_many(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    team = TeamFactory.create(tenant=tenant)
    template = TemplateFactory.create()
    AgentFactory.create(tenant=tenant, team=team, template=template)
    client = signed_in(owner)
    few = _statements(client, _list(tenant))
    AgentFactory.create_batch(12, tenant=tenant, team=team, template=template)
    TeamFactory.create_batch(3, tenant=tenant)
    TemplateFactory.create_batch(3)
    assert _statements(client, _list(tenant)) == few


# --- Creating --------------------------------------------------------------------------------


def test_agent_create__from_template__takes_its_defaults_audited_and_redirects(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    template = TemplateFactory.create(name="Code reviewer", default_model_tier="opus")
    team = TeamFactory.create(tenant=tenant)
    response = signed_in(owner).post(
        f"{_list(tenant)}new/", {"name": "Bugsy", "template": str(template.pk), "team": str(team.pk)}
    )
    assert response.status_code == 302
    with platform_bypass(reason="test", log=False):
        agent = Agent.objects.get(tenant=tenant, name="Bugsy")
    assert response["Location"] == _detail(agent)
    assert (agent.template_id, agent.model_tier, agent.team_id) == (template.pk, "opus", team.pk)
    assert [e.target_id for e in _audit(tenant, "agent.created")] == [str(agent.pk)]


def test_agent_create__from_scratch__takes_tenant_defaults(signed_in: Any, tenant: Any, owner: Any) -> None:
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(model_defaults={"model_tier": "haiku"})
    assert signed_in(owner).post(f"{_list(tenant)}new/", {"name": "Scratch"}).status_code == 302
    with platform_bypass(reason="test", log=False):
        agent = Agent.objects.get(tenant=tenant, name="Scratch")
    assert (agent.template_id, agent.model_tier, agent.role) == (None, "haiku", "custom")


def test_agent_create__past_max_agents__422_message_in_place_nothing_created(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(resource_limits={"max_agents": 1})
    AgentFactory.create(tenant=tenant, name="One")
    response = signed_in(owner).post(f"{_list(tenant)}new/", {"name": "Two"})
    assert response.status_code == 422
    assert "at most 1 agents" in response.content.decode()
    assert 'value="Two"' in response.content.decode()  # the form kept what was typed
    assert _agents(tenant) == ["One"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required"),
        ({"name": "Bad\x00name"}, "Null characters are not allowed"),
        ({"name": "X", "template": "00000000-0000-0000-0000-000000000000"}, "Select a valid choice"),
        ({"name": "X", "model_tier": "gigantic"}, "Select a valid choice"),
    ],
)
def test_agent_create__bad_input__400_error_in_place(
    signed_in: Any, tenant: Any, owner: Any, data: dict[str, str], message: str
) -> None:
    response = signed_in(owner).post(f"{_list(tenant)}new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _agents(tenant) == []


def test_agent_create__another_tenants_team__400_nothing_created(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = TeamFactory.create(tenant=other_tenant)
    response = signed_in(owner).post(f"{_list(tenant)}new/", {"name": "X", "team": str(theirs.pk)})
    assert response.status_code == 400
    assert _agents(tenant) == []


def test_agent_create__duplicate_name__error_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    AgentFactory.create(tenant=tenant, name="Bugsy")
    response = signed_in(owner).post(f"{_list(tenant)}new/", {"name": "Bugsy"})
    assert response.status_code in (400, 409)
    assert "The tenant has an agent of that name." in response.content.decode()
    assert _agents(tenant) == ["Bugsy"]


# --- One agent -------------------------------------------------------------------------------


def test_agent_page__shows_status_skills_and_sessions_with_own_and_tree_cost(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy", status="idle")
    InstallationFactory.create(agent=agent, tenant=tenant, skill__name="Web search")
    root = SessionFactory.create(
        agent=agent, credits_charged=Decimal("1.5"), tree_credits_charged=Decimal("4.25")
    )
    SessionFactory.create(agent=agent, parent=root, credits_charged=Decimal("2.75"))
    body = signed_in(owner).get(_detail(agent)).content.decode()
    assert "Bugsy" in body
    assert "Idle" in body
    assert "Web search" in body
    assert "1.5" in body
    assert "2.75" in body
    assert "4.25" in body
    assert "Pause Bugsy" in body


def test_agent_page__viewer__no_pause_button_and_pause_post_403(
    signed_in: Any, tenant: Any, owner: Any, viewer: Any
) -> None:
    team = TeamFactory.create(tenant=tenant)
    with platform_bypass(reason="test", log=False):
        viewer.memberships.filter(tenant=tenant).update(team=team)
    agent = AgentFactory.create(tenant=tenant, name="Bugsy", status="idle", team=team)
    client = signed_in(viewer)
    body = client.get(_detail(agent)).content.decode()
    assert "Bugsy" in body
    assert "Pause Bugsy" not in body
    assert client.post(f"{_detail(agent)}pause/", {"reason": "x"}).status_code == 403
    assert _agent(agent.pk).status == "idle"


def test_agent_page__another_tenants_agent__404_page(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = AgentFactory.create(tenant=other_tenant, name="Their secret agent", status="idle")
    client = signed_in(owner)
    for response in (
        client.get(f"{_list(tenant)}{theirs.pk}/"),
        client.post(f"{_list(tenant)}{theirs.pk}/pause/", {"reason": "mine now"}),
    ):
        assert response.status_code == 404
        assert "Their secret agent" not in response.content.decode()
    assert _agent(theirs.pk).status == "idle"


def test_agent_pause_then_resume__moves_status_with_reason_and_audits(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy", status="idle")
    client = signed_in(owner)
    response = client.post(f"{_detail(agent)}pause/", {"reason": "Too chatty"})
    assert (response.status_code, response["Location"]) == (302, _detail(agent))
    paused = _agent(agent.pk)
    assert (paused.status, paused.status_reason) == ("paused", "Too chatty")
    assert _audit(tenant, "agent.paused")[0].details["reason"] == "Too chatty"
    body = client.get(_detail(agent)).content.decode()
    assert "Too chatty" in body
    assert "Resume Bugsy" in body
    assert "Pause Bugsy" not in body
    assert client.post(f"{_detail(agent)}resume/", {"reason": "Calmer now"}).status_code == 302
    assert _agent(agent.pk).status == "idle"
    assert len(_audit(tenant, "agent.resumed")) == 1


def test_agent_pause__no_reason__400_error_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy", status="idle")
    response = signed_in(owner).post(f"{_detail(agent)}pause/", {"reason": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert _agent(agent.pk).status == "idle"
    assert _audit(tenant, "agent.paused") == []


def test_agent_resume__not_paused__409_message_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy", status="idle")
    response = signed_in(owner).post(f"{_detail(agent)}resume/", {"reason": ""})
    assert response.status_code == 409
    assert "Only a paused agent can be resumed" in response.content.decode()


def test_agent_pause__provisioning__no_button_and_409(signed_in: Any, tenant: Any, owner: Any) -> None:
    agent = AgentFactory.create(tenant=tenant, name="Fresh", status="provisioning")
    client = signed_in(owner)
    assert "Pause Fresh" not in client.get(_detail(agent)).content.decode()
    assert client.post(f"{_detail(agent)}pause/", {"reason": "why"}).status_code == 409
    assert _agent(agent.pk).status == "provisioning"


def test_agent_page__query_count__same_for_few_and_many_skills_and_sessions(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant, status="idle", team=TeamFactory.create(tenant=tenant))
    InstallationFactory.create(agent=agent, tenant=tenant)
    root = SessionFactory.create(agent=agent)
    client = signed_in(owner)
    few = _statements(client, _detail(agent))
    InstallationFactory.create_batch(5, agent=agent, tenant=tenant)
    for _ in range(5):
        SessionFactory.create(agent=agent, parent=root)
    SessionFactory.create_batch(5, agent=agent)
    assert _statements(client, _detail(agent)) == few
