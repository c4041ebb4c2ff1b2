"""Reads of billing. The tenant is always passed explicitly: the instance, or (statements, read
after their request has ended) `TenantRef`, the instance or its id."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, DecimalField, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncDate
from django.utils import timezone

from accounts.models import ApiKey, User
from billing.models import (
    DEFAULT_MARKUP,
    CreditAccount,
    CreditTransaction,
    LowBalanceThreshold,
    ModelPrice,
    Plan,
    Reservation,
    Subscription,
    TransactionKind,
)
from billing.types import TenantRef
from tenants.models import Tenant

BURN_WINDOW_DAYS = 7
ZERO = Decimal("0.000000")


@dataclass(frozen=True)
class CreditSummary:
    account: CreditAccount | None
    subscription: Subscription | None
    burn_rate_per_day: Decimal
    thresholds: list[LowBalanceThreshold]

    @property
    def balance(self) -> Decimal:
        return self.account.balance if self.account else ZERO

    @property
    def held(self) -> Decimal:
        return self.account.held if self.account else ZERO

    @property
    def overdraft_limit(self) -> Decimal:
        return self.account.overdraft_limit if self.account else ZERO

    @property
    def available(self) -> Decimal:
        return self.balance - self.held + self.overdraft_limit

    @property
    def unlimited(self) -> bool:
        return bool(self.account and self.account.unlimited)

    @property
    def runway_days(self) -> Decimal | None:
        """Days until the available credits run out at the last 7 days' burn rate (None: never)."""
        if self.unlimited or self.burn_rate_per_day <= 0:
            return None
        days = max(self.available, Decimal(0)) / self.burn_rate_per_day
        return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def markup_multiplier(self) -> Decimal:
        if self.subscription is None:
            return DEFAULT_MARKUP
        return self.subscription.markup_multiplier_override or self.subscription.plan.markup_multiplier


def credit_account_get(*, tenant: Tenant) -> CreditAccount | None:
    return CreditAccount.objects.filter(tenant=tenant).first()


def burn_rate_per_day(*, tenant: Tenant, now: datetime | None = None) -> Decimal:
    """Credits charged for usage per day, averaged over the last 7 days."""
    since = (now or timezone.now()) - timedelta(days=BURN_WINDOW_DAYS)
    spent = CreditTransaction.objects.filter(
        tenant=tenant, kind=TransactionKind.USAGE, created_at__gte=since
    ).aggregate(total=Sum("amount"))["total"]
    if not spent:
        return ZERO
    return (-spent / BURN_WINDOW_DAYS).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def credit_summary(*, tenant: Tenant) -> CreditSummary:
    """Balance, holds, availability, burn rate and runway, thresholds, plan: four queries."""
    return CreditSummary(
        account=credit_account_get(tenant=tenant),
        subscription=subscription_get(tenant=tenant),
        burn_rate_per_day=burn_rate_per_day(tenant=tenant),
        thresholds=list(threshold_list(tenant=tenant)),
    )


def subscription_get(*, tenant: Tenant) -> Subscription | None:
    return Subscription.objects.select_related("plan").filter(tenant=tenant).first()


def threshold_list(*, tenant: Tenant) -> QuerySet[LowBalanceThreshold]:
    return LowBalanceThreshold.objects.filter(tenant=tenant).order_by("-threshold", "id")


def threshold_get(*, tenant: Tenant, threshold_id: Any) -> LowBalanceThreshold | None:
    return threshold_list(tenant=tenant).filter(pk=threshold_id).first()


def transaction_list(*, tenant: Tenant) -> QuerySet[CreditTransaction]:
    """The tenant's ledger, newest first (by seq: the order the balance moved in)."""
    return CreditTransaction.objects.filter(tenant=tenant).order_by("-seq")


def transaction_get(*, tenant: Tenant, transaction_id: Any) -> CreditTransaction | None:
    return transaction_list(tenant=tenant).filter(pk=transaction_id).first()


def agent_has_billing_records(*, tenant: TenantRef, agent_id: Any) -> bool:
    """Whether a ledger entry or a hold names the agent (then it is never deleted: the ledger's
    references are foreign keys, agents migration 0005). Two index probes."""
    return (
        CreditTransaction.objects.filter(tenant=tenant, agent_id=agent_id).exists()
        or Reservation.objects.filter(tenant=tenant, agent_id=agent_id).exists()
    )


