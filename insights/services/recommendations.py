"""Recommendations: rules over segments suggesting an intervention, at most one open per (tenant,
target, action) (the partial unique index `recommendation_one_open`).

Only rules whose suggested action is an intervention type that exists (`KINDS`) are here, so that
accepting one can run it. A segment without such an action (admins without 2FA: nothing can
enrol someone's authenticator for them) has no rule.

- low_credit_runway -> grant_credits on the tenant (platform staff accept it): the tenant is in
  the low_credit_runway segment; the grant covers RUNWAY_DAYS days at the last BURN_DAYS days'
  usage (rounded up to a whole credit). Confidence 0.9 when under one day is left, else 0.7.
- dormant_member_api_key -> revoke_api_key: a live API key (not revoked, not expired) created by
  a member of the dormant_members segment; a key nobody watches is a leak waiting to happen.
  Confidence 0.8 when the key has not been used for DORMANT_DAYS days (or never), else 0.5.
- agent_in_error -> pause_agent: an agent of the agents_in_error segment; paused, it takes no new
  work (nor spends credits) until someone has looked, and resuming it is one click. Confidence
  0.8 when it has been in error for ERROR_HOURS hours or more, else 0.6.

`recommendations_refresh` evaluates every rule for one tenant: creates the missing open rows
(INSERT ... ON CONFLICT DO NOTHING on the partial index, so re-runs and concurrent runs add no
duplicates) and expires the open rows whose condition no longer holds. Accepting re-checks the
condition (409 `target_changed` if it no longer holds), then runs the intervention through
`intervention_create` in the same transaction (the intervention links the recommendation).
Dismissing records who and why. Each write has its audit entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import ApiKey
from audit.models import Severity
from audit.services import audit_record
from core.errors import Conflict
from core.tenancy import platform_bypass, tenant_context
from insights.models import Intervention, InterventionType, Recommendation, RecommendationStatus
from insights.segments import DORMANT_DAYS, RUNWAY_DAYS, agents_in_error, dormant_members, low_credit_runway
from insights.services.interventions import (
    KINDS,
    Operator,
    _check_may,
    _clean_reason,
    intervention_create,
)
from tenants.models import Tenant, TenantStatus

Key = tuple[str, str, str]  # (target_type, target_id, suggested_action)


@dataclass(frozen=True)
class Candidate:
    """What a rule found: one target it suggests an action for, and why."""

    rule: str
    target_type: str
    target_id: str
    target_label: str
    action: str
    reason: str
    confidence: Decimal
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return (self.target_type, self.target_id, self.action)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    action: str
    find: Callable[[Tenant], list[Candidate]]  # one query, whatever the number of rows


def _low_runway(tenant: Tenant) -> list[Candidate]:
    rule = "low_credit_runway"
    out = []
    for row in (
        low_credit_runway(tenant).annotate(daily=F("per_day")).values("member_id", "label", "metric", "daily")
    ):
        days, per_day = Decimal(row["metric"]), Decimal(row["daily"])
        amount = max(1, math.ceil(per_day * RUNWAY_DAYS))
        out.append(
            Candidate(
                rule=rule,
                target_type=KINDS[InterventionType.GRANT_CREDITS].target_type,
                target_id=str(row["member_id"]),
                target_label=row["label"],
                action=InterventionType.GRANT_CREDITS,
                reason=(
                    f"Credits last about {days} days at the last week's usage ({per_day:.2f} a day); "
                    f"{amount} credits cover {RUNWAY_DAYS} days."
                ),
                confidence=Decimal("0.90") if days < 1 else Decimal("0.70"),
                params={"amount": str(amount)},
            )
        )
    return out


def _dormant_keys(tenant: Tenant) -> list[Candidate]:
    rule = "dormant_member_api_key"
    now = timezone.now()
    stale = now - timedelta(days=DORMANT_DAYS)
    rows = (
        ApiKey.objects.filter(
            tenant=tenant,
            revoked_at__isnull=True,
            created_by_id__in=dormant_members(tenant).values("member_id"),
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("created_at", "id")
        .values("id", "name", "prefix", "last_used_at", owner=F("created_by__email"))
    )
    return [
        Candidate(
            rule=rule,
            target_type=KINDS[InterventionType.REVOKE_API_KEY].target_type,
            target_id=str(row["id"]),
            target_label=f"{row['name']} ({row['prefix']})"[:255],
            action=InterventionType.REVOKE_API_KEY,
            reason=(
                f"The key's creator {row['owner']} has had no activity for {DORMANT_DAYS} days or more; "
                + (
                    "the key has never been used."
                    if row["last_used_at"] is None
                    else f"the key was last used {row['last_used_at']:%Y-%m-%d}."
                )
            ),
            confidence=(
                Decimal("0.80")
                if row["last_used_at"] is None or row["last_used_at"] < stale
                else Decimal("0.50")
            ),
        )
        for row in rows
    ]


ERROR_HOURS = 24  # an agent in error this long is not a blip


def _agents_in_error(tenant: Tenant) -> list[Candidate]:
    settled = timezone.now() - timedelta(hours=ERROR_HOURS)
    rows = agents_in_error(tenant).values("member_id", "label", "metric", since=F("status_changed_at"))
    return [
        Candidate(
            rule="agent_in_error",
            target_type=KINDS[InterventionType.PAUSE_AGENT].target_type,
            target_id=str(row["member_id"]),
            target_label=str(row["label"])[:255],
            action=InterventionType.PAUSE_AGENT,
            reason=(
                f"The agent has been in error since {row['since']:%Y-%m-%d %H:%M} UTC"
                + (f" ({row['metric']})" if row["metric"] else "")
                + "; paused, it takes no new work until someone has looked."
            )[:1000],
            confidence=Decimal("0.80") if row["since"] <= settled else Decimal("0.60"),
        )
        for row in rows
    ]


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "low_credit_runway",
            f"Grant credits when the tenant's credits last under {RUNWAY_DAYS} days.",
            InterventionType.GRANT_CREDITS,
            _low_runway,
        ),
        Rule(
            "dormant_member_api_key",
            f"Revoke live API keys whose creator has been inactive for {DORMANT_DAYS} days.",
            InterventionType.REVOKE_API_KEY,
            _dormant_keys,
        ),
        Rule(
            "agent_in_error",
            f"Pause agents that are in error (surer after {ERROR_HOURS} hours).",
            InterventionType.PAUSE_AGENT,
            _agents_in_error,
        ),
    )
}


def recommendation_candidates(*, tenant: Tenant) -> list[Candidate]:
    """What every rule suggests for the tenant now (one query a rule)."""
    return [c for rule in RULES.values() for c in rule.find(tenant)]


@dataclass(frozen=True)
class RefreshResult:
    created: int
    expired: int


@transaction.atomic
def recommendations_refresh(*, tenant: Tenant) -> RefreshResult:
    """Create the missing open recommendations of the tenant and expire the open ones whose
    condition no longer holds. Idempotent; a constant number of queries."""
    candidates = {c.key: c for c in recommendation_candidates(tenant=tenant)}
    open_rows = list(
        Recommendation.objects.select_for_update()
        .filter(tenant=tenant, status=RecommendationStatus.OPEN, rule__in=list(RULES))
        .values_list("pk", "target_type", "target_id", "suggested_action")
    )
    existing = {(t, i, a) for _, t, i, a in open_rows}
    stale = [pk for pk, t, i, a in open_rows if (t, i, a) not in candidates]
    now = timezone.now()
    expired = 0
    if stale:
        expired = Recommendation.objects.filter(pk__in=stale).update(
            status=RecommendationStatus.EXPIRED, decided_at=now, updated_at=now
        )
    new = [
        Recommendation(
            tenant=tenant,
            rule=c.rule,
            target_type=c.target_type,
            target_id=c.target_id,
            target_label=c.target_label,
            suggested_action=c.action,
            params=c.params,
            reason=c.reason,
            confidence=c.confidence,
        )
        for key, c in candidates.items()
        if key not in existing
    ]
    created = 0
    if new:
        # ON CONFLICT DO NOTHING: a concurrent refresh's row wins, and this one is not added.
        Recommendation.objects.bulk_create(new, ignore_conflicts=True)
        created = Recommendation.objects.filter(pk__in=[r.pk for r in new]).count()
    if created or expired:
        audit_record(
            action="recommendations.refreshed",
            tenant=tenant,
            details={"created": created, "expired": expired, "expired_ids": [str(pk) for pk in stale]},
            system=True,
        )
    return RefreshResult(created=created, expired=expired)


def _lock_open(recommendation: Recommendation) -> Recommendation:
    rec = Recommendation.objects.select_for_update().get(pk=recommendation.pk)
    if rec.status != RecommendationStatus.OPEN:
        raise Conflict(f"This recommendation is {rec.status}, no longer open.", code="not_open")
    return rec


@transaction.atomic
def recommendation_accept(
    *, recommendation: Recommendation, operator: Operator, reason: str = ""
) -> tuple[Recommendation, Intervention]:
    """Run the suggested intervention (linked to the recommendation) and mark it accepted; 409
    `target_changed` if the rule's condition no longer holds for the target."""
    _check_may(KINDS[recommendation.suggested_action], operator, recommendation.suggested_action)
    rec = _lock_open(recommendation)
    tenant = Tenant.objects.get(pk=rec.tenant_id)
    rule = RULES.get(rec.rule)
    key = (rec.target_type, rec.target_id, rec.suggested_action)
    if rule is None or key not in {c.key for c in rule.find(tenant)}:
        raise Conflict(
            "The target has changed since this was recommended; nothing was done.", code="target_changed"
        )
    reason = (reason or "").strip() or f"Recommendation ({rec.rule}): {rec.reason}"
    intervention = intervention_create(
        tenant=tenant,
        operator=operator,
        type=rec.suggested_action,
        target_ids=[rec.target_id],
        reason=reason[:2000],
        params=rec.params,
        recommendation=rec,
    )
    rec.status = RecommendationStatus.ACCEPTED
    rec.decided_by = operator.user
    rec.decided_at = timezone.now()
    rec.decision_reason = reason
    rec.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"])
    audit_record(
        action="recommendation.accepted",
        tenant=tenant,
        target=rec,
        details={"rule": rec.rule, "intervention_id": str(intervention.pk), "reason": reason},
        actor=operator.user,
    )
    return rec, intervention


