"""The demo's agents (issue 13): Acme's, Northwind's and Hoshi's workforce, made from the seeded
catalogue through the agents app's services, as the console and the runtimes would.

For each tenant: agents of its teams (one team-less, for owners and admins only;
one shared with a member of another team) from the catalogue's templates (one from scratch, with the
tenant's model defaults) moved along the status machine to active, idle, paused and error; skills
installed from the marketplace; a root session with a budget whose children (and a grandchild)
are spawned through the session service, usage on every node charged through billing's charging
path (so each session's credits are its ledger entries); and
a queue with work in every state: pending, running under a lease, completed, failed, cancelled.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps

from agents import services as agents
from agents.models import Agent, AgentSession, AgentStatus, AgentTemplate, Recipe, Skill
from billing.services import UsageEvent
from console.demo.scenario import ACME, HOSHI, NORTHWIND, DemoScenario, Step

# The catalogue is a data migration's (agents 0002); a test database flushed by an earlier
# transactional test has lost it, so the demo puts it back the same way (idempotent by slug).
_catalogue = importlib.import_module("agents.migrations.0002_seed_catalogue")


@dataclass(frozen=True)
class DemoAgent:
    name: str
    template: str  # a catalogue slug; "" for an agent made from scratch
    status: str  # where the status machine leaves it
    skills: tuple[str, ...] = ()
    reason: str = ""  # for paused and error
    team: str = ""  # whose members see it ("": owners and admins only)
    shared_with: tuple[str, ...] = ()  # members of other teams who may see and run it


WORKFORCE: dict[str, tuple[DemoAgent, ...]] = {
    ACME: (
        DemoAgent("Warehouse analyst", "", AgentStatus.ACTIVE, ("sql-analyst", "web-research"), team="Data"),
        DemoAgent("Weekly digest", "support-triage", AgentStatus.IDLE, ("slack-digest",)),
    ),
    NORTHWIND: (
        DemoAgent(
            "Release captain",
            "release-engineer",
            AgentStatus.ACTIVE,
            ("github-reviewer", "test-writer"),
            team="Platform Engineering",
        ),
        DemoAgent(
            "PR reviewer",
            "code-reviewer",
            AgentStatus.IDLE,
            ("github-reviewer",),
            team="Platform Engineering",
        ),
        DemoAgent(
            "Roadmap scribe",
            "product-manager",
            AgentStatus.PAUSED,
            ("meeting-notes",),
            "Paused over the planning freeze.",
            team="Research",
        ),
        DemoAgent(
            "Pager buddy",
            "incident-responder",
            AgentStatus.ERROR,
            ("runbook-runner",),
            "The Slack channel's token was rejected (401).",
            team="Customer Success",
            shared_with=("lena.fischer@northwind.example",),
        ),
    ),
    HOSHI: (
        DemoAgent("Route planner", "", AgentStatus.ACTIVE, ("web-research", "sql-analyst"), team="Routing"),
        DemoAgent("Customs clerk", "support-triage", AgentStatus.IDLE, ("slack-digest",), team="Customs"),
        DemoAgent(
            "Night watch",
            "incident-responder",
            AgentStatus.PAUSED,
            ("runbook-runner",),
            "Paused while the warehouse's sensors are replaced.",
            team="Warehouse",
        ),
        DemoAgent(
            "Invoice reader", "blank-agent", AgentStatus.ERROR, (), "The OCR service timed out 5 times."
        ),
    ),
}
# The runtime's API key each tenant's session usage is reported with.
OPERATORS = {ACME: "analytics-runtime", NORTHWIND: "agent-runtime-prod", HOSHI: "tokyo-runtime-1"}


def steps(s: DemoScenario) -> list[Step]:
    return [
        ("Agents: the catalogue", catalogue),
        *[(f"Agents: {slug}", s.within(slug, workforce, slug)) for slug in WORKFORCE],
    ]


def catalogue() -> None:
    _catalogue.seed(django_apps, None)


def workforce(s: DemoScenario, slug: str) -> None:
    made = [_agent(s, slug, spec) for spec in WORKFORCE[slug]]
    active = made[0]  # the first of each tenant is the active one, doing the work below
    root = _session_tree(s, slug, active)
    _queue(s, slug, active, root)


def _agent(s: DemoScenario, slug: str, spec: DemoAgent) -> Agent:
    tenant, owner = s.tenants[slug], s.owners[slug]
    template = AgentTemplate.objects.get(slug=spec.template) if spec.template else None
    data: dict[str, Any] = {"name": spec.name} if template else {"name": spec.name, "role": "custom"}
    if spec.team:
        data["team"] = s.teams[(slug, spec.team)]
    agent = agents.agent_create(tenant=tenant, actor=owner, template=template, data=data)
    for email in spec.shared_with:
        agents.agent_share(
            agent=agent, actor=owner, user=s.users[email], permissions=["view_agent", "run_agent"]
        )
    for skill in Skill.objects.filter(slug__in=spec.skills).order_by("slug"):
        agents.skill_install(agent=agent, skill=skill, actor=owner)
    # Provisioning → active or idle (the runtime reported in); then paused, or an error.
    first = AgentStatus.ACTIVE if spec.status == AgentStatus.ACTIVE else AgentStatus.IDLE
    agent = agents.agent_transition(agent=agent, actor=None, to=first, reason="The runtime reported in.")
    if spec.status == AgentStatus.PAUSED:
        agent = agents.agent_pause(agent=agent, actor=owner, reason=spec.reason)
    elif spec.status == AgentStatus.ERROR:
        agent = agents.agent_transition(agent=agent, actor=None, to=AgentStatus.ERROR, reason=spec.reason)
    return agent


def _charge(s: DemoScenario, slug: str, session: AgentSession, tokens: int, label: str) -> None:
    """Usage reported by the tenant's runtime against a session: billing's charge, the ledger's."""
    event = UsageEvent(
        model=s.model("sonnet"),
        input_tokens=tokens,
        output_tokens=tokens // 4,
        description=f"demo: {label}",
    )
    agents.session_report_usage(
        session=session,
        event=event,
        idempotency_key=f"demo-session-{session.pk}-{label}",
        api_key=s.keys[(slug, OPERATORS[slug])],
    )


