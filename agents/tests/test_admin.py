"""The agents app in the back office: every page loads for staff with rows of several tenants;
nothing is edited there; pause and resume go through the service (audited)."""

from __future__ import annotations

import pytest

from agents.models import Agent, AgentStatus
from agents.tests.factories import (
    AbResultFactory,
    ActivityFactory,
    AgentFactory,
    ChannelFactory,
    InstallationFactory,
    MetricsFactory,
    RecipeFactory,
    SessionFactory,
    TaskFactory,
)
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass

ADMIN = "/admin/agents"
MODELS = [
    "agenttemplate",
    "cookbook",
    "recipe",
    "skill",
    "agent",
    "agentchannel",
    "skillinstallation",
    "agentsession",
    "agenttask",
    "agentactivity",
    "agentmetricshourly",
    "abtestresult",
]


@pytest.mark.parametrize("model", MODELS)
def test_admin_changelists__platform_admin__load_rows_of_every_tenant(
    client, platform_admin, tenant, other_tenant, model
):
    RecipeFactory.create()
    for t in (tenant, other_tenant):
        agent = AgentFactory.create(tenant=t, name=f"Agent of {t.slug}")
        ChannelFactory.create(agent=agent)
        InstallationFactory.create(agent=agent)
        TaskFactory.create(agent=agent, session=SessionFactory.create(agent=agent))
        ActivityFactory.create(agent=agent)
        MetricsFactory.create(agent=agent)
    AbResultFactory.create()
    client.force_login(platform_admin)
    response = client.get(f"{ADMIN}/{model}/")
    assert response.status_code == 200
    if model == "agent":
        assert f"Agent of {tenant.slug}".encode() in response.content
        assert f"Agent of {other_tenant.slug}".encode() in response.content
    assert client.get(f"{ADMIN}/{model}/add/").status_code == 403


def test_admin_agent_actions__pause_then_resume__through_the_service_audited(client, platform_admin, tenant):
    agent = AgentFactory.create(tenant=tenant, status="idle")
    client.force_login(platform_admin)
    changelist = f"{ADMIN}/agent/"
    response = client.post(changelist, {"action": "pause", "_selected_action": [str(agent.pk)]})
    assert response.status_code == 302
    with platform_bypass(reason="test: check", log=False):
        assert Agent.objects.get(pk=agent.pk).status == AgentStatus.PAUSED
        client.post(changelist, {"action": "resume", "_selected_action": [str(agent.pk)]})
        assert Agent.objects.get(pk=agent.pk).status == AgentStatus.IDLE
        actions = list(
            AuditLogEntry.objects.filter(target_id=str(agent.pk))
            .order_by("chain_seq")
            .values_list("action", flat=True)
        )
    assert len(actions) == 2