@transaction.atomic
def recommendation_dismiss(
    *, recommendation: Recommendation, operator: Operator, reason: str
) -> Recommendation:
    """Close the recommendation without acting; who and why (required) are recorded."""
    reason = _clean_reason(reason)
    rec = _lock_open(recommendation)
    rec.status = RecommendationStatus.DISMISSED
    rec.decided_by = operator.user
    rec.decided_at = timezone.now()
    rec.decision_reason = reason
    rec.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "updated_at"])
    audit_record(
        action="recommendation.dismissed",
        tenant=rec.tenant_id,
        target=rec,
        severity=Severity.INFO,
        details={"rule": rec.rule, "reason": reason},
        actor=operator.user,
    )
    return rec


def recommendations_refresh_all() -> dict[str, RefreshResult]:
    """The periodic task's body: the active tenants listed under the platform bypass, then each
    refreshed in its own tenant context (its own transaction: one tenant's failure or lock does
    not hold back the others'). Returns what changed, by tenant id."""
    with platform_bypass(reason="insights: refresh recommendations", log=False):
        ids = list(
            Tenant.objects.filter(status=TenantStatus.ACTIVE).order_by("pk").values_list("pk", flat=True)
        )
    results: dict[str, RefreshResult] = {}
    for tenant_id in ids:
        with tenant_context(tenant_id):
            result = recommendations_refresh(tenant=Tenant.objects.get(pk=tenant_id))
        if result.created or result.expired:
            results[str(tenant_id)] = result
    return results
