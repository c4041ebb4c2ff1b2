"""Billing: plans, subscriptions, model prices, credit accounts, the ledger, reservations.

Money and credits are `Decimal` end to end and NUMERIC in the database: credits carry 6
decimals, provider costs in USD 12 (a token of a cheap model costs fractions of a micro-dollar).

The ledger (`CreditTransaction`) is insert-only, enforced by database triggers, and the account's
balance always equals the sum of its entries (`manage.py verify_ledger` checks it). The balance
only ever changes in the same SQL statement that writes the entry (see `billing/services/_sql.py`).
"""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Func, Q, Value
from django.utils import timezone

from core.models import BaseModel
from core.tenancy import TenantScopedModel
from tenants.models import PlanCode

CREDIT_DIGITS, CREDIT_PLACES = 20, 6
USD_DIGITS, USD_PLACES = 24, 12
PRICE_DIGITS, PRICE_PLACES = 12, 6
MARKUP_DIGITS, MARKUP_PLACES = 8, 4

CREDIT_QUANTUM = Decimal("0.000001")
USD_QUANTUM = Decimal("0.000000000001")
MARKUP_QUANTUM = Decimal("0.0001")
DEFAULT_MARKUP = Decimal("5.0")
LEDGER_SEQUENCE = "billing_credittransaction_seq"


def credit_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=CREDIT_DIGITS, decimal_places=CREDIT_PLACES, **kwargs)  # type: ignore[arg-type]  # kwargs are DecimalField's own


def usd_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=USD_DIGITS, decimal_places=USD_PLACES, **kwargs)  # type: ignore[arg-type]  # kwargs are DecimalField's own


def markup_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=MARKUP_DIGITS, decimal_places=MARKUP_PLACES, **kwargs)  # type: ignore[arg-type]  # kwargs are DecimalField's own


class Plan(BaseModel):
    """What a tenant pays for: a monthly price, included credits, limits, the markup on usage."""

    code = models.CharField(max_length=32, choices=PlanCode.choices, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    monthly_price = models.DecimalField(max_digits=12, decimal_places=2, help_text="USD per month.")
    included_monthly_credits = credit_field(default=Decimal(0))
    max_agents = models.PositiveIntegerField()
    max_members = models.PositiveIntegerField()
    markup_multiplier = markup_field(default=DEFAULT_MARKUP)
    features = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["monthly_price", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(markup_multiplier__gt=0), name="plan_markup_positive"),
            models.CheckConstraint(condition=Q(monthly_price__gte=0), name="plan_price_not_negative"),
            models.CheckConstraint(
                condition=Q(included_monthly_credits__gte=0), name="plan_included_credits_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SubscriptionStatus(models.TextChoices):
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELED = "canceled", "Canceled"


class Subscription(TenantScopedModel):
    """A tenant's plan and billing period. One per tenant.

    `markup_multiplier_override` is the per-tenant markup (null: the plan's), the one place a
    tenant's markup is set (platform admins, through the subscription API or the admin).
    """

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE
    )
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    purchased_agent_slots = models.PositiveIntegerField(default=0)
    markup_multiplier_override = markup_field(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    # Agents that exist (allocated) and agents active or idle (active), kept exact by a trigger
    # on agents_agent in the same transaction as the agent's insert, delete or status change
    # (agents migration 0004: billing sits below agents and cannot know its table).
    allocated_agents = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    active_agents = models.PositiveIntegerField(default=0, db_default=0, editable=False)

    class Meta(TenantScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="subscription_one_per_tenant"),
            models.CheckConstraint(
                condition=Q(current_period_end__gt=F("current_period_start")),
                name="subscription_period_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(markup_multiplier_override__isnull=True) | Q(markup_multiplier_override__gt=0),
                name="subscription_markup_positive",
            ),
        ]

    def __str__(self) -> str:
        # Names when the relations are loaded (the admin loads them); never a query of its own.
        tenant = self.tenant.name if Subscription.tenant.is_cached(self) else self.tenant_id
        plan = self.plan.name if Subscription.plan.is_cached(self) else "plan"
        return f"{tenant}: {plan} ({self.get_status_display().lower()})"

    @property
    def agent_slots(self) -> int:
        """Agents the tenant may have: the plan's, plus the slots bought on top."""
        return self.plan.max_agents + self.purchased_agent_slots


class ModelTier(models.TextChoices):
    HAIKU = "haiku", "Haiku"
    SONNET = "sonnet", "Sonnet"
    OPUS = "opus", "Opus"


class ModelPrice(BaseModel):
    """What a model costs the platform, from `effective_from` until the next row of that model."""

    provider = models.CharField(max_length=32, default="anthropic")
    model = models.CharField(max_length=100)
    tier = models.CharField(max_length=16, choices=ModelTier.choices)
    input_usd_per_mtok = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    output_usd_per_mtok = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    effective_from = models.DateTimeField()

    class Meta:
        ordering = ["model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model", "effective_from"], name="model_price_unique_from"
            ),
            models.CheckConstraint(
                condition=Q(input_usd_per_mtok__gte=0, output_usd_per_mtok__gte=0),
                name="model_price_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["model", "-effective_from"], name="model_price_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.model} from {self.effective_from:%Y-%m-%d}"