def reservation_list(*, tenant: Tenant) -> QuerySet[Reservation]:
    return Reservation.objects.filter(tenant=tenant).order_by("-created_at", "-id")


def reservation_get(*, tenant: Tenant, reservation_id: Any) -> Reservation | None:
    return reservation_list(tenant=tenant).filter(pk=reservation_id).first()


def plan_list() -> QuerySet[Plan]:
    return Plan.objects.filter(is_active=True).order_by("monthly_price", "code")


def price_list(*, model: str | None = None) -> QuerySet[ModelPrice]:
    """Every price row, each model's newest first (the full history: effective dates matter)."""
    qs = ModelPrice.objects.order_by("tier", "model", "-effective_from")
    return qs.filter(model=model) if model else qs


def price_in_force(*, model: str, at: datetime | None = None) -> ModelPrice | None:
    return (
        ModelPrice.objects.filter(model=model, effective_from__lte=at or timezone.now())
        .order_by("-effective_from")
        .first()
    )


# --- Statements and spend ---------------------------------------------------------------------


STATEMENT_COLUMNS = [
    "seq",
    "created_at",
    "occurred_at",
    "kind",
    "amount",
    "balance_after",
    "provider_cost_usd",
    "markup_multiplier",
    "model",
    "input_tokens",
    "output_tokens",
    "agent_id",
    "session_id",
    "reservation_id",
    "refund_of",
    "idempotency_key",
    "description",
    "id",
]


def statement_opening_balance(*, tenant: TenantRef, start: datetime) -> Decimal:
    """The balance when the period began: the balance after the last entry before it."""
    last = (
        CreditTransaction.objects.filter(tenant=tenant, created_at__lt=start)
        .order_by("-seq")
        .values_list("balance_after", flat=True)
        .first()
    )
    return last if last is not None else ZERO


def statement_rows(
    *, tenant: TenantRef, start: datetime, end: datetime, chunk_size: int = 2000
) -> Iterator[tuple[Any, ...]]:
    """The period's entries, oldest first, read through a server-side cursor in chunks: a
    statement of millions of entries is never held in memory. Iterate inside a transaction in
    the tenant's context."""
    return (
        CreditTransaction.objects.filter(tenant=tenant, created_at__gte=start, created_at__lt=end)
        .order_by("seq")
        .values_list(
            "seq",
            "created_at",
            "occurred_at",
            "kind",
            "amount",
            "balance_after",
            "provider_cost_usd",
            "markup_multiplier",
            "model",
            "input_tokens",
            "output_tokens",
            "agent_id",
            "agent_session_id",
            "reservation_id",
            "refund_of_id",
            "idempotency_key",
            "description",
            "id",
        )
        .iterator(chunk_size=chunk_size)
    )


SPEND_GROUPS = {"model": "model", "agent": "agent_id", "session": "agent_session_id", "day": "day"}


def spend(
    *, tenant: Tenant, group_by: str, start: datetime, end: datetime, tz: str = "UTC"
) -> list[dict[str, Any]]:
    """Usage per model, agent, session or day (in the tenant's time zone), most spent first
    (days in order). Unlimited accounts' usage counts as its shadow cost, shown apart."""
    qs = CreditTransaction.objects.filter(
        tenant=tenant,
        kind__in=[TransactionKind.USAGE, TransactionKind.BYPASS],
        occurred_at__gte=start,
        occurred_at__lt=end,
    )
    key = SPEND_GROUPS[group_by]
    if key == "day":
        qs = qs.annotate(day=TruncDate("occurred_at", tzinfo=zoneinfo.ZoneInfo(tz)))
    shadow = Cast(
        KeyTextTransform("shadow_amount", "metadata"), DecimalField(max_digits=20, decimal_places=6)
    )
    rows = (
        qs.values(key)
        .annotate(
            credits=Coalesce(-Sum("amount", filter=Q(kind=TransactionKind.USAGE)), ZERO),
            shadow_credits=Coalesce(-Sum(shadow, filter=Q(kind=TransactionKind.BYPASS)), ZERO),
            provider_cost_usd=Coalesce(Sum("provider_cost_usd"), Decimal(0)),
            input_tokens=Coalesce(Sum("input_tokens"), 0),
            output_tokens=Coalesce(Sum("output_tokens"), 0),
            events=Count("id"),
        )
        .order_by("day" if key == "day" else "-credits", key)
    )
    return [{"key": row.pop(key), **row} for row in rows]


