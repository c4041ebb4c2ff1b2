"""What billing waits for from agents: the ledger's agent and session references as
tenant-consistent foreign keys (agents migration 0005), agents with billing records never
deleted, the subscription's allocated/active agent counts kept exact, and an inactive
subscription starting no new sessions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from agents import services
from agents.models import Agent, AgentStatus, SessionStatus
from agents.tests.factories import AgentFactory, SessionFactory
from billing.models import Subscription, SubscriptionStatus
from billing.tests.factories import account, charge, entries, fund, make_subscription, usage
from billing.tests.test_concurrency import in_threads
from core.errors import Conflict, InvalidInput
from core.tenancy import platform_bypass, tenant_context
from tenants.models import default_resource_limits
from tenants.tests.factories import TenantFactory

# --- The ledger's references -------------------------------------------------------------------


def test_charge__another_tenants_agent__400_refused_by_the_database(tenant, price):
    fund(tenant, 10)
    foreign = AgentFactory.create(tenant=TenantFactory.create())

    with pytest.raises(InvalidInput) as refused:
        charge(tenant, credits=1, agent_id=str(foreign.pk))

    assert "agent_id" in refused.value.errors
    assert entries(tenant, kind="usage") == []


def test_charge__session_of_another_agent__400(tenant, price):
    fund(tenant, 10)
    session = SessionFactory.create(agent=AgentFactory.create(tenant=tenant))
    other = AgentFactory.create(tenant=tenant)

    with pytest.raises(InvalidInput) as refused:
        charge(tenant, credits=1, agent_id=str(other.pk), session_id=str(session.pk))

    assert "session_id" in refused.value.errors


def test_ledger__raw_insert_naming_a_foreign_agent_or_a_session_of_another_agent__refused(tenant, price):
    fund(tenant, 10)
    mine = AgentFactory.create(tenant=tenant)
    foreign = AgentFactory.create(tenant=TenantFactory.create())
    session = SessionFactory.create(agent=AgentFactory.create(tenant=tenant))
    acct = account(tenant)

    def insert(agent_id: Any, session_id: Any) -> None:
        with tenant_context(tenant), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO billing_credittransaction (id, created_at, tenant_id, account_id, kind,"
                " amount, balance_after, model, input_tokens, output_tokens, agent_id,"
                " agent_session_id, idempotency_key, description, metadata, occurred_at)"
                " VALUES (%s, now(), %s, %s, 'adjustment', 1, 11, '', 0, 0, %s, %s, '', '', '{}', now())",
                [uuid.uuid4(), tenant.pk, acct.pk, agent_id, session_id],
            )

    for agent_id, session_id in [
        (foreign.pk, None),  # another tenant's agent
        (uuid.uuid4(), None),  # no agent at all
        (mine.pk, session.pk),  # a session of another agent
        (None, session.pk),  # a session without its agent
    ]:
        with pytest.raises(IntegrityError):
            insert(agent_id, session_id)
    insert(session.agent_id, session.pk)  # the session's own agent: accepted


def test_session_usage__the_entry_names_the_sessions_agent(tenant, price):
    make_subscription(tenant)
    fund(tenant, 10)
    agent = AgentFactory.create(tenant=tenant, status=AgentStatus.ACTIVE)
    with tenant_context(tenant):
        session = services.session_start(tenant=tenant, agent=agent, actor=None)
        services.session_report_usage(session=session, event=usage(credits=2), idempotency_key="u1")

    (entry,) = entries(tenant, kind="usage")
    assert (entry.agent_id, entry.agent_session_id) == (agent.pk, session.pk)


def test_agent_delete__named_by_the_ledger__409_kept__without_records__deleted(tenant, owner, price):
    fund(tenant, 10)
    charged = AgentFactory.create(tenant=tenant)
    SessionFactory.create(agent=charged, status=SessionStatus.COMPLETED)
    charge(tenant, credits=1, agent_id=str(charged.pk))
    clean = AgentFactory.create(tenant=tenant)
    SessionFactory.create(agent=clean, status=SessionStatus.COMPLETED)

    with tenant_context(tenant):
        with pytest.raises(Conflict) as refused:
            services.agent_delete(agent=charged, actor=owner)
        services.agent_delete(agent=clean, actor=owner)

    assert refused.value.code == "agent_has_billing_records"
    with platform_bypass(reason="test: check", log=False):
        assert set(Agent.objects.filter(tenant=tenant).values_list("id", flat=True)) == {charged.pk}


def test_agent_delete_api__named_by_the_ledger__409(tenant, owner, price, as_user):
    fund(tenant, 10)
    agent = AgentFactory.create(tenant=tenant)
    charge(tenant, credits=1, agent_id=str(agent.pk))

    response = as_user(owner).delete(f"/api/v1/tenants/{tenant.pk}/agents/{agent.pk}/")

    assert response.status_code == 409, response.content
    assert response.json()["code"] == "agent_has_billing_records"


# --- The subscription's agent counts ------------------------------------------------------------


def counts(tenant: Any) -> tuple[int, int]:
    with platform_bypass(reason="test: check", log=False):
        sub = Subscription.objects.get(tenant=tenant)
        agents = Agent.objects.filter(tenant=tenant)
        actual = (agents.count(), agents.filter(status__in=["active", "idle"]).count())
    assert (sub.allocated_agents, sub.active_agents) == actual  # the counts are the truth
    return actual


def test_subscription_counts__create_transition_delete__kept_exact(tenant, owner):
    make_subscription(tenant)
    with tenant_context(tenant):
        a = services.agent_create(tenant=tenant, actor=owner, data={"name": "A", "role": "engineering"})
        b = services.agent_create(tenant=tenant, actor=owner, data={"name": "B", "role": "engineering"})
        assert counts(tenant) == (2, 0)  # provisioning
        services.agent_transition(agent=a, actor=owner, to=AgentStatus.ACTIVE)
        services.agent_transition(agent=b, actor=owner, to=AgentStatus.IDLE)
        assert counts(tenant) == (2, 2)
        services.agent_pause(agent=a, actor=owner, reason="test")
        assert counts(tenant) == (2, 1)
        services.agent_delete(agent=b, actor=owner)
    assert counts(tenant) == (1, 0)


def test_subscription_counts__subscription_made_after_the_agents__starts_from_them(tenant):
    AgentFactory.create(tenant=tenant, status=AgentStatus.ACTIVE)
    AgentFactory.create(tenant=tenant, status=AgentStatus.PAUSED)

    make_subscription(tenant)

    assert counts(tenant) == (2, 1)


@pytest.mark.django_db(transaction=True)
def test_subscription_counts__concurrent_creates_and_transitions__exact():
    # 8 agents + 8 created: past the default max_agents (10), so the tenant's limit is raised too.
    tenant = TenantFactory.create(resource_limits={**default_resource_limits(), "max_agents": 100})
    make_subscription(tenant)
    with platform_bypass(reason="test: room for the new agents", log=False):
        Subscription.objects.filter(tenant=tenant).update(purchased_agent_slots=100)
    existing = [AgentFactory.create(tenant=tenant, status=AgentStatus.IDLE) for _ in range(8)]

    def work(i: int) -> None:
        with tenant_context(tenant):
            agent = services.agent_create(
                tenant=tenant, actor=None, data={"name": f"New {i}", "role": "engineering"}
            )
            services.agent_transition(agent=agent, actor=None, to=AgentStatus.ACTIVE)
        with tenant_context(tenant):
            services.agent_pause(agent=existing[i], actor=None, reason="load")
        if i % 2:
            with tenant_context(tenant):
                services.agent_delete(agent=existing[i], actor=None)

    results = in_threads(8, work)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert counts(tenant) == (12, 8)


def test_subscription_counts__admin_shows_them(tenant, platform_admin, client):
    make_subscription(tenant)
    AgentFactory.create(tenant=tenant, status=AgentStatus.ACTIVE)
    with platform_bypass(reason="test", log=False):
        sub = Subscription.objects.get(tenant=tenant)
    client.force_login(platform_admin)

    page = client.get(f"/admin/billing/subscription/{sub.pk}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Allocated agents" in text
    assert "Active agents" in text


# --- An inactive subscription --------------------------------------------------------------------


@pytest.mark.parametrize("status", [SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELED])
def test_session_start_and_spawn__inactive_subscription__402_running_ones_finish(
    tenant, owner, as_user, status
):
    make_subscription(tenant)
    agent = AgentFactory.create(tenant=tenant, status=AgentStatus.ACTIVE)
    with tenant_context(tenant):
        running = services.session_start(tenant=tenant, agent=agent, actor=owner)
    with platform_bypass(reason="test: the payment failed", log=False):
        Subscription.objects.filter(tenant=tenant).update(status=status)
    client = as_user(owner)
    base = f"/api/v1/tenants/{tenant.pk}/sessions/"

    start = client.post(base, {"agent_id": str(agent.pk)}, format="json")
    spawn = client.post(f"{base}{running.pk}/spawn", {}, format="json")
    done = client.post(f"{base}{running.pk}/complete", {"result": {"ok": True}}, format="json")

    assert (start.status_code, start.json()["code"]) == (402, "subscription_inactive")
    assert (spawn.status_code, spawn.json()["code"]) == (402, "subscription_inactive")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed"
