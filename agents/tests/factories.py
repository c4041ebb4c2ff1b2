"""Factories for the agents app's rows. Tenant-scoped ones write under the platform bypass, like
fixtures would; tests then act through tenant_context or the API, where isolation applies."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from agents.models import (
    AbTestResult,
    Agent,
    AgentActivity,
    AgentChannel,
    AgentMetricsHourly,
    AgentSession,
    AgentTask,
    AgentTemplate,
    ContainerHealth,
    ContainerHealthHourly,
    Cookbook,
    Recipe,
    Skill,
    SkillInstallation,
    SkillStatus,
    StreamTicket,
    WebsocketConnection,
)
from core.tenancy import platform_bypass
from tenants.tests.factories import BypassFactory, TenantFactory

RECIPE_YAML = """\
name: weekly-report
steps:
  - id: gather
    action: tool
    tool: web.search
  - id: write
    action: prompt
    prompt: Write the report.
    needs: [gather]
"""


class TemplateFactory(factory.django.DjangoModelFactory[AgentTemplate]):
    class Meta:
        model = AgentTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    slug = factory.Sequence(lambda n: f"template-{n}")
    role = "engineering"
    default_model_tier = "opus"
    default_thinking_mode = "high"
    default_tool_policy = factory.LazyFunction(lambda: {"allow": ["web.search"], "deny": []})
    is_published = True


class CookbookFactory(factory.django.DjangoModelFactory[Cookbook]):
    class Meta:
        model = Cookbook

    template = factory.SubFactory(TemplateFactory)
    name = factory.Sequence(lambda n: f"Cookbook {n}")


class RecipeFactory(factory.django.DjangoModelFactory[Recipe]):
    class Meta:
        model = Recipe

    cookbook = factory.SubFactory(CookbookFactory)
    name = factory.Sequence(lambda n: f"recipe-{n}")
    source = RECIPE_YAML
    definition = factory.LazyFunction(
        lambda: {"steps": [{"id": "gather", "action": "tool", "tool": "web.search"}]}
    )


class SkillFactory(factory.django.DjangoModelFactory[Skill]):
    class Meta:
        model = Skill

    name = factory.Sequence(lambda n: f"Skill {n}")
    slug = factory.Sequence(lambda n: f"skill-{n}")
    category = "productivity"
    version = "1.2.0"
    status = SkillStatus.PUBLISHED


class AgentFactory(BypassFactory, factory.django.DjangoModelFactory[Agent]):
    class Meta:
        model = Agent

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Agent {n}")
    role = "engineering"
    status = "idle"


class ChannelFactory(BypassFactory, factory.django.DjangoModelFactory[AgentChannel]):
    class Meta:
        model = AgentChannel

    agent = factory.SubFactory(AgentFactory)
    tenant = factory.LazyAttribute(lambda o: o.agent.tenant)
    type = "web"


class InstallationFactory(BypassFactory, factory.django.DjangoModelFactory[SkillInstallation]):
    class Meta:
        model = SkillInstallation

    agent = factory.SubFactory(AgentFactory)
    tenant = factory.LazyAttribute(lambda o: o.agent.tenant)
    skill = factory.SubFactory(SkillFactory)
    version = "1.2.0"


class SessionFactory(BypassFactory, factory.django.DjangoModelFactory[AgentSession]):
    """A root session (pass parent= for a child: root and depth follow)."""

    class Meta:
        model = AgentSession

    id = factory.LazyFunction(uuid.uuid4)
    agent = factory.SubFactory(AgentFactory)
    tenant = factory.LazyAttribute(lambda o: o.agent.tenant)
    parent = None
    root_id = factory.LazyAttribute(lambda o: o.parent.root_id if o.parent else o.id)
    depth = factory.LazyAttribute(lambda o: o.parent.depth + 1 if o.parent else 0)
    status = "running"


class TaskFactory(BypassFactory, factory.django.DjangoModelFactory[AgentTask]):
    class Meta:
        model = AgentTask

    agent = factory.SubFactory(AgentFactory)
    tenant = factory.LazyAttribute(lambda o: o.agent.tenant)
    payload = factory.LazyFunction(lambda: {"do": "work"})


class ActivityFactory(BypassFactory, factory.django.DjangoModelFactory[AgentActivity]):
    class Meta:
        model = AgentActivity

    agent = factory.SubFactory(AgentFactory)
    tenant = factory.LazyAttribute(lambda o: o.agent.tenant)
    type = "message"
    summary = factory.Sequence(lambda n: f"Said thing {n}")


class MetricsFactory(BypassFactory, factory.django.DjangoModelFactory[AgentMetricsHourly]):
    class Meta:
        model = AgentMetricsHourly

    agent = factory.SubFactory(AgentFactory)
    tenant = factory.LazyAttribute(lambda o: o.agent.tenant)
    hour = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n))
    sessions = 3
    successes = 2
    failures = 1


class HealthFactory(BypassFactory, factory.django.DjangoModelFactory[ContainerHealth]):
    class Meta:
        model = ContainerHealth

    tenant = factory.SubFactory(TenantFactory)
    container_id = factory.Sequence(lambda n: f"container-{n}")
    status = "healthy"
    cpu_percent = Decimal("12.50")
    memory_mb = 256


class HealthHourlyFactory(BypassFactory, factory.django.DjangoModelFactory[ContainerHealthHourly]):
    class Meta:
        model = ContainerHealthHourly

    tenant = factory.SubFactory(TenantFactory)
    container_id = factory.Sequence(lambda n: f"container-{n}")
    hour = datetime(2026, 1, 1, tzinfo=UTC)
    reports = 3
    worst_status = "degraded"
    avg_cpu_percent = Decimal("20.00")
    max_cpu_percent = Decimal("30.00")
    avg_memory_mb = 200
    max_memory_mb = 300
    restarts_max = 1


class StreamTicketFactory(BypassFactory, factory.django.DjangoModelFactory[StreamTicket]):
    """A live ticket (only its digest is stored, as the service does)."""

    class Meta:
        model = StreamTicket

    tenant = factory.SubFactory(TenantFactory)
    digest = factory.Sequence(lambda n: hashlib.sha256(f"ticket-{n}".encode()).hexdigest())
    user = factory.SubFactory(UserFactory)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(seconds=60))


class WebsocketConnectionFactory(BypassFactory, factory.django.DjangoModelFactory[WebsocketConnection]):
    """An open websocket of the stream."""

    class Meta:
        model = WebsocketConnection

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    channel_name = factory.Sequence(lambda n: f"specific.channel-{n}")


class AbResultFactory(factory.django.DjangoModelFactory[AbTestResult]):
    class Meta:
        model = AbTestResult

    recipe = factory.SubFactory(RecipeFactory)
    variant = "a"
    metric = "success_rate"
    sample_size = 100
    successes = 50
    period_start = datetime(2026, 11, 1, tzinfo=UTC)
    period_end = datetime(2026, 11, 8, tzinfo=UTC)


def fill_queue(count: int) -> Any:
    """A tenant's agent with `count` pending tasks (priorities 0-6), for the concurrent-claim
    tests; the agent."""
    agent = AgentFactory.create(tenant=TenantFactory.create())
    with platform_bypass(reason="test: fill the queue", log=False):
        AgentTask.objects.bulk_create(
            [
                AgentTask(tenant=agent.tenant, agent=agent, payload={"n": n}, priority=n % 7)
                for n in range(count)
            ]
        )
    return agent


# --- One row of each table, for core/tests (RLS, the isolation harness) ---------------------------


def make_agent(tenant: Any) -> uuid.UUID:
    return AgentFactory.create(tenant=tenant).pk


def make_channel(tenant: Any) -> uuid.UUID:
    return ChannelFactory.create(agent=AgentFactory.create(tenant=tenant)).pk


def make_installation(tenant: Any) -> uuid.UUID:
    return InstallationFactory.create(agent=AgentFactory.create(tenant=tenant)).pk


def make_session(tenant: Any) -> uuid.UUID:
    return SessionFactory.create(agent=AgentFactory.create(tenant=tenant)).pk


def make_task(tenant: Any) -> uuid.UUID:
    return TaskFactory.create(agent=AgentFactory.create(tenant=tenant)).pk


def make_activity(tenant: Any) -> uuid.UUID:
    return ActivityFactory.create(agent=AgentFactory.create(tenant=tenant)).pk


def make_metrics(tenant: Any) -> uuid.UUID:
    return MetricsFactory.create(agent=AgentFactory.create(tenant=tenant)).pk


def make_health(tenant: Any) -> uuid.UUID:
    return HealthFactory.create(tenant=tenant, agent=AgentFactory.create(tenant=tenant)).pk


def make_health_hourly(tenant: Any) -> uuid.UUID:
    return HealthHourlyFactory.create(tenant=tenant, agent=AgentFactory.create(tenant=tenant)).pk


def make_stream_ticket(tenant: Any) -> uuid.UUID:
    return StreamTicketFactory.create(tenant=tenant).pk


def make_websocket_connection(tenant: Any) -> uuid.UUID:
    return WebsocketConnectionFactory.create(tenant=tenant).pk
