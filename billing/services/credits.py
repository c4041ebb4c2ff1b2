"""Credits in: accounts and subscriptions of new tenants, staff grants, top-ups, refunds and
adjustments, included monthly credits; account settings, low-balance thresholds, plan changes.

These are the slow paths: each locks the account first and re-reads it (locks.py), then writes
through the same single-statement entry writer as charges, and audits inside the transaction.
Each keeps Django's savepoint when nested, so the admin can show a refusal and carry on.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from psycopg.types.json import Jsonb

from audit.models import Severity
from audit.services import audit_record, changes
from billing import locks
from billing.errors import InsufficientCredits, invalid
from billing.models import (
    CreditAccount,
    CreditTransaction,
    LowBalanceThreshold,
    ModelPrice,
    Plan,
    Subscription,
    SubscriptionStatus,
    TransactionKind,
)
from billing.services import _sql, idempotency
from billing.services.common import (
    MAX_DESCRIPTION_CHARS,
    ApiResult,
    check_uuid,
    ensure_account,
    entry_fields,
    fmt,
    ledger_write_guard,
    markup_of,
    parse_amount,
    record_threshold_changes,
    resolve_actor,
    split_body,
)
from core.errors import Conflict, LimitExceeded, NotFound
from core.rows import prepared_cursor

CREDITS_ENDPOINT = "credits"
STAFF_KINDS = (
    TransactionKind.GRANT,
    TransactionKind.TOPUP,
    TransactionKind.REFUND,
    TransactionKind.ADJUSTMENT,
)
MAX_THRESHOLDS = 10


def _post(
    *,
    account_id: Any,
    kind: str,
    delta: Decimal,
    description: str,
    key: str = "",
    claim: Any = None,
    refund_of: Any = None,
    metadata: dict[str, Any] | None = None,
    actor_user_id: Any = None,
    actor_api_key_id: Any = None,
    now: datetime,
) -> tuple[uuid.UUID, Decimal | None, str, list[dict[str, Any]], Decimal]:
    """Write one entry through the single statement; the caller holds the account's lock."""
    entry_id = uuid.uuid4()
    metadata = metadata or {}
    prefix, suffix = split_body(
        entry_fields(
            entry_id=entry_id,
            kind=kind,
            amount=delta,
            cost=None,
            markup=None,
            model="",
            input_tokens=0,
            output_tokens=0,
            agent_id=None,
            session_id=None,
            reservation_id=None,
            refund_of=refund_of,
            key=key,
            description=description,
            metadata=metadata,
            occurred_at=now,
            created_at=now,
        )
    )
    params: dict[str, Any] = {
        "now": now,
        "account": account_id,
        "delta": delta,
        "count_held": False,
        "entry": entry_id,
        "kind": kind,
        "cost": None,
        "markup": None,
        "model": "",
        "input_tokens": 0,
        "output_tokens": 0,
        "agent": None,
        "session": None,
        "reservation": None,
        "refund_of": refund_of,
        "key": key,
        "actor": actor_user_id,
        "api_key": actor_api_key_id,
        "description": description,
        "metadata": Jsonb(metadata),
        "occurred_at": now,
        "prefix": prefix,
        "suffix": suffix,
        "claim": claim,
        "status": 201,
    }
    with prepared_cursor() as cursor:
        cursor.execute(_sql.POST_ENTRY, params)
        balance, body, thresholds, available = cursor.fetchone()
    return entry_id, balance, body, thresholds, available


