"""Reads of feature flags: `is_enabled` (cached, deterministic rollout), evaluation for one
subject, and a level's flags. A platform flag decides over a tenant's flag of the same key."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from accounts.models import User
from core.tenancy import tenant_context
from tenants.models import FeatureFlag, Membership, Tenant
from tenants.selectors.cache import FLAGS, cached, rows_of
from tenants.selectors.common import TenantRef, id_of
from tenants.selectors.settings import current_environment

BUCKETS = 10_000
# Why a flag is on or off for a subject (the evaluate endpoint reports it).
FLAG_REASONS = ("disabled", "targeted_user", "targeted_role", "targeted_tenant", "rollout", "not_in_rollout")


def bucket(flag_key: str, subject_id: object) -> int:
    """The subject's bucket for a flag, 0-9999: the same on every machine, for ever (SHA-256)."""
    digest = hashlib.sha256(f"{flag_key}\x00{subject_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True)
class FlagRule:
    """What evaluation needs of a flag, held in process memory."""

    key: str
    source: str  # tenant | platform
    enabled: bool
    threshold: int  # buckets below this are on: percentage x 100
    target_users: frozenset[str]
    target_roles: frozenset[str]
    target_tenants: frozenset[str]

    @classmethod
    def of(cls, flag: FeatureFlag) -> FlagRule:
        return cls(
            key=flag.key,
            source="platform" if flag.tenant_id is None else "tenant",
            enabled=flag.enabled,
            threshold=int(Decimal(flag.rollout_percentage) * 100),
            target_users=frozenset(str(u) for u in flag.target_users),
            target_roles=frozenset(flag.target_roles),
            target_tenants=frozenset(str(t) for t in flag.target_tenants),
        )

    def evaluate(
        self, *, subject_id: str | None, user_id: str | None, role: str | None, tenant_id: str | None
    ) -> tuple[bool, str]:
        """(on?, why): disabled → off; targeted → on; else the bucket decides."""
        if not self.enabled:
            return False, "disabled"
        if (user_id and user_id in self.target_users) or (subject_id and subject_id in self.target_users):
            return True, "targeted_user"
        if role and role in self.target_roles:
            return True, "targeted_role"
        if tenant_id and tenant_id in self.target_tenants:
            return True, "targeted_tenant"
        if self.threshold >= BUCKETS:
            return True, "rollout"
        if subject_id is None or self.threshold <= 0:
            return False, "not_in_rollout"
        if bucket(self.key, subject_id) < self.threshold:
            return True, "rollout"
        return False, "not_in_rollout"


def _load_flags(tenant_id: uuid.UUID | None, environment: str) -> dict[str, FlagRule]:
    return {flag.key: FlagRule.of(flag) for flag in rows_of(FeatureFlag, tenant_id, environment)}


def _flag_rules(tenant_id: uuid.UUID | None, environment: str) -> dict[str, FlagRule]:
    """The flags that apply in a tenant: its own, with the platform's taking precedence."""
    if tenant_id is None:
        (platform,) = cached(FLAGS, [None], environment, _load_flags)
        return dict(platform)
    own, platform = cached(FLAGS, [tenant_id, None], environment, _load_flags)
    # A platform flag wins over a tenant flag of the same key: the platform's kill switch must
    # hold in every tenant.
    return {**own, **platform}


def _role_of(user_id: uuid.UUID | str, tenant_id: uuid.UUID) -> str | None:
    with tenant_context(tenant_id):
        row = (
            Membership.objects.filter(tenant_id=tenant_id, user_id=user_id)
            .values_list("role__slug", flat=True)
            .first()
        )
    return row


def is_enabled(
    flag_key: str,
    *,
    user: User | None = None,
    tenant: TenantRef | None = None,
    role: str | None = None,
    subject: object = None,
    environment: str | None = None,
) -> bool:
    """Whether the flag is on for this user (or subject) in this tenant (an instance or id).
    Unknown flags are off.

    The subject of the rollout is `subject` (anything with a stable text: an id), else the user,
    else the tenant. Pass the user's role slug in the tenant as `role` where it is at hand (API
    views have it): only a flag that targets roles, called without it, looks the membership up.
    """
    environment = current_environment(environment)
    tenant_id = id_of(tenant)
    rule = _flag_rules(tenant_id, environment).get(flag_key)
    if rule is None:
        return False
    user_id = str(user.pk) if user is not None else None
    if role is None and rule.target_roles and user is not None and tenant_id is not None and rule.enabled:
        role = _role_of(user.pk, tenant_id)
    subject_id = str(subject) if subject is not None else (user_id or (str(tenant_id) if tenant_id else None))
    on, _ = rule.evaluate(
        subject_id=subject_id, user_id=user_id, role=role, tenant_id=str(tenant_id) if tenant_id else None
    )
    return on


@dataclass(frozen=True)
class FlagEvaluation:
    key: str
    enabled: bool
    reason: str
    source: str


def flags_evaluate(
    *, tenant: Tenant, subject: str, environment: str, role: str | None = None
) -> list[FlagEvaluation]:
    """Every flag that applies in `tenant`, evaluated for `subject` (sorted by key).

    When `subject` is the id of one of the tenant's members, their role is looked up (one query)
    unless `role` is given.
    """
    rules = _flag_rules(tenant.pk, environment)
    if role is None and any(r.target_roles for r in rules.values()):
        try:
            role = _role_of(uuid.UUID(subject), tenant.pk)
        except ValueError:
            role = None  # not a user id: an agent, a session, an external id
    results = []
    for key in sorted(rules):
        on, reason = rules[key].evaluate(
            subject_id=subject, user_id=None, role=role, tenant_id=str(tenant.pk)
        )
        results.append(FlagEvaluation(key=key, enabled=on, reason=reason, source=rules[key].source))
    return results


def flag_list(*, tenant: Tenant | None, environment: str | None = None) -> QuerySet[FeatureFlag]:
    """A tenant's own flags (None: the platform's), by key; every environment unless given."""
    qs = (
        FeatureFlag.objects.filter(tenant=tenant)
        if tenant
        else FeatureFlag.objects.filter(tenant__isnull=True)
    )
    if environment:
        qs = qs.filter(environment=environment)
    return qs.select_related("created_by", "updated_by").order_by("key", "environment", "id")
