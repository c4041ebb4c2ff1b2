"""Agent sessions: start a root, spawn children within the limits, report usage through billing's
charging (so credits_charged is the ledger's truth), complete, fail, cancel a whole subtree.

Limits (422, each with its code): the agent's tree depth (`agents.max_depth`,
session_depth_exceeded), children per session (`agents.max_children`, session_children_exceeded),
the tenant's open sessions (resource_limits.max_concurrent_sessions,
concurrent_sessions_exceeded). A tenant whose subscription is past due or cancelled starts none
(402 subscription_inactive).

A root may carry a credit budget that its whole tree shares. Usage is charged with the root's
row locked, so concurrent reports anywhere in the tree are serialised against the budget: a
charge that would take the tree past it is undone with its ledger entry (402
session_budget_exceeded).

Sessions are runtime traffic: their starts, spawns and usage leave the sessions' rows and the
ledger as their record; a cancel (an operator's act) is audited.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ApiKey, User
from agents.errors import SessionBudgetExceeded, SessionLimit
from agents.hooks import session_spawned
from agents.models import (
    OPEN_SESSION_STATUSES,
    ActivityType,
    Agent,
    AgentSession,
    AgentStatus,
    SessionStatus,
)
from agents.selectors import open_session_count
from agents.services.common import advisory_lock
from agents.services.telemetry import activity_record, session_activity
from agents.stream import events
from audit.models import Severity
from audit.services import audit_record
from billing import selectors as billing_selectors
from billing import services as billing
from billing.models import SubscriptionStatus
from core.errors import Conflict, DomainError
from tenants.selectors import get_setting

RUNNABLE_AGENT_STATUSES = (AgentStatus.PROVISIONING, AgentStatus.ACTIVE, AgentStatus.IDLE)


class SubscriptionInactive(DomainError):
    status_code = 402
    code = "subscription_inactive"
    default_detail = "The subscription is past due or cancelled: no new sessions."


def _check_runnable(agent: Agent) -> None:
    if agent.status not in RUNNABLE_AGENT_STATUSES:
        raise Conflict(f"The agent is {agent.status}; resume it first.", code="agent_not_runnable")


def _check_concurrency(tenant: Any) -> None:
    """Refuse one more open session past the tenant's max_concurrent_sessions. Serialised per
    tenant by an advisory lock, so concurrent starts cannot both take the last place."""
    limit = (tenant.resource_limits or {}).get("max_concurrent_sessions")
    if limit is None:
        return
    advisory_lock("agents.sessions", tenant.pk)
    if open_session_count(tenant=tenant.pk) >= int(limit):
        raise SessionLimit(
            f"The tenant may run at most {limit} sessions at once.", code="concurrent_sessions_exceeded"
        )


def _check_subscription(tenant: Any) -> None:
    subscription = billing_selectors.subscription_get(tenant=tenant)
    if subscription is not None and subscription.status in (
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.CANCELED,
    ):
        raise SubscriptionInactive(f"The subscription is {subscription.status}: no new sessions can start.")


@transaction.atomic
def session_start(
    *, tenant: Any, agent: Agent, actor: User | None, credit_budget: Decimal | None = None
) -> AgentSession:
    """Start a root session of an agent (running), optionally with a credit budget for its tree."""
    _check_runnable(agent)
    _check_subscription(tenant)
    _check_concurrency(tenant)
    session_id = uuid.uuid4()
    session = AgentSession.objects.create(
        id=session_id,
        root_id=session_id,
        tenant=tenant,
        agent=agent,
        initiated_by=actor if getattr(actor, "pk", None) else None,
        depth=0,
        status=SessionStatus.RUNNING,
        credit_budget=credit_budget,
    )
    _touch_agent(agent)
    return session


def _touch_agent(agent: Agent) -> None:
    """A session started: the agent is active (from idle or provisioning) and was active now."""
    now = timezone.now()
    Agent.objects.filter(pk=agent.pk).update(last_active_at=now)
    Agent.objects.filter(pk=agent.pk, status__in=[AgentStatus.IDLE, AgentStatus.PROVISIONING]).update(
        status=AgentStatus.ACTIVE, status_changed_at=now
    )


@transaction.atomic
def session_spawn(
    *, tenant: Any, parent: AgentSession, actor: User | None, agent: Agent | None = None
) -> AgentSession:
    """Spawn a child of an open session (its agent's, or another agent of the tenant)."""
    agent = agent or parent.agent
    _check_runnable(agent)
    # The parent's row lock serialises its spawns: the children count cannot race.
    parent = AgentSession.objects.select_for_update().get(pk=parent.pk)
    if parent.status not in OPEN_SESSION_STATUSES:
        raise Conflict(f"The session is {parent.status}: it spawns nothing more.", code="session_closed")
    max_depth = int(get_setting(tenant, "agents.max_depth"))
    if parent.depth + 1 > max_depth:
        raise SessionLimit(
            f"Sessions nest at most {max_depth} levels below their root.", code="session_depth_exceeded"
        )
    max_children = int(get_setting(tenant, "agents.max_children"))
    if AgentSession.objects.filter(tenant=tenant.pk, parent=parent).count() >= max_children:
        raise SessionLimit(
            f"A session spawns at most {max_children} children.", code="session_children_exceeded"
        )
    _check_subscription(tenant)
    _check_concurrency(tenant)
    child = AgentSession.objects.create(
        tenant=tenant,
        agent=agent,
        initiated_by=actor if getattr(actor, "pk", None) else None,
        parent=parent,
        root_id=parent.root_id,
        depth=parent.depth + 1,
        status=SessionStatus.RUNNING,
    )
    session_spawned.send(session=child)
    if agent.pk != parent.agent_id:
        _touch_agent(agent)
    return child


@transaction.atomic
def session_report_usage(
    *,
    session: AgentSession,
    event: billing.UsageEvent,
    idempotency_key: str | None,
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> billing.ApiResult:
    """Charge usage to an open session through billing (the ledger entry names the agent and the
    session); add it to the session's own totals and to its root's tree total, within the root's
    budget. A replayed key returns the original answer and adds nothing."""
    if session.status not in OPEN_SESSION_STATUSES:
        raise Conflict(f"The session is {session.status}: it takes no more usage.", code="session_closed")
    event.agent_id, event.session_id = session.agent_id, session.pk
    # The root's lock: every charge in this tree queues here, so the budget check is exact.
    root = (
        AgentSession.objects.select_for_update()
        .only("id", "credit_budget", "tree_credits_charged")
        .get(pk=session.root_id)
    )
    result = billing.credits_charge(
        tenant=session.tenant_id, event=event, idempotency_key=idempotency_key, actor=actor, api_key=api_key
    )
    if result.replayed:
        return result
    entry = result.json()
    charged = -Decimal(entry["amount"])
    if root.credit_budget is not None and root.tree_credits_charged + charged > root.credit_budget:
        raise SessionBudgetExceeded(
            f"This usage ({charged} credits) would take the session tree to "
            f"{root.tree_credits_charged + charged} of its {root.credit_budget} budget."
        )
    AgentSession.objects.filter(pk=session.pk).update(
        input_tokens=F("input_tokens") + event.input_tokens,
        output_tokens=F("output_tokens") + event.output_tokens,
        provider_cost_usd=F("provider_cost_usd") + Decimal(entry["provider_cost_usd"]),
        credits_charged=F("credits_charged") + charged,
        updated_at=timezone.now(),
    )
    AgentSession.objects.filter(pk=root.pk).update(tree_credits_charged=F("tree_credits_charged") + charged)
    return result


def _finish(session: AgentSession, status: str, **fields: Any) -> AgentSession:
    now = timezone.now()
    updated = AgentSession.objects.filter(pk=session.pk, status__in=OPEN_SESSION_STATUSES).update(
        status=status, ended_at=now, updated_at=now, **fields
    )
    if not updated:
        session.refresh_from_db(fields=["status"])
        raise Conflict(f"The session is already {session.status}.", code="session_closed")
    session.refresh_from_db()
    events.session_status(session)
    return session


@transaction.atomic
def session_complete(*, session: AgentSession, result: Any = None) -> AgentSession:
    """Finish an open session successfully, with its result (and an item in the agent's feed)."""
    session = _finish(session, SessionStatus.COMPLETED, result=result)
    session_activity(session)
    return session


@transaction.atomic
def session_fail(*, session: AgentSession, error: str) -> AgentSession:
    """Finish an open session as failed, with its error (and an error in the agent's feed)."""
    session = _finish(session, SessionStatus.FAILED, error=error)
    session_activity(session)
    return session


# One statement: the subtree by a recursive CTE inside its root's index range; every open session
# in it cancelled, and the open tasks of those sessions with them.
_CANCEL_SQL = """
WITH RECURSIVE sub AS (
    SELECT id FROM agents_agentsession WHERE id = %(id)s AND tenant_id = %(tenant)s
  UNION ALL
    SELECT c.id FROM agents_agentsession c JOIN sub ON c.parent_id = sub.id
    WHERE c.root_id = %(root)s AND c.tenant_id = %(tenant)s
), cancelled AS (
    UPDATE agents_agentsession s
    SET status = 'cancelled', ended_at = %(now)s, updated_at = %(now)s,
        error = CASE WHEN s.error = '' THEN %(reason)s ELSE s.error END
    FROM sub WHERE s.id = sub.id AND s.status IN ('pending', 'running')
    RETURNING s.id
), tasks AS (
    UPDATE agents_agenttask t
    SET status = 'cancelled', finished_at = %(now)s, updated_at = %(now)s, lease_expires_at = NULL
    FROM cancelled WHERE t.session_id = cancelled.id AND t.status IN ('pending', 'running')
    RETURNING t.id
)
SELECT (SELECT count(*) FROM cancelled), (SELECT count(*) FROM tasks)
"""


@transaction.atomic
def session_cancel(*, session: AgentSession, actor: User | None, reason: str = "") -> tuple[int, int]:
    """Cancel a session and every open session below it, and their open tasks, in one statement;
    returns (sessions cancelled, tasks cancelled). 409 when nothing in the subtree was open."""
    with connection.cursor() as cursor:
        cursor.execute(
            _CANCEL_SQL,
            {
                "id": session.pk,
                "root": session.root_id,
                "tenant": session.tenant_id,
                "now": timezone.now(),
                "reason": reason or "cancelled",
            },
        )
        sessions, tasks = cursor.fetchone()
    if not sessions:
        raise Conflict("Nothing in this session's tree is open.", code="session_closed")
    activity_record(
        agent=session.agent,
        session=session,
        type=ActivityType.ACTION,
        summary=f"Cancelled {sessions} session{'s' if sessions != 1 else ''}"
        + (f" and {tasks} task{'s' if tasks != 1 else ''}" if tasks else "")
        + (f": {reason}" if reason else ""),
        details={"sessions": sessions, "tasks": tasks, "reason": reason},
    )
    events.session_status(session, status="cancelled", sessions_cancelled=sessions, tasks_cancelled=tasks)
    audit_record(
        action="session.cancelled",
        tenant=session.tenant_id,
        target=session,
        severity=Severity.WARNING,
        details={"sessions": sessions, "tasks": tasks, "reason": reason},
        actor=actor,
    )
    return sessions, tasks