@dataclass(frozen=True)
class DaySpend:
    """One day's usage in the tenant's time zone: credits charged, and the shadow cost of an
    unlimited account's usage (recorded, never deducted)."""

    day: date
    credits: Decimal
    shadow_credits: Decimal
    events: int

    @property
    def used(self) -> Decimal:
        """What the day's usage cost, charged or not."""
        return self.credits + self.shadow_credits


def spend_period(*, tenant: Tenant, days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the last `days` days, today included, in the tenant's time zone."""
    tz = zoneinfo.ZoneInfo(tenant.timezone)
    today = timezone.localtime(now or timezone.now(), tz).date()
    start = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=tz)
    return start, datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)


def spend_by_day(*, tenant: Tenant, days: int = 30, now: datetime | None = None) -> list[DaySpend]:
    """Usage per day over the last `days` days (today included, the tenant's time zone), oldest
    first, every day present (zero when nothing was used): one query."""
    start, end = spend_period(tenant=tenant, days=days, now=now)
    found = spend(tenant=tenant, group_by="day", start=start, end=end, tz=tenant.timezone)
    rows = {row["key"]: row for row in found}
    first = start.date()
    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = rows.get(day)
        series.append(
            DaySpend(
                day=day,
                credits=row["credits"] if row else ZERO,
                shadow_credits=row["shadow_credits"] if row else ZERO,
                events=row["events"] if row else 0,
            )
        )
    return series


def spend_by_api_key(
    *, tenant: Tenant, start: datetime, end: datetime, limit: int = 5
) -> list[dict[str, Any]]:
    """Usage reported with each API key over [start, end), most spent first, at most `limit`
    keys, each with its name and prefix (revoked keys included; usage by people, without a key,
    left out): one query."""
    key = ApiKey.objects.filter(tenant=tenant, pk=OuterRef("actor_api_key_id"))
    shadow = Cast(
        KeyTextTransform("shadow_amount", "metadata"), DecimalField(max_digits=20, decimal_places=6)
    )
    rows = (
        CreditTransaction.objects.filter(
            tenant=tenant,
            kind__in=[TransactionKind.USAGE, TransactionKind.BYPASS],
            occurred_at__gte=start,
            occurred_at__lt=end,
            actor_api_key_id__isnull=False,
        )
        .values("actor_api_key_id")
        .annotate(
            credits=Coalesce(-Sum("amount", filter=Q(kind=TransactionKind.USAGE)), ZERO),
            shadow_credits=Coalesce(-Sum(shadow, filter=Q(kind=TransactionKind.BYPASS)), ZERO),
            events=Count("id"),
            name=Subquery(key.values("name")[:1]),
            prefix=Subquery(key.values("prefix")[:1]),
        )
        .order_by("-credits", "-shadow_credits", "actor_api_key_id")[:limit]
    )
    return [
        {
            "key": row["actor_api_key_id"],
            "name": row["name"] or "",
            "prefix": row["prefix"] or "",
            "credits": row["credits"],
            "shadow_credits": row["shadow_credits"],
            "events": row["events"],
        }
        for row in rows
    ]


# --- The ledger's invariant --------------------------------------------------------------------


@dataclass(frozen=True)
class AccountCheck:
    account_id: Any
    tenant_id: Any
    balance: Decimal
    ledger_sum: Decimal
    entries: int
    chain_breaks: int
    held: Decimal
    open_holds: Decimal

    @property
    def ok(self) -> bool:
        return self.balance == self.ledger_sum and self.chain_breaks == 0 and self.held == self.open_holds


