"""Subscriptions: a new tenant's account and subscription, periods and their included credits,
plan and status changes, agent slots."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import transaction

from accounts.models import User
from audit.models import Severity
from audit.services import audit_record, changes
from billing import locks
from billing.errors import invalid
from billing.models import (
    CreditAccount,
    CreditTransaction,
    Plan,
    Subscription,
    SubscriptionStatus,
    TransactionKind,
)
from billing.services.common import ensure_account, fmt, markup_of, record_threshold_changes
from billing.services.postings import post_entry
from billing.types import TenantRef
from core import clock
from core.errors import LimitExceeded, NotFound
from tenants.models import Tenant


def _period_key(subscription: Subscription) -> str:
    return f"included:{subscription.current_period_start.isoformat()}"


def credits_grant_included(*, subscription: Subscription, now: datetime | None = None) -> bool:
    """Grant the plan's included credits for the subscription's current period, once.

    Idempotent on the period: the grant's key names the period's start, and the ledger's
    unique (account, key) is checked under the account's lock. Call it in the tenant's context.
    """
    amount = subscription.plan.included_monthly_credits
    if amount <= 0:
        return False
    key = _period_key(subscription)
    account_id = ensure_account(subscription.tenant_id)[0]
    locks.credit_account_lock(account_id=account_id)
    if CreditTransaction.objects.filter(tenant=subscription.tenant_id, idempotency_key=key).exists():
        return False
    now = now or clock.now()
    _entry, balance, _body, thresholds, _available = post_entry(
        account_id=account_id,
        kind=TransactionKind.GRANT,
        delta=amount,
        description=f"Included credits of the {subscription.plan.name} plan",
        key=key,
        metadata={
            "plan": subscription.plan.code,
            "period_start": subscription.current_period_start.isoformat(),
            "period_end": subscription.current_period_end.isoformat(),
        },
        now=now,
    )
    assert balance is not None  # a credit always fits
    # No audit entry: an automatic grant of what the plan includes, like a usage charge, has
    # the insert-only ledger entry (kind grant, plan and period in its metadata) as its record.
    # Staff grants, decisions of a person, are audited (credits_post).
    if thresholds:
        record_threshold_changes(tenant_id=subscription.tenant_id, changes=thresholds, balance=balance)
    return True


@transaction.atomic
def billing_tenant_setup(
    *, tenant: Tenant, actor: User | None = None, owner: User | None = None
) -> CreditAccount:
    """A new tenant's credit account and subscription on its plan, and its first included credits.

    Subscribed to tenants' `tenant_created` event: it runs in tenant creation's transaction (and
    so sign-up's), in the tenant's context. A tenant owned by a platform admin gets an unlimited
    account.
    """
    plan = Plan.objects.filter(code=tenant.plan).first() or Plan.objects.get(code="starter")
    now = clock.now()
    account = CreditAccount.objects.create(
        tenant=tenant, unlimited=bool(owner is not None and owner.is_platform_admin)
    )
    subscription = Subscription.objects.create(
        tenant=tenant,
        plan=plan,
        status=SubscriptionStatus.ACTIVE,
        current_period_start=now,
        current_period_end=now + relativedelta(months=1),
    )
    credits_grant_included(subscription=subscription, now=now)
    return account


def subscription_renew(*, tenant: TenantRef, now: datetime | None = None) -> bool:
    """Move an active subscription into its current period and grant that period's credits.

    Safe to run any number of times (the beat task runs it hourly for every tenant).
    """
    now = now or clock.now()
    with transaction.atomic():
        subscription = locks.subscription_lock(tenant=tenant)
        if subscription is None or subscription.status not in (
            SubscriptionStatus.ACTIVE,
            SubscriptionStatus.TRIALING,
        ):
            return False
        moved = False
        while subscription.current_period_end <= now:
            subscription.current_period_start = subscription.current_period_end
            subscription.current_period_end = subscription.current_period_start + relativedelta(months=1)
            moved = True
        if moved:
            subscription.save(update_fields=["current_period_start", "current_period_end", "updated_at"])
        return credits_grant_included(subscription=subscription, now=now)


SUBSCRIPTION_FIELDS = ["plan", "status", "purchased_agent_slots", "markup_multiplier_override"]


@transaction.atomic
def subscription_update(*, tenant: TenantRef, actor: User, data: dict[str, Any]) -> Subscription:
    """Platform staff: change a tenant's plan, status, bought agent slots or markup; audited.

    Billing owns the plan; a change is copied to the tenant's profile (`Tenant.plan`) here, the
    one place that writes it after the tenant's creation.
    """
    subscription = locks.subscription_lock(tenant=tenant)
    if subscription is None:
        raise NotFound("This tenant has no subscription.")

    def snapshot() -> dict[str, Any]:
        return {
            "plan": subscription.plan.code,
            "status": subscription.status,
            "purchased_agent_slots": subscription.purchased_agent_slots,
            "markup_multiplier_override": fmt(subscription.markup_multiplier_override),
        }

    before = snapshot()
    if "plan" in data:
        plan = Plan.objects.filter(code=data["plan"], is_active=True).first()
        if plan is None:
            raise invalid("plan", "No such plan.")
        subscription.plan = plan
    if "status" in data:
        if data["status"] not in SubscriptionStatus.values:
            raise invalid("status", f"One of {', '.join(SubscriptionStatus.values)}.")
        subscription.status = data["status"]
        subscription.canceled_at = clock.now() if data["status"] == SubscriptionStatus.CANCELED else None
    if "purchased_agent_slots" in data:
        slots = data["purchased_agent_slots"]
        if isinstance(slots, bool) or not isinstance(slots, int) or not 0 <= slots <= 100_000:
            raise invalid("purchased_agent_slots", "Between 0 and 100000.")
        subscription.purchased_agent_slots = slots
    if "markup_multiplier_override" in data:
        value = data["markup_multiplier_override"]
        if value is not None:
            value = markup_of(Decimal(str(value)))
            if not Decimal("0.1") <= value <= Decimal(100):
                raise invalid("markup_multiplier_override", "Between 0.1 and 100.")
        subscription.markup_multiplier_override = value
    subscription.save()
    diff = changes(before, snapshot())
    if diff:
        audit_record(
            action="subscription.updated",
            tenant=subscription.tenant_id,
            target=subscription,
            severity=Severity.WARNING,
            details={"changes": diff},
            actor=actor,
        )
    if "plan" in diff:
        # The tenant's `plan` is a copy for its profile; this service is the one that writes it
        # (the subscription's audit entry above records the change).
        Tenant.objects.filter(pk=subscription.tenant_id).update(
            plan=subscription.plan.code, updated_at=clock.now()
        )
    return subscription


# --- Agent slots (for the agents app) ------------------------------------------------------------


def agent_slot_check(*, tenant: TenantRef, allocated: int) -> None:
    """Refuse one more agent when `allocated` agents already fill the subscription's slots.

    For agent creation (agents app): call it with the tenant's agent count, read under a lock
    that serialises concurrent creations, in the creating transaction. No subscription: no
    billing limit applies (tenants made outside tenant_create).
    """
    subscription = Subscription.objects.select_related("plan").filter(tenant=tenant).first()
    if subscription is None:
        return
    if allocated >= subscription.agent_slots:
        raise LimitExceeded(
            f"All {subscription.agent_slots} agent slots of the {subscription.plan.name} plan are in use; "
            "buy more slots or remove an agent.",
            code="agent_slots_exhausted",
        )
