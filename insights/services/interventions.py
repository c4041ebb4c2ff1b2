"""Interventions: an operator's corrective action, applied through the owning app's service (which
writes its own audit entry) in one transaction with the intervention row and its own entry.

Each type (`KINDS`) says what it targets, who may run it, how to read a target's state, how to
apply it and how to undo it. A bulk intervention applies to every target or to none (one
transaction). Reversal restores `previous_state`, and is refused (409 `target_changed`) when a
target is no longer in the intervention's `new_state`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from accounts.services.api_keys import api_key_revoke
from accounts.services.auth import account_lock, account_unlock
from agents.models import Agent, AgentStatus
from agents.services.agents import agent_pause, agent_resume
from audit.models import Severity
from audit.services import audit_record
from billing import services as billing
from billing.errors import InsufficientCredits
from billing.models import TransactionKind
from billing.services.common import fmt, parse_amount
from core.access import TenantAccess
from core.errors import Conflict, InvalidInput, NotFound, PermissionDeniedError
from insights.models import Intervention, InterventionScope, InterventionType, Recommendation
from tenants.models import FeatureFlag, Membership, Tenant
from tenants.services.flags import flag_update
from tenants.services.tenants import tenant_reactivate, tenant_suspend

MAX_TARGETS = 100
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class Operator:
    """Who runs an intervention: the user, their role then, what they may do in the tenant."""

    user: User
    role: str
    permissions: frozenset[str]
    staff: bool

    @classmethod
    def of(cls, access: TenantAccess) -> Operator:
        user = access.user
        if access.staff:
            role = f"platform:{user.platform_role}"
        else:
            role = access.membership.role.slug if access.membership is not None else ""
        return cls(user=user, role=role, permissions=access.permissions, staff=access.staff)

    @classmethod
    def platform(cls, user: User) -> Operator:
        """Platform staff outside a request (the admin's actions)."""
        return cls(user=user, role=f"platform:{user.platform_role}", permissions=frozenset(), staff=True)


@dataclass(frozen=True)
class Step:
    tenant: Tenant
    operator: Operator
    reason: str
    params: dict[str, Any]
    intervention_id: uuid.UUID


State = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    target_type: str
    staff_only: bool  # else a tenant member needs `permission` besides interventions:admin
    permission: str
    read: Callable[[Tenant, list[str]], dict[str, State]]  # current states; NotFound for a missing id
    apply: Callable[[Step, str], State]
    revert: Callable[[Step, str, State], None] | None  # None: cannot be undone
    params: Callable[[dict[str, Any]], dict[str, Any]] = lambda raw: {}


def _own_tenant(tenant: Tenant, ids: list[str]) -> dict[str, State]:
    if ids != [str(tenant.pk)]:
        raise InvalidInput(
            "This intervention acts on the tenant itself.",
            errors={"target_ids": [f"Only [{tenant.pk}]."]},
        )
    status = Tenant.objects.filter(pk=tenant.pk).values_list("status", flat=True).get()
    return {str(tenant.pk): {"status": status}}


def _suspend(step: Step, target_id: str) -> State:
    return {"status": tenant_suspend(tenant=step.tenant, actor=step.operator.user, reason=step.reason).status}


def _reactivate(step: Step, target_id: str) -> State:
    return {
        "status": tenant_reactivate(tenant=step.tenant, actor=step.operator.user, reason=step.reason).status
    }


def _unsuspend(step: Step, target_id: str, previous: State) -> None:
    tenant_reactivate(tenant=step.tenant, actor=step.operator.user, reason=step.reason)


def _resuspend(step: Step, target_id: str, previous: State) -> None:
    tenant_suspend(tenant=step.tenant, actor=step.operator.user, reason=step.reason)


def _grant_params(raw: dict[str, Any]) -> dict[str, Any]:
    amount = parse_amount(raw.get("amount"))
    if amount <= 0:
        raise InvalidInput("Grant a positive amount.", errors={"params": ["amount: more than 0."]})
    return {"amount": fmt(amount)}


def _grant_read(tenant: Tenant, ids: list[str]) -> dict[str, State]:
    _own_tenant(tenant, ids)
    return {str(tenant.pk): {"granted": "0"}}


def _grant(step: Step, target_id: str) -> State:
    billing.credits_post(
        tenant=step.tenant,
        kind=TransactionKind.GRANT,
        amount=step.params["amount"],
        reason=step.reason,
        actor=step.operator.user,
        idempotency_key=f"intervention:{step.intervention_id}",
    )
    return {"granted": step.params["amount"]}


def _ungrant(step: Step, target_id: str, previous: State) -> None:
    try:
        billing.credits_post(
            tenant=step.tenant,
            kind=TransactionKind.ADJUSTMENT,
            amount=-Decimal(step.params["amount"]),
            reason=step.reason,
            actor=step.operator.user,
            idempotency_key=f"intervention-reversal:{step.intervention_id}",
        )
    except InsufficientCredits as exc:
        raise Conflict(
            "The granted credits have been spent since: the grant cannot be taken back.",
            code="target_changed",
        ) from exc


def _keys_read(tenant: Tenant, ids: list[str]) -> dict[str, State]:
    rows = ApiKey.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", "revoked_at")
    found = {str(pk): {"revoked": revoked_at is not None} for pk, revoked_at in rows}
    if len(found) != len(ids):
        raise NotFound()
    return found


def _revoke(step: Step, target_id: str) -> State:
    permissions = step.operator.permissions | ({"api_keys:admin"} if step.operator.staff else set())
    api_key_revoke(
        api_key=ApiKey(pk=target_id),
        actor=step.operator.user,
        actor_permissions=frozenset(permissions),
        reason=step.reason,
    )
    return {"revoked": True}


def _flags_read(tenant: Tenant, ids: list[str]) -> dict[str, State]:
    rows = FeatureFlag.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", "enabled")
    found = {str(pk): {"enabled": enabled} for pk, enabled in rows}
    if len(found) != len(ids):
        raise NotFound()
    return found


def _disable(step: Step, target_id: str) -> State:
    flag = FeatureFlag.objects.get(tenant=step.tenant, pk=target_id)
    if not flag.enabled:
        raise Conflict(f"The flag {flag.key} is already disabled.", code="already_disabled")
    flag_update(flag=flag, actor=step.operator.user, data={"enabled": False})
    return {"enabled": False}


def _enable(step: Step, target_id: str, previous: State) -> None:
    flag = FeatureFlag.objects.get(tenant=step.tenant, pk=target_id)
    flag_update(flag=flag, actor=step.operator.user, data={"enabled": previous["enabled"]})


def _agents_read(tenant: Tenant, ids: list[str]) -> dict[str, State]:
    rows = Agent.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", "status")
    found = {str(pk): {"status": status} for pk, status in rows}
    if len(found) != len(ids):
        raise NotFound()
    return found


def _agent(step: Step, target_id: str) -> Agent:
    return Agent.objects.get(tenant=step.tenant, pk=target_id)


def _pause(step: Step, target_id: str) -> State:
    return {
        "status": agent_pause(
            agent=_agent(step, target_id), actor=step.operator.user, reason=step.reason
        ).status
    }


def _resume(step: Step, target_id: str) -> State:
    agent = _agent(step, target_id)
    if agent.status != AgentStatus.PAUSED:
        raise Conflict(f"The agent {agent.name} is not paused.", code="not_paused")
    return {"status": agent_resume(agent=agent, actor=step.operator.user, reason=step.reason).status}


def _unpause(step: Step, target_id: str, previous: State) -> None:
    # A paused agent can only resume to idle (agents' status machine); it becomes active again
    # when it next works, so an `active` previous state comes back as `idle`.
    agent_resume(agent=_agent(step, target_id), actor=step.operator.user, reason=step.reason)


def _repause(step: Step, target_id: str, previous: State) -> None:
    agent_pause(agent=_agent(step, target_id), actor=step.operator.user, reason=step.reason)


def _users_read(tenant: Tenant, ids: list[str]) -> dict[str, State]:
    # Only the tenant's own members: an operator acting on one tenant names its people.
    rows = (
        Membership.objects.filter(tenant=tenant, user_id__in=ids)
        .values_list("user_id", "user__locked_at")
        .distinct()
    )
    found = {str(pk): {"locked": locked_at is not None} for pk, locked_at in rows}
    if len(found) != len(ids):
        raise NotFound()
    return found


def _lock(step: Step, target_id: str) -> State:
    account_lock(user=User.objects.get(pk=target_id), actor=step.operator.user, reason=step.reason)
    return {"locked": True}


def _unlock(step: Step, target_id: str) -> State:
    user = User.objects.get(pk=target_id)
    if user.locked_at is None:
        raise Conflict(f"The account {user.email} is not locked.", code="not_locked")
    account_unlock(user=user, actor=step.operator.user, reason=step.reason)
    return {"locked": False}


def _relock(step: Step, target_id: str, previous: State) -> None:
    _lock(step, target_id)


def _reunlock(step: Step, target_id: str, previous: State) -> None:
    account_unlock(user=User.objects.get(pk=target_id), actor=step.operator.user, reason=step.reason)


KINDS: dict[str, Kind] = {
    InterventionType.SUSPEND_TENANT: Kind("tenants.tenant", True, "", _own_tenant, _suspend, _unsuspend),
    InterventionType.REACTIVATE_TENANT: Kind(
        "tenants.tenant", True, "", _own_tenant, _reactivate, _resuspend
    ),
    InterventionType.GRANT_CREDITS: Kind(
        "billing.creditaccount", True, "", _grant_read, _grant, _ungrant, _grant_params
    ),
    InterventionType.REVOKE_API_KEY: Kind(
        "accounts.apikey", False, "api_keys:admin", _keys_read, _revoke, None
    ),
    InterventionType.DISABLE_FLAG: Kind(
        "tenants.featureflag", False, "flags:write", _flags_read, _disable, _enable
    ),
    InterventionType.PAUSE_AGENT: Kind("agents.agent", False, "agents:admin", _agents_read, _pause, _unpause),
    InterventionType.RESUME_AGENT: Kind(
        "agents.agent", False, "agents:admin", _agents_read, _resume, _repause
    ),
    # A lock keeps the person out of every tenant they belong to, so only platform staff lock.
    InterventionType.LOCK_USER: Kind("accounts.user", True, "", _users_read, _lock, _reunlock),
    InterventionType.UNLOCK_USER: Kind("accounts.user", True, "", _users_read, _unlock, _relock),
}


def _check_may(kind: Kind, operator: Operator, type_: str) -> None:
    if operator.staff:
        return
    if kind.staff_only:
        raise PermissionDeniedError(f"Only platform staff run {type_}.", code="platform_staff_only")
    if kind.permission not in operator.permissions:
        raise PermissionDeniedError(
            f"This needs the {kind.permission} permission.", code="missing_permission"
        )


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", errors={"reason": ["This field is required."]})
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(
            "The reason is too long.", errors={"reason": [f"At most {MAX_REASON_CHARS} characters."]}
        )
    return reason


def _clean_ids(target_ids: list[Any]) -> list[str]:
    if not target_ids:
        raise InvalidInput("Name at least one target.", errors={"target_ids": ["At least one id."]})
    if len(target_ids) > MAX_TARGETS:
        raise InvalidInput("Too many targets.", errors={"target_ids": [f"At most {MAX_TARGETS}."]})
    ids: list[str] = []
    for raw in target_ids:
        try:
            ids.append(str(uuid.UUID(str(raw))))
        except ValueError as exc:
            raise InvalidInput("A target id is not a UUID.", errors={"target_ids": ["UUIDs only."]}) from exc
    if len(set(ids)) != len(ids):
        raise InvalidInput("A target is named twice.", errors={"target_ids": ["Each id once."]})
    return ids


@transaction.atomic
def intervention_create(
    *,
    tenant: Tenant,
    operator: Operator,
    type: str,
    target_ids: list[Any] | None = None,
    reason: str,
    params: dict[str, Any] | None = None,
    recommendation: Recommendation | None = None,
) -> Intervention:
    """Run an intervention on one target or many (all or nothing) and record it."""
    kind = KINDS.get(type)
    if kind is None:
        raise InvalidInput("Unknown intervention type.", errors={"type": [f"One of {', '.join(KINDS)}."]})
    _check_may(kind, operator, type)
    reason = _clean_reason(reason)
    own = kind.target_type in ("tenants.tenant", "billing.creditaccount")
    ids = _clean_ids(target_ids if target_ids else ([str(tenant.pk)] if own else []))
    clean_params = kind.params(params or {})
    previous = kind.read(tenant, ids)
    intervention = Intervention(
        id=uuid.uuid4(),
        tenant=tenant,
        operator=operator.user,
        operator_role=operator.role,
        type=type,
        scope=InterventionScope.BULK if len(ids) > 1 else InterventionScope.SINGLE,
        target_type=kind.target_type,
        target_ids=ids,
        reason=reason,
        params=clean_params,
        previous_state=previous,
        recommendation=recommendation,
    )
    step = Step(tenant, operator, reason, clean_params, intervention.id)
    intervention.new_state = {target_id: kind.apply(step, target_id) for target_id in ids}
    intervention.save(force_insert=True)
    audit_record(
        action="intervention.applied",
        tenant=tenant,
        target=intervention,
        severity=Severity.WARNING,
        details={
            "type": type,
            "scope": intervention.scope,
            "target_ids": ids,
            "reason": reason,
            "params": clean_params,
            "operator_role": operator.role,
            "recommendation_id": str(recommendation.pk) if recommendation else None,
        },
        actor=operator.user,
    )
    return intervention


@transaction.atomic
def intervention_reverse(*, intervention: Intervention, operator: Operator, reason: str) -> Intervention:
    """Restore every target's previous state, or refuse (409) if one changed since."""
    kind = KINDS[intervention.type]
    _check_may(kind, operator, intervention.type)
    reason = _clean_reason(reason)
    intervention = Intervention.objects.select_for_update().get(pk=intervention.pk)
    if intervention.reversed_at is not None:
        raise Conflict("This intervention has already been reversed.", code="already_reversed")
    if kind.revert is None:
        raise Conflict(f"A {intervention.type} intervention cannot be undone.", code="not_reversible")
    tenant = Tenant.objects.get(pk=intervention.tenant_id)
    current = kind.read(tenant, list(intervention.target_ids))
    changed = sorted(t for t in intervention.target_ids if current.get(t) != intervention.new_state.get(t))
    if kind.target_type != "billing.creditaccount" and changed:
        raise Conflict(
            "A target has changed since the intervention; nothing was reversed.",
            code="target_changed",
            errors={"target_ids": changed},
        )
    step = Step(tenant, operator, reason, intervention.params, intervention.pk)
    for target_id in intervention.target_ids:
        kind.revert(step, target_id, intervention.previous_state[target_id])
    intervention.reversed_at = timezone.now()
    intervention.reversed_by = operator.user
    intervention.reversal_reason = reason
    intervention.save(update_fields=["reversed_at", "reversed_by", "reversal_reason", "updated_at"])
    audit_record(
        action="intervention.reversed",
        tenant=tenant,
        target=intervention,
        severity=Severity.WARNING,
        details={"type": intervention.type, "target_ids": intervention.target_ids, "reason": reason},
        actor=operator.user,
    )
    return intervention