@transaction.atomic
def credits_post(
    *,
    tenant: Any,
    kind: str,
    amount: Any,
    reason: str,
    actor: Any,
    idempotency_key: str | None = None,
    refund_of: Any = None,
    api_key: Any = None,
) -> ApiResult:
    """Platform staff: grant, top up, refund or adjust a tenant's credits, with a reason; audited.

    Grants, top-ups and refunds add credits (amount > 0); an adjustment is signed and may not
    take the balance below the overdraft floor. A refund may name the usage entry it refunds
    (`refund_of`), and then never exceeds what that entry charged, over all its refunds.
    """
    tenant_id = getattr(tenant, "pk", tenant)
    if kind not in STAFF_KINDS:
        raise invalid("kind", f"One of {', '.join(STAFF_KINDS)}.")
    amount = parse_amount(amount)
    if kind == TransactionKind.ADJUSTMENT and amount == 0:
        raise invalid("amount", "An adjustment cannot be 0.")
    if kind != TransactionKind.ADJUSTMENT and amount <= 0:
        raise invalid("amount", "Must be more than 0; use an adjustment to take credits away.")
    reason = (reason or "").strip()
    if not reason:
        raise invalid("reason", "A reason is required; it is kept in the ledger and the audit log.")
    if len(reason) > MAX_DESCRIPTION_CHARS:
        raise invalid("reason", f"At most {MAX_DESCRIPTION_CHARS} characters.")
    refund_of = check_uuid(refund_of, "refund_of")
    if refund_of is not None and kind != TransactionKind.REFUND:
        raise invalid("refund_of", "Only a refund refers to an entry.")
    key = idempotency.check_key(idempotency_key, required=False)
    who = resolve_actor(actor, api_key)
    now = timezone.now()
    payload = {"kind": kind, "amount": fmt(amount), "reason": reason, "refund_of": str(refund_of or "")}
    request = idempotency.KeyedRequest(
        tenant_id, key, CREDITS_ENDPOINT, idempotency.fingerprint(CREDITS_ENDPOINT, payload)
    )
    with prepared_cursor() as cursor:
        ctx = idempotency.claim(cursor, request, now=now)  # the markup and prices: unused here
    answer = idempotency.earlier_answer(ctx, request)
    if answer is not None:
        return answer
    account_id = ctx.account_id if ctx.account_id is not None else ensure_account(tenant_id)[0]
    account = locks.credit_account_lock(account_id=account_id)
    if refund_of is not None:
        _check_refund(account=account, refund_of=refund_of, amount=amount)
    with ledger_write_guard():
        entry_id, balance, body, thresholds, available = _post(
            account_id=account.pk,
            kind=kind,
            delta=amount,
            description=reason,
            key=key,
            claim=ctx.claim_id,
            refund_of=refund_of,
            actor_user_id=who.user_id,
            actor_api_key_id=who.api_key_id,
            now=now,
        )
    if balance is None:
        raise InsufficientCredits(required=-amount, available=available)
    audit_record(
        action=f"credits.{kind}",
        tenant=tenant_id,
        target_type="billing.credittransaction",
        target_id=entry_id,
        target_label=f"{kind} {fmt(amount)}",
        severity=Severity.WARNING if amount < 0 else Severity.INFO,
        details={
            "amount": fmt(amount),
            "balance_before": fmt(balance - amount),
            "balance_after": fmt(balance),
            "reason": reason,
            "refund_of": refund_of,
            "idempotency_key": key,
        },
        actor=who.user,
        api_key=who.api_key,
    )
    if thresholds:
        record_threshold_changes(tenant_id=tenant_id, changes=thresholds, balance=balance)
    return ApiResult(status_code=201, body=body)


def _check_refund(*, account: CreditAccount, refund_of: uuid.UUID, amount: Decimal) -> None:
    # Read after the account's lock: a concurrent refund of the same entry has committed (and is
    # counted) or waits for ours.
    original = CreditTransaction.objects.filter(tenant=account.tenant_id, pk=refund_of).first()
    if original is None:
        raise invalid("refund_of", "No such entry in this tenant's ledger.")
    if original.kind != TransactionKind.USAGE:
        raise invalid("refund_of", "Only usage entries are refunded.")
    refunded = CreditTransaction.objects.filter(tenant=account.tenant_id, refund_of=original).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    refundable = -original.amount - refunded
    if amount > refundable:
        raise Conflict(
            f"This entry charged {fmt(-original.amount)}; {fmt(refundable)} of it is left to refund.",
            code="refund_exceeds_charge",
        )


