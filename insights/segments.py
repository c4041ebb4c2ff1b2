"""Segments: named, documented queries over one tenant, never stored.

Each segment answers "who (or what) in this tenant is in this state right now": its members are
one ordered queryset of rows `{"member_id", "label", "metric"}` (the metric is what put the
member there: last seen, spend, runway days, the agent's error), so counting a segment is one
query and listing it is one query a page. The thresholds are constants here, named in the
descriptions; recommendations build on the same functions.

- dormant_members: members with no activity for DORMANT_DAYS days (the user's last request, else
  their last login, else when they joined).
- admins_without_2fa: members whose role ranks as an admin or above (rank >= ADMIN_RANK) and who
  have no confirmed TOTP device.
- low_credit_runway: the tenant itself, when its available credits (balance - held) last fewer
  than RUNWAY_DAYS days at the average daily usage of the last BURN_DAYS days. Unlimited accounts
  and accounts without usage are never in it.
- top_spenders: the TOP_SPENDERS members who spent the most credits on usage in the last
  SPEND_DAYS days (usage without a user, e.g. by API key, is not anyone's).
- agents_in_error: agents whose status is `error`, with the reason recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import (
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.models import EncryptedTOTPDevice
from agents.models import Agent, AgentStatus
from billing.models import CreditAccount, CreditTransaction, TransactionKind
from tenants.models import Membership, Tenant

DORMANT_DAYS = 30
ADMIN_RANK = 30
RUNWAY_DAYS = 7
BURN_DAYS = 7
SPEND_DAYS = 30
TOP_SPENDERS = 10

_CREDITS = DecimalField(max_digits=20, decimal_places=6)


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    target_type: str  # what member_id names: "user", "tenant" or "agent"
    metric: str  # what the metric column is
    members: Callable[[Tenant], QuerySet]

    def count(self, tenant: Tenant) -> int:
        return self.members(tenant).count()


def dormant_members(tenant: Tenant) -> QuerySet:
    cutoff = timezone.now() - timedelta(days=DORMANT_DAYS)
    return (
        Membership.objects.filter(tenant=tenant)
        .annotate(last_active=Coalesce("user__last_seen_at", "user__last_login", "joined_at"))
        .filter(last_active__lt=cutoff)
        .order_by("last_active", "user_id")
        .values(member_id=F("user_id"), label=F("user__email"), metric=F("last_active"))
    )


def admins_without_2fa(tenant: Tenant) -> QuerySet:
    confirmed = EncryptedTOTPDevice.objects.filter(user=OuterRef("user_id"), confirmed=True)
    return (
        Membership.objects.filter(tenant=tenant, role__rank__gte=ADMIN_RANK)
        .filter(~Exists(confirmed))
        .order_by("user__email")
        .values(member_id=F("user_id"), label=F("user__email"), metric=F("role__slug"))
    )


def low_credit_runway(tenant: Tenant) -> QuerySet:
    since = timezone.now() - timedelta(days=BURN_DAYS)
    burned = (
        CreditTransaction.objects.filter(
            tenant=OuterRef("tenant_id"), kind=TransactionKind.USAGE, created_at__gte=since
        )
        .values("tenant_id")
        .annotate(total=-Sum("amount"))
        .values("total")
    )
    per_day = ExpressionWrapper(
        Coalesce(Subquery(burned, output_field=_CREDITS), Value(Decimal(0))) / Value(Decimal(BURN_DAYS)),
        output_field=_CREDITS,
    )
    return (
        CreditAccount.objects.filter(tenant=tenant, unlimited=False)
        .annotate(per_day=per_day)
        .filter(per_day__gt=0, balance__lt=F("held") + F("per_day") * RUNWAY_DAYS)
        .order_by("tenant_id")
        .values(
            member_id=F("tenant_id"),
            label=F("tenant__name"),
            metric=Cast(
                (F("balance") - F("held")) / F("per_day"), DecimalField(max_digits=20, decimal_places=1)
            ),
        )
    )


def top_spenders(tenant: Tenant) -> QuerySet:
    since = timezone.now() - timedelta(days=SPEND_DAYS)
    return (
        CreditTransaction.objects.filter(
            tenant=tenant, kind=TransactionKind.USAGE, created_at__gte=since, actor_user__isnull=False
        )
        .values("actor_user_id", "actor_user__email")
        .annotate(spent=-Sum("amount"))
        .filter(spent__gt=0)
        .order_by("-spent", "actor_user_id")
        .values(member_id=F("actor_user_id"), label=F("actor_user__email"), metric=F("spent"))[:TOP_SPENDERS]
    )


def agents_in_error(tenant: Tenant) -> QuerySet:
    return (
        Agent.objects.filter(tenant=tenant, status=AgentStatus.ERROR)
        .order_by("-status_changed_at", "id")
        .values(member_id=F("id"), label=F("name"), metric=F("status_reason"))
    )


SEGMENTS: dict[str, Segment] = {
    s.name: s
    for s in (
        Segment(
            "dormant_members",
            f"Members with no activity for {DORMANT_DAYS} days or more.",
            "user",
            "last active",
            dormant_members,
        ),
        Segment(
            "admins_without_2fa",
            "Owners and admins (roles ranked admin or above) without a confirmed authenticator.",
            "user",
            "role",
            admins_without_2fa,
        ),
        Segment(
            "low_credit_runway",
            f"The tenant, if its credits last under {RUNWAY_DAYS} days at the last {BURN_DAYS} days' usage.",
            "tenant",
            "days of credit left",
            low_credit_runway,
        ),
        Segment(
            "top_spenders",
            f"The {TOP_SPENDERS} members who spent the most credits in the last {SPEND_DAYS} days.",
            "user",
            "credits spent",
            top_spenders,
        ),
        Segment(
            "agents_in_error",
            "Agents whose status is error, with the reason recorded.",
            "agent",
            "error",
            agents_in_error,
        ),
    )
}