class CreditAccount(TenantScopedModel):
    """One per tenant. balance = the sum of the ledger; held = the sum of open reservations."""

    balance = credit_field(default=Decimal(0))
    held = credit_field(default=Decimal(0))
    unlimited = models.BooleanField(
        default=False, help_text="Platform-admin accounts: usage is recorded, never deducted."
    )
    overdraft_limit = credit_field(default=Decimal(0))
    # The monthly credit cap's count (tenant resource_limits.monthly_credit_cap): what usage
    # charged in the month starting month_start (the 1st, in the tenant's time zone). Written
    # only by the charging statements (billing/services/_sql.py), in the statement that charges.
    month_charged = credit_field(default=Decimal(0), db_default=Decimal(0), editable=False)
    month_start = models.DateField(null=True, blank=True, editable=False)

    class Meta(TenantScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="credit_account_one_per_tenant"),
            # The last line of defence: whatever a bug in Python does, the database refuses it.
            models.CheckConstraint(
                condition=Q(balance__gte=-F("overdraft_limit")), name="credit_account_within_overdraft"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="credit_account_held_not_negative"),
            models.CheckConstraint(
                condition=Q(overdraft_limit__gte=0), name="credit_account_overdraft_not_negative"
            ),
        ]

    def __str__(self) -> str:
        # The tenant's name when it is loaded (the admin loads it); never a query of its own.
        return f"Credits of {self.tenant.name if CreditAccount.tenant.is_cached(self) else self.tenant_id}"

    @property
    def available(self) -> Decimal:
        """What a new charge or hold may use: the balance less open holds, plus the overdraft."""
        return self.balance - self.held + self.overdraft_limit


class TransactionKind(models.TextChoices):
    GRANT = "grant", "Grant"
    TOPUP = "topup", "Top-up"
    USAGE = "usage", "Usage"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"
    BYPASS = "bypass", "Bypass (unlimited account)"
    EXPIRY = "expiry", "Expiry"