def _session_tree(s: DemoScenario, slug: str, agent: Agent) -> AgentSession:
    """A running root session with a budget; two children (one failed), a completed grandchild."""
    tenant, owner = s.tenants[slug], s.owners[slug]
    root = agents.session_start(tenant=tenant, agent=agent, actor=owner, credit_budget=Decimal("50"))
    _charge(s, slug, root, 20_000, "plan")
    research = agents.session_spawn(tenant=tenant, parent=root, actor=owner)
    _charge(s, slug, research, 30_000, "research")
    draft = agents.session_spawn(tenant=tenant, parent=root, actor=owner)
    _charge(s, slug, draft, 15_000, "draft")
    check = agents.session_spawn(tenant=tenant, parent=research, actor=owner)
    _charge(s, slug, check, 8_000, "fact check")
    agents.session_complete(session=check, result={"checked": 14, "wrong": 1})
    agents.session_fail(session=draft, error="The draft ran past its 10-minute timeout.")
    return root


def _queue(s: DemoScenario, slug: str, agent: Agent, root: AgentSession) -> None:
    """Work in every state: claimed by a worker (running, leased), then completed, failed
    (retries off), cancelled; and pending work queued after the claim."""
    tenant, owner = s.tenants[slug], s.owners[slug]
    recipe = Recipe.objects.filter(name="weekly-status").order_by("-version").first()
    for n, priority in enumerate((5, 3, 1, 0)):
        agents.task_enqueue(
            tenant=tenant,
            actor=owner,
            agent=agent,
            session=root if n == 0 else None,
            recipe=recipe if n == 1 else None,
            payload={"job": f"batch-{n + 1}"},
            priority=priority,
        )
    worker = f"{slug}-worker-1"
    running, to_complete, to_fail, to_cancel = agents.task_claim(tenant=tenant, worker_id=worker, limit=4)
    agents.task_heartbeat(task=running, worker_id=worker)
    agents.task_complete(task=to_complete, worker_id=worker, result={"rows": 1204})
    agents.task_fail(task=to_fail, worker_id=worker, error="Upstream API answered 503.", retry=False)
    agents.task_cancel(task=to_cancel, actor=owner, reason="Superseded by tomorrow's batch.")
    for n in range(2):
        agents.task_enqueue(tenant=tenant, actor=owner, agent=agent, payload={"job": f"later-{n + 1}"})