_CHECK = """
SELECT a.id, a.tenant_id, a.balance, coalesce(l.total, 0)::numeric(20, 6), coalesce(l.n, 0),
       coalesce(l.breaks, 0), a.held, coalesce(r.total, 0)::numeric(20, 6)
  FROM (SELECT id, tenant_id, balance, held FROM billing_creditaccount
         WHERE id > %(after)s ORDER BY id LIMIT %(limit)s) a
  LEFT JOIN LATERAL (
        SELECT sum(amount) AS total, count(*) AS n,
               count(*) FILTER (WHERE balance_after <> running) AS breaks
          FROM (SELECT amount, balance_after, sum(amount) OVER (ORDER BY seq) AS running
                  FROM billing_credittransaction
                 WHERE tenant_id = a.tenant_id AND account_id = a.id) entries
  ) l ON true
  LEFT JOIN LATERAL (
        SELECT sum(amount) AS total FROM billing_reservation
         WHERE tenant_id = a.tenant_id AND account_id = a.id AND status = 'open'
  ) r ON true
 ORDER BY a.id
"""


def ledger_account_count() -> int:
    return CreditAccount.objects.count()


def ledger_check(*, chunk: int = 500) -> Iterator[list[AccountCheck]]:
    """Every account, in chunks: balance = sum of its entries, each entry's balance_after = the
    running sum (in seq order), held = sum of its open holds. Run under the platform bypass."""
    after = "00000000-0000-0000-0000-000000000000"
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_CHECK, {"after": after, "limit": chunk})
            rows = [AccountCheck(*row) for row in cursor.fetchall()]
        if not rows:
            return
        yield rows
        after = str(rows[-1].account_id)


# --- Platform-wide reads (the console's platform pages) ---------------------------------------
# Across every tenant: call them inside `core.tenancy.platform_bypass` (the ledger, accounts and
# thresholds are under row-level security). Each is one query, whatever the number of rows.


@dataclass(frozen=True)
class PlatformDay:
    """One UTC day across the platform: credits charged for usage, what the providers cost, and
    the margin between them (credits are priced in US dollars: a credit is a dollar of cost
    times the markup). Unlimited accounts' usage costs the provider without a charge."""

    day: date
    credits: Decimal
    provider_cost_usd: Decimal
    events: int

    @property
    def margin_usd(self) -> Decimal:
        return self.credits - self.provider_cost_usd