# --- New tenants, periods, included credits ----------------------------------------------------


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
    now = now or timezone.now()
    _entry, balance, _body, thresholds, _available = _post(
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
def billing_tenant_setup(*, tenant: Any, actor: Any = None, owner: Any = None) -> CreditAccount:
    """A new tenant's credit account and subscription, and its first included credits.

    Called by tenant creation (and so by sign-up) in its transaction, in the tenant's context.
    A tenant owned by a platform admin gets an unlimited account.
    """
    plan = Plan.objects.filter(code=tenant.plan).first() or Plan.objects.get(code="starter")
    now = timezone.now()
    account = CreditAccount.objects.create(
        tenant=tenant, unlimited=bool(owner is not None and getattr(owner, "is_platform_admin", False))
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


def subscription_renew(*, tenant: Any, now: datetime | None = None) -> bool:
    """Move an active subscription into its current period and grant that period's credits.

    Safe to run any number of times (the beat task runs it hourly for every tenant).
    """
    now = now or timezone.now()
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


# --- Account settings, thresholds, subscription changes ---------------------------------------


@transaction.atomic
def credit_account_update(
    *, tenant: Any, actor: Any, unlimited: bool | None = None, overdraft_limit: Any = None
) -> CreditAccount:
    """Platform admins: make an account unlimited (or not), change its overdraft; audited."""
    account_id = ensure_account(getattr(tenant, "pk", tenant))[0]
    account = locks.credit_account_lock(account_id=account_id)
    before = {"unlimited": account.unlimited, "overdraft_limit": fmt(account.overdraft_limit)}
    if unlimited is not None:
        account.unlimited = unlimited
    if overdraft_limit is not None:
        limit = parse_amount(overdraft_limit, "overdraft_limit")
        if limit < 0:
            raise invalid("overdraft_limit", "Cannot be negative.")
        if account.balance < -limit:
            raise Conflict(
                f"The balance is {fmt(account.balance)}: "
                f"the overdraft cannot be less than {fmt(-account.balance)}.",
                code="overdraft_below_balance",
            )
        account.overdraft_limit = limit
    account.save(update_fields=["unlimited", "overdraft_limit", "updated_at"])
    diff = changes(before, {"unlimited": account.unlimited, "overdraft_limit": fmt(account.overdraft_limit)})
    if diff:
        audit_record(
            action="credits.account_updated",
            tenant=account.tenant_id,
            target=account,
            severity=Severity.WARNING,
            details={"changes": diff},
            actor=actor,
        )
    return account


@transaction.atomic
def threshold_create(*, tenant: Any, actor: Any, threshold: Any) -> LowBalanceThreshold:
    """Alert the tenant when its balance falls below `threshold` (once per crossing)."""
    value = parse_amount(threshold, "threshold")
    if value < 0:
        raise invalid("threshold", "Cannot be negative.")
    account_id = ensure_account(getattr(tenant, "pk", tenant))[0]
    account = locks.credit_account_lock(account_id=account_id)
    if LowBalanceThreshold.objects.filter(account=account).count() >= MAX_THRESHOLDS:
        raise Conflict(f"An account has at most {MAX_THRESHOLDS} thresholds.", code="too_many_thresholds")
    # Already below it: that is the state, not a crossing; the next crossing alerts.
    row = LowBalanceThreshold(
        tenant_id=account.tenant_id, account=account, threshold=value, below=account.balance < value
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise Conflict("This threshold exists already.", code="threshold_exists") from None
    audit_record(
        action="credits.threshold_created",
        tenant=account.tenant_id,
        target=row,
        details={"threshold": fmt(value), "below": row.below},
        actor=actor,
    )
    return row


@transaction.atomic
def threshold_delete(*, threshold: LowBalanceThreshold, actor: Any) -> None:
    audit_record(
        action="credits.threshold_deleted",
        tenant=threshold.tenant_id,
        target=threshold,
        details={"threshold": fmt(threshold.threshold)},
        actor=actor,
    )
    threshold.delete()


SUBSCRIPTION_FIELDS = ["plan", "status", "purchased_agent_slots", "markup_multiplier_override"]


@transaction.atomic
def subscription_update(*, tenant: Any, actor: Any, data: dict[str, Any]) -> Subscription:
    """Platform staff: change a tenant's plan, status, bought agent slots or markup; audited.

    A plan change is mirrored on the tenant's profile (tenant.plan) through tenant_update.
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
        subscription.canceled_at = timezone.now() if data["status"] == SubscriptionStatus.CANCELED else None
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
        from tenants.models import Tenant
        from tenants.services import tenant_update

        profile = Tenant.objects.get(pk=subscription.tenant_id)
        if profile.plan != subscription.plan.code:
            tenant_update(tenant=profile, actor=actor, data={"plan": subscription.plan.code})
    return subscription


# --- The price table ---------------------------------------------------------------------------


@transaction.atomic
def model_price_add(
    *,
    actor: Any,
    provider: str,
    model: str,
    tier: str,
    input_usd_per_mtok: Decimal,
    output_usd_per_mtok: Decimal,
    effective_from: datetime,
) -> ModelPrice:
    """Platform admins: a new price for a model from `effective_from` on (now or later: charges
    already made were priced by the rows in force then, and history is not rewritten)."""
    if effective_from < timezone.now() - timedelta(minutes=1):
        raise invalid("effective_from", "A new price takes effect now or later, never in the past.")
    if input_usd_per_mtok < 0 or output_usd_per_mtok < 0:
        raise invalid("input_usd_per_mtok", "Prices cannot be negative.")
    price = ModelPrice(
        provider=provider,
        model=model,
        tier=tier,
        input_usd_per_mtok=input_usd_per_mtok,
        output_usd_per_mtok=output_usd_per_mtok,
        effective_from=effective_from,
    )
    try:
        with transaction.atomic():
            price.save()
    except IntegrityError:
        raise Conflict("This model has a price from that moment already.", code="price_exists") from None
    audit_record(
        action="billing.price_added",
        target=price,
        severity=Severity.WARNING,
        details={
            "model": model,
            "tier": tier,
            "input_usd_per_mtok": fmt(input_usd_per_mtok),
            "output_usd_per_mtok": fmt(output_usd_per_mtok),
            "effective_from": effective_from,
        },
        actor=actor,
    )
    return price


# --- Agent slots (for the agents app) ------------------------------------------------------------


def agent_slot_check(*, tenant: Any, allocated: int) -> None:
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