class CreditTransaction(TenantScopedModel):
    """One ledger entry. Insert-only: a trigger refuses UPDATE, DELETE and TRUNCATE.

    `seq` orders an account's entries exactly: it is drawn while the account row is locked, so
    each entry's balance_after is the previous one's plus its amount.
    """

    # No index on created_at alone: lists use (tenant, seq). Every index slows the hot insert.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = None  # type: ignore[assignment]  # insert-only: an entry is never updated
    # Not the inherited tenant FK: PROTECT (a ledger outlives nothing it records), and no index
    # of its own, (tenant, seq) serves.
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    seq = models.BigIntegerField(
        editable=False,
        db_default=Func(Value(LEDGER_SEQUENCE), function="nextval", output_field=models.BigIntegerField()),
    )
    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    amount = credit_field()
    balance_after = credit_field()
    provider_cost_usd = usd_field(null=True, blank=True)
    markup_multiplier = markup_field(null=True, blank=True)
    model = models.CharField(max_length=100, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    # The agents app does not exist yet: plain ids, checked by nobody. They become foreign keys
    # (resolved through a tenant-scoped selector) when agents and sessions land.
    agent_id = models.UUIDField(null=True, blank=True)
    agent_session_id = models.UUIDField(null=True, blank=True)
    reservation = models.ForeignKey(
        "Reservation", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    refund_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds", db_index=False
    )
    idempotency_key = models.CharField(max_length=255, blank=True)
    # No database FK, as in the audit log: entries outlive users, and SET NULL would be an UPDATE.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_api_key_id = models.UUIDField(null=True, blank=True)
    description = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, help_text="When the usage happened.")

    class Meta:
        ordering = ["-seq"]
        verbose_name = "credit transaction"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="credit_tx_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["usage", "expiry"], amount__lte=0)
                | Q(kind__in=["grant", "topup", "refund"], amount__gt=0)
                | Q(kind="bypass", amount=0)
                | Q(kind="adjustment") & ~Q(amount=0),
                name="credit_tx_amount_sign_by_kind",
            ),
            models.CheckConstraint(
                condition=Q(input_tokens__gte=0, output_tokens__gte=0), name="credit_tx_tokens_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-seq"], name="credit_tx_tenant_seq_idx"),
            # By when things happened: the console's ledger pages (occurred_at, seq), spend over a
            # period, the statement's month.
            models.Index(fields=["tenant", "occurred_at", "seq"], name="credit_tx_tenant_occurred_idx"),
            models.Index(
                fields=["refund_of"], condition=Q(refund_of__isnull=False), name="credit_tx_refund_of_idx"
            ),
            models.Index(
                fields=["reservation"],
                condition=Q(reservation__isnull=False),
                name="credit_tx_reservation_idx",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="credit_tx_insert_only", operation=pgtrigger.Update | pgtrigger.Delete),
            pgtrigger.Trigger(
                name="credit_tx_no_truncate",
                operation=pgtrigger.Truncate,
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                func="RAISE EXCEPTION 'pgtrigger: Cannot truncate the insert-only table %', TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} → {self.balance_after}"


class ReservationStatus(models.TextChoices):
    OPEN = "open", "Open"
    SETTLED = "settled", "Settled"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"


class Reservation(TenantScopedModel):
    """Credits held for an agent run that must not overshoot; settled, released or expired once."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = credit_field()
    status = models.CharField(
        max_length=16, choices=ReservationStatus.choices, default=ReservationStatus.OPEN
    )
    expires_at = models.DateTimeField()
    model = models.CharField(max_length=100, blank=True)
    agent_id = models.UUIDField(null=True, blank=True)
    agent_session_id = models.UUIDField(null=True, blank=True)
    description = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by_api_key_id = models.UUIDField(null=True, blank=True)
    # The settling entry points here (CreditTransaction.reservation), not the other way round:
    # the hold is closed and the entry written by one statement, and a foreign key to a row that
    # statement may not write (a refused settlement) would fail before the refusal is seen.
    settled_amount = credit_field(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantScopedModel.Meta):
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="reservation_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | ~Q(status="open") & Q(closed_at__isnull=False),
                name="reservation_closed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="reservation_tenant_time_idx"),
            # The expiry task's scan: only open holds, by expiry.
            models.Index(
                fields=["expires_at"], condition=Q(status="open"), name="reservation_open_expiry_idx"
            ),
        ]

    def __str__(self) -> str:
        tenant = f" for {self.tenant.name}" if Reservation.tenant.is_cached(self) else ""
        return f"Hold of {self.amount}{tenant} ({self.status})"


class IdempotencyRecord(TenantScopedModel):
    """The first response to a request with an `Idempotency-Key`, replayed byte for byte.

    Scoped to the tenant: (tenant, key) is unique. The row is claimed (inserted) before the work,
    so a concurrent duplicate waits on the unique index until the first one commits, then
    replays; the response is written by the same statement that does the work.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    # The key is a claim first, a response a moment later, in the same transaction; a committed
    # row always has its response (status_code 0 never commits).
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=32)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    response_body = models.TextField(blank=True, default="")

    class Meta(TenantScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_unique_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"


class LowBalanceThreshold(TenantScopedModel):
    """A balance below which the tenant is alerted, once per crossing.

    `below` is the crossing state: it turns true (and an alert is recorded) in the statement that
    takes the balance under the threshold, and false again when credits bring it back up.
    """

    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="thresholds")
    threshold = credit_field()
    below = models.BooleanField(default=False)
    last_crossed_at = models.DateTimeField(null=True, blank=True)
    alerts_sent = models.PositiveIntegerField(default=0)

    class Meta(TenantScopedModel.Meta):
        ordering = ["-threshold", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "threshold"], name="threshold_unique_per_account"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="threshold_not_negative"),
        ]

    def __str__(self) -> str:
        tenant = f" ({self.tenant.name})" if LowBalanceThreshold.tenant.is_cached(self) else ""
        return f"Alert below {self.threshold}{tenant}"
