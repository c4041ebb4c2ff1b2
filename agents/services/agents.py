"""Writes on agents: create (within the subscription's slots and the tenant's max_agents),
update, the status machine (pause, resume, a runtime's reports), share, delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import User
from agents.errors import IllegalTransition
from agents.hooks import agent_changed
from agents.models import (
    AGENT_TRANSITIONS,
    OPEN_SESSION_STATUSES,
    Agent,
    AgentSession,
    AgentStatus,
    AgentTemplate,
)
from agents.selectors import AGENT_OBJECT_PERMISSIONS, agent_count
from agents.services.common import advisory_lock, save_unique, snapshot
from agents.services.shares import agent_shares_remove_for_agent
from agents.stream import events
from audit.models import Severity
from audit.services import audit_record, changes
from billing.selectors import agent_has_billing_records
from billing.services import agent_slot_check
from core import stream
from core.errors import Conflict, InvalidInput, LimitExceeded, NotFound, full_clean_or_invalid
from tenants.models import Membership

AGENT_FIELDS = [
    "name",
    "description",
    "avatar_icon",
    "role",
    "team_id",
    "model_tier",
    "thinking_mode",
    "tool_policy",
    "assisted_user_id",
    "configuration",
]


def _defaults(tenant: Any, template: AgentTemplate | None) -> dict[str, Any]:
    """What a new agent starts from: the template's defaults, else the tenant's model_defaults."""
    model_defaults = tenant.model_defaults or {}
    values: dict[str, Any] = {
        "model_tier": model_defaults.get("model_tier", "sonnet"),
        "thinking_mode": model_defaults.get("thinking_mode", "off"),
    }
    if template is not None:
        values |= {
            "role": template.role,
            "description": template.description,
            "avatar_icon": template.avatar_icon,
            "model_tier": template.default_model_tier,
            "thinking_mode": template.default_thinking_mode,
            "tool_policy": dict(template.default_tool_policy),
        }
    return values


@transaction.atomic
def agent_create(
    *, tenant: Any, actor: User | None, template: AgentTemplate | None = None, data: dict[str, Any]
) -> Agent:
    """Create an agent from a template or from scratch; refuse one past the subscription's agent
    slots (422 agent_slots_exhausted) or the tenant's max_agents (422 limit_exceeded).

    `data` holds checked fields; team and assisted_user already resolved in the tenant."""
    # Concurrent creations in one tenant queue here, so the count below cannot be stale.
    advisory_lock("agents.create", tenant.pk)
    allocated = agent_count(tenant=tenant.pk)
    max_agents = (tenant.resource_limits or {}).get("max_agents")
    if max_agents is not None and allocated >= int(max_agents):
        raise LimitExceeded(
            f"The tenant may have at most {max_agents} agents; remove one or raise the limit.",
            code="limit_exceeded",
        )
    agent_slot_check(tenant=tenant.pk, allocated=allocated)
    agent = Agent(tenant=tenant, template=template, created_by=actor if getattr(actor, "pk", None) else None)
    for field, value in (_defaults(tenant, template) | data).items():
        setattr(agent, field, value)
    full_clean_or_invalid(
        agent, exclude=["tenant", "team", "assisted_user", "created_by", "template"], validate_unique=False
    )
    save_unique(agent, "name", "The tenant has an agent of that name.")
    audit_record(
        action="agent.created",
        tenant=tenant,
        target=agent,
        details={"template": template.slug if template else None, "role": agent.role, "status": agent.status},
        actor=actor,
    )
    agent_changed.send(tenant_id=agent.tenant_id)
    return agent


@transaction.atomic
def agent_update(*, agent: Agent, actor: User | None, data: dict[str, Any]) -> Agent:
    """Change an agent's profile, model, tool policy or configuration (not its status)."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    before = snapshot(agent, AGENT_FIELDS)
    for field, value in data.items():
        setattr(agent, field, value)
    full_clean_or_invalid(
        agent, exclude=["tenant", "team", "assisted_user", "created_by", "template"], validate_unique=False
    )
    save_unique(agent, "name", "The tenant has an agent of that name.")
    diff = changes(before, snapshot(agent, AGENT_FIELDS))
    if diff:
        audit_record(
            action="agent.updated",
            tenant=agent.tenant_id,
            target=agent,
            details={"changes": diff},
            actor=actor,
        )
        agent_changed.send(tenant_id=agent.tenant_id)
    if "team_id" in diff:
        # Who sees it changed (its old team's and its new team's members): open streams ask again.
        stream.refresh(agent.tenant_id)
    return agent


_ACTIONS: dict[str, str] = {
    AgentStatus.PAUSED: "agent.paused",
    AgentStatus.ERROR: "agent.errored",
    AgentStatus.ACTIVE: "agent.activated",
    AgentStatus.IDLE: "agent.idled",
}