def platform_period(*, days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the last `days` UTC days, today included."""
    today = (now or timezone.now()).astimezone(zoneinfo.ZoneInfo("UTC")).date()
    start = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=zoneinfo.ZoneInfo("UTC"))
    return start, start + timedelta(days=days)


def _platform_usage(start: datetime, end: datetime) -> QuerySet[CreditTransaction]:
    return CreditTransaction.objects.filter(
        kind__in=[TransactionKind.USAGE, TransactionKind.BYPASS], occurred_at__gte=start, occurred_at__lt=end
    )


def _charged() -> Any:
    return Coalesce(-Sum("amount", filter=Q(kind=TransactionKind.USAGE)), ZERO)


def _provider_cost() -> Any:
    return Coalesce(Sum("provider_cost_usd"), Decimal(0))


def platform_spend_by_day(*, days: int = 30, now: datetime | None = None) -> list[PlatformDay]:
    """Credits charged, provider cost and margin per UTC day over the last `days` days, oldest
    first, every day present: one query."""
    start, end = platform_period(days=days, now=now)
    found = (
        _platform_usage(start, end)
        .annotate(day=TruncDate("occurred_at", tzinfo=zoneinfo.ZoneInfo("UTC")))
        .values("day")
        .annotate(credits=_charged(), provider_cost_usd=_provider_cost(), events=Count("id"))
        .order_by("day")
    )
    rows: dict[date, dict[str, Any]] = {row["day"]: dict(row) for row in found}
    series = []
    for offset in range(days):
        day = start.date() + timedelta(days=offset)
        row = rows.get(day)
        series.append(
            PlatformDay(
                day=day,
                credits=row["credits"] if row else ZERO,
                provider_cost_usd=row["provider_cost_usd"] if row else Decimal(0),
                events=row["events"] if row else 0,
            )
        )
    return series


def platform_top_tenants(*, start: datetime, end: datetime, limit: int = 5) -> list[dict[str, Any]]:
    """The tenants that used the most over [start, end): credits charged, provider cost, margin,
    with each tenant's name and slug: one query."""
    tenant = Tenant.objects.filter(pk=OuterRef("tenant_id"))
    rows = (
        _platform_usage(start, end)
        .values("tenant_id")
        .annotate(
            credits=_charged(),
            provider_cost_usd=_provider_cost(),
            events=Count("id"),
            name=Subquery(tenant.values("name")[:1]),
            slug=Subquery(tenant.values("slug")[:1]),
        )
        .order_by("-credits", "-provider_cost_usd", "tenant_id")[:limit]
    )
    found: list[dict[str, Any]] = [dict(row) for row in rows]
    return [{**row, "margin_usd": row["credits"] - row["provider_cost_usd"]} for row in found]


def platform_low_balances(*, limit: int = 10) -> list[dict[str, Any]]:
    """Tenants whose balance is below one of their low-balance alerts now (an open crossing),
    lowest balance first, with the highest threshold crossed: one query."""
    rows = (
        LowBalanceThreshold.objects.filter(below=True, account__unlimited=False)
        .values("tenant_id")
        .annotate(
            threshold=Max("threshold"),
            since=Min("last_crossed_at"),
            balance=Max("account__balance"),
            name=Max("tenant__name"),
            slug=Max("tenant__slug"),
        )
        .order_by("balance", "tenant_id")[:limit]
    )
    return [dict(row) for row in rows]


def platform_tenant_list(*, query: str = "", status: str = "") -> QuerySet[Tenant]:
    """Every tenant by name, each with its credit `balance` and `unlimited` flag (None: no
    account yet); `query` matches the name or slug, `status` the status: one query a page."""
    account = CreditAccount.objects.filter(tenant_id=OuterRef("pk"))
    tenants = Tenant.objects.annotate(
        balance=Subquery(account.values("balance")[:1]),
        unlimited=Subquery(account.values("unlimited")[:1]),
    ).order_by("name", "id")
    if query:
        tenants = tenants.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    if status:
        tenants = tenants.filter(status=status)
    return tenants


def platform_tenant_counts() -> list[dict[str, Any]]:
    """How many tenants are in each (status, plan): one query."""
    rows = Tenant.objects.values("status", "plan").annotate(count=Count("id")).order_by("status", "plan")
    return [dict(row) for row in rows]


# --- The admin's dashboard (the platform-wide reads above, and who is active) ------------------


def platform_active_users(*, days: int = 30, now: datetime | None = None) -> dict[str, int]:
    """Active accounts (`total`), and those seen in the last `days` days (`seen`: signed in or
    used the API): one query."""
    since = (now or timezone.now()) - timedelta(days=days)
    return User.objects.filter(is_active=True).aggregate(
        total=Count("id"),
        seen=Count("id", filter=Q(last_seen_at__gte=since) | Q(last_login__gte=since)),
    )


def transaction_list_filtered(
    *,
    tenant: Tenant,
    kind: str = "",
    model: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
    by_occurrence: bool = False,
) -> QuerySet[CreditTransaction]:
    """The ledger (newest first) filtered as the API filters it: a kind, a model, created in
    [start, end); each entry with its acting user and the name and prefix of its API key
    (`api_key_name`, `api_key_prefix`), in the same query.

    `by_occurrence`: ordered and filtered by when the entry's event happened (`occurred_at`,
    then seq) instead of when it was posted: usage reported in a batch hours later sits at the
    hour it happened, as the spend charts show it."""
    key = ApiKey.objects.filter(tenant=tenant, pk=OuterRef("actor_api_key_id"))
    qs = (
        transaction_list(tenant=tenant)
        .select_related("actor_user")
        .annotate(
            api_key_name=Subquery(key.values("name")[:1]),
            api_key_prefix=Subquery(key.values("prefix")[:1]),
        )
    )
    moment = "occurred_at" if by_occurrence else "created_at"
    if by_occurrence:
        qs = qs.order_by("-occurred_at", "-seq")
    if kind:
        qs = qs.filter(kind=kind)
    if model:
        qs = qs.filter(model=model)
    if start is not None:
        qs = qs.filter(**{f"{moment}__gte": start})
    if end is not None:
        qs = qs.filter(**{f"{moment}__lt": end})
    return qs