@transaction.atomic
def agent_transition(
    *, agent: Agent, actor: User | None, to: str, reason: str = "", action: str = ""
) -> Agent:
    """Move an agent along its status machine (agents.models.AGENT_TRANSITIONS); 409 otherwise."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if to not in AGENT_TRANSITIONS.get(agent.status, frozenset()):
        raise IllegalTransition(f"An agent cannot go from {agent.status} to {to}.")
    before = agent.status
    now = timezone.now()
    agent.status, agent.status_reason, agent.status_changed_at = to, reason, now
    fields = ["status", "status_reason", "status_changed_at", "updated_at"]
    if to == AgentStatus.ACTIVE:
        agent.last_active_at = now
        fields.append("last_active_at")
    agent.save(update_fields=fields)
    audit_record(
        action=action or _ACTIONS.get(to, "agent.status_changed"),
        tenant=agent.tenant_id,
        target=agent,
        severity=Severity.WARNING if to in (AgentStatus.PAUSED, AgentStatus.ERROR) else Severity.INFO,
        details={"changes": {"status": {"old": before, "new": to}}, "reason": reason},
        actor=actor,
    )
    events.agent_status(agent)
    return agent


@transaction.atomic
def agent_report_status(*, agent: Agent, actor: User | None, to: str, reason: str = "") -> Agent:
    """A runtime reports its agent active, idle or in error. A new status moves along the status
    machine (409 where it may not); the status it already has is a no-op answered with the agent,
    no audit entry and no event (runtimes report on every heartbeat), except that `active` moves
    last_active_at."""
    current = Agent.objects.select_for_update().get(pk=agent.pk)
    if current.status != to:
        return agent_transition(agent=current, actor=actor, to=to, reason=reason)
    if to == AgentStatus.ACTIVE:
        current.last_active_at = timezone.now()
        current.save(update_fields=["last_active_at"])
    return current


def agent_pause(*, agent: Agent, actor: User | None, reason: str) -> Agent:
    """Pause an agent (from provisioning, active, idle or error)."""
    return agent_transition(agent=agent, actor=actor, to=AgentStatus.PAUSED, reason=reason)


def agent_resume(*, agent: Agent, actor: User | None, reason: str = "") -> Agent:
    """Resume a paused agent: idle until it works again."""
    if agent.status != AgentStatus.PAUSED:
        raise IllegalTransition(f"Only a paused agent can be resumed; this one is {agent.status}.")
    return agent_transition(
        agent=agent, actor=actor, to=AgentStatus.IDLE, reason=reason, action="agent.resumed"
    )


@transaction.atomic
def agent_delete(*, agent: Agent, actor: User | None) -> None:
    """Delete an agent with its channels, skills and finished sessions; refused (409) while a
    session of it is open, and for good once the ledger or a hold names it (409
    agent_has_billing_records: the ledger is insert-only and its agent and session references
    are foreign keys; pause the agent instead)."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if AgentSession.objects.filter(
        tenant=agent.tenant_id, agent=agent, status__in=OPEN_SESSION_STATUSES
    ).exists():
        raise Conflict("Cancel or finish the agent's open sessions first.", code="agent_has_open_sessions")
    if agent_has_billing_records(tenant=agent.tenant_id, agent_id=agent.pk):
        raise Conflict(
            "The ledger records this agent's usage, and ledger entries are kept for good: "
            "pause the agent instead of deleting it.",
            code="agent_has_billing_records",
        )
    # The row first, the audit entry after, as create and the status changes do: the delete's
    # trigger locks the subscription row (its agent counts), the entry the tenant's audit chain
    # head; taken in the other order, a delete and a concurrent create or transition deadlock.
    agent_id = agent.pk
    agent.delete()
    # Guardian's rows name the agent by its id as text, with no foreign key to cascade.
    shares_removed = agent_shares_remove_for_agent(agent_id=agent_id)
    audit_record(
        action="agent.deleted",
        tenant=agent.tenant_id,
        target=agent,
        target_id=agent_id,
        severity=Severity.WARNING,
        details={"name": agent.name, "status": agent.status, "shares_removed": shares_removed},
        actor=actor,
    )
    agent_changed.send(tenant_id=agent.tenant_id)


@transaction.atomic
def agent_share(*, agent: Agent, actor: User | None, user: User, permissions: list[str]) -> list[str]:
    """Give a member object permissions on one agent (view_agent, change_agent, run_agent); the
    member then sees (changes, runs) it whatever their team. Returns what they now hold."""
    unknown = sorted(set(permissions) - set(AGENT_OBJECT_PERMISSIONS))
    if unknown:
        raise Conflict(f"Unknown agent permissions: {', '.join(unknown)}.", code="unknown_permission")
    # The agent, then the membership, locked: a concurrent delete of the agent or removal of the
    # member (whose shares go with them) either waits for this share and removes it, or goes
    # first and this one finds nothing to share.
    if not Agent.objects.select_for_update().filter(pk=agent.pk).exists():
        raise NotFound()
    if not Membership.objects.select_for_update().filter(tenant_id=agent.tenant_id, user=user).exists():
        raise InvalidInput(
            "Not a member of this tenant.",
            code="not_a_member",
            errors={"user_id": ["Not a member of this tenant."]},
        )
    for codename in AGENT_OBJECT_PERMISSIONS:
        if codename in permissions:
            assign_perm(f"agents.{codename}", user, agent)
        else:
            remove_perm(f"agents.{codename}", user, agent)
    audit_record(
        action="agent.shared",
        tenant=agent.tenant_id,
        target=agent,
        details={"user": user.email, "permissions": sorted(permissions)},
        actor=actor,
    )
    stream.refresh(agent.tenant_id, user_id=user.pk)  # their open streams follow, on commit
    return sorted(permissions)
