"""Charging usage: one event, or a batch of up to 1,000 in one round trip.

credits = provider cost in USD (the model's price in force at the usage time) x the markup in
force (the tenant's override, else the plan's, else 5.0), to 6 decimals. Unlimited accounts and
platform admins write `bypass` entries: amount 0, the would-be charge in metadata.

Both run inside the caller's transaction when there is one (the API's, per request) without a
savepoint of their own: on the hot path every round trip counts, and an error rolls the
request's transaction back whole anyway.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from psycopg.types.json import Jsonb

from accounts.models import ApiKey, User
from billing.errors import InsufficientCredits, MonthlyCreditCapExceeded, invalid, refusal
from billing.models import DEFAULT_MARKUP, TransactionKind
from billing.services import _sql, idempotency
from billing.services.common import (
    MAX_DESCRIPTION_CHARS,
    USAGE_SUFFIX,
    ApiResult,
    charge_credits,
    check_metadata,
    check_model,
    check_occurred_at,
    check_text,
    check_tokens,
    check_uuid,
    dumps,
    ensure_account,
    fmt,
    iso,
    ledger_write_guard,
    markup_of,
    negate,
    provider_cost,
    record_threshold_changes,
    resolve_actor,
    unknown_model,
    usage_prefix,
)
from billing.types import TenantRef, tenant_id_of
from core import clock, hygiene
from core.errors import DomainError, error_body
from core.rows import prepared_cursor

USAGE_ENDPOINT = "usage"  # single charges and batch events share keys: a retry may take either
MAX_BATCH_EVENTS = 1000


@dataclass
class UsageEvent:
    """One usage report, checked."""

    model: str
    input_tokens: int
    output_tokens: int
    agent_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    occurred_at: datetime | None = None
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """What an idempotency key is bound to, hashed (the payload's fields, unambiguously)."""
        canonical = "\x1f".join(
            (
                USAGE_ENDPOINT,
                dumps(self.model),
                str(self.input_tokens),
                str(self.output_tokens),
                str(self.agent_id or ""),
                str(self.session_id or ""),
                self.occurred_at.isoformat() if self.occurred_at else "",
                dumps(self.description),
                json.dumps(self.metadata, sort_keys=True, separators=(",", ":"), default=str)
                if self.metadata
                else "",
            )
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def usage_event(
    *,
    model: Any = None,
    input_tokens: Any = 0,
    output_tokens: Any = 0,
    agent_id: Any = None,
    session_id: Any = None,
    occurred_at: Any = None,
    description: Any = "",
    metadata: Any = None,
    now: datetime | None = None,
) -> UsageEvent:
    """Check one usage report's fields; raise a 400 naming the first bad one."""
    event = UsageEvent(
        model=check_model(model),
        input_tokens=check_tokens(input_tokens, "input_tokens"),
        output_tokens=check_tokens(output_tokens, "output_tokens"),
        agent_id=check_uuid(agent_id, "agent_id"),
        session_id=check_uuid(session_id, "session_id"),
        occurred_at=check_occurred_at(occurred_at, now or clock.now()),
        description=check_text(description, "description", MAX_DESCRIPTION_CHARS),
        metadata=check_metadata(metadata),
    )
    if event.input_tokens + event.output_tokens == 0:
        raise invalid("input_tokens", "A usage report needs at least one token.")
    return event


@dataclass
class _Priced:
    kind: str
    debit: Decimal  # what leaves the balance (0 for bypass entries)
    cost: Decimal
    metadata: dict[str, Any]


def _price(
    event: UsageEvent, *, input_price: Decimal, output_price: Decimal, markup: Decimal, bypass: bool
) -> _Priced:
    cost = provider_cost(
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        input_price=input_price,
        output_price=output_price,
    )
    amount = charge_credits(cost_usd=cost, markup=markup)
    if bypass:
        # Recorded, never deducted: what would have been charged goes into the metadata.
        shadow = {**event.metadata, "shadow_amount": fmt(negate(amount))}
        return _Priced(TransactionKind.BYPASS, Decimal("0.000000"), cost, shadow)
    return _Priced(TransactionKind.USAGE, amount, cost, event.metadata)


def _usage_body(
    event: UsageEvent, priced: _Priced, *, entry_id: uuid.UUID, key: str, markup: Decimal, now: datetime
) -> tuple[str, str]:
    prefix = usage_prefix(
        entry_id=entry_id,
        kind=priced.kind,
        amount=negate(priced.debit),
        cost=priced.cost,
        markup=markup,
        model=event.model,
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        agent_id=event.agent_id,
        session_id=event.session_id,
        key=key,
        description=event.description,
        metadata=priced.metadata,
        occurred_at=event.occurred_at or now,
        created_at=now,
    )
    return prefix, USAGE_SUFFIX


@transaction.atomic(savepoint=False)
def credits_charge(
    *,
    tenant: TenantRef,
    event: UsageEvent,
    idempotency_key: str | None,
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> ApiResult:
    """Charge one usage event to the tenant's credits; replay the answer for a repeated key.

    Raises InsufficientCredits (402, nothing written), IdempotencyKeyReused (409), or a 400 for
    a model without a price in force.
    """
    tenant_id = tenant_id_of(tenant)
    key = idempotency.check_key(idempotency_key, required=True)
    who = resolve_actor(actor, api_key)
    now = clock.now()
    request = idempotency.KeyedRequest(tenant_id, key, USAGE_ENDPOINT, event.fingerprint())
    with prepared_cursor() as cursor:
        ctx = idempotency.claim(cursor, request, now=now, model=event.model, at=event.occurred_at)
        answer = idempotency.earlier_answer(ctx, request)
        if answer is not None:
            return answer
        if ctx.input_price is None or ctx.output_price is None:
            raise unknown_model(event.model)
        account_id, unlimited = ctx.account_id, ctx.unlimited
        if account_id is None:
            account_id, unlimited = ensure_account(tenant_id)
        markup = markup_of(ctx.markup)
        priced = _price(
            event,
            input_price=ctx.input_price,
            output_price=ctx.output_price,
            markup=markup,
            bypass=bool(unlimited) or who.bypasses_credits,
        )
        entry_id = uuid.uuid4()
        prefix, suffix = _usage_body(event, priced, entry_id=entry_id, key=key, markup=markup, now=now)
        params: dict[str, Any] = {
            "now": now,
            "account": account_id,
            "delta": negate(priced.debit),
            "count_held": True,
            "entry": entry_id,
            "kind": priced.kind,
            "cost": priced.cost,
            "markup": markup,
            "model": event.model,
            "input_tokens": event.input_tokens,
            "output_tokens": event.output_tokens,
            "agent": event.agent_id,
            "session": event.session_id,
            "reservation": None,
            "refund_of": None,
            "key": key,
            "actor": who.user_id,
            "api_key": who.api_key_id,
            "description": event.description,
            "metadata": Jsonb(priced.metadata),
            "occurred_at": event.occurred_at or now,
            "prefix": prefix,
            "suffix": suffix,
            "claim": ctx.claim_id,
            "status": 201,
        }
        with ledger_write_guard():
            cursor.execute(_sql.POST_ENTRY, params)
        balance, body, thresholds, available, month_used, cap = cursor.fetchone()
    if balance is None:
        raise refusal(required=priced.debit, available=available, used=month_used, cap=cap)
    if thresholds:
        record_threshold_changes(tenant_id=tenant_id, changes=thresholds, balance=balance)
    return ApiResult(status_code=201, body=body)


# --- The batch ---------------------------------------------------------------------------------


@dataclass
class BatchItem:
    """One event of a batch as received: its key, and the event or the reason it is refused."""

    key: str
    event: UsageEvent | None = None
    error: DomainError | None = None


@dataclass
class BatchResult:
    results: list[tuple[int, str, bool]]  # (status, body, replayed) per event, in order
    charged: int = 0
    replayed: int = 0
    refused: int = 0

    def body(self, keys: Sequence[str]) -> str:
        """The batch's answer: each event's own result, its body exactly as a single charge's."""
        parts = []
        for index, ((status, body, replayed), key) in enumerate(zip(self.results, keys, strict=True)):
            parts.append(
                f'{{"index":{index},"idempotency_key":{dumps(key)},"status":{status},'
                f'"replayed":{"true" if replayed else "false"},"body":{body}}}'
            )
        summary = dumps({"charged": self.charged, "replayed": self.replayed, "refused": self.refused})
        return '{"results":[' + ",".join(parts) + '],"summary":' + summary + "}"


_EVENT_FIELDS = frozenset(
    {
        "model",
        "input_tokens",
        "output_tokens",
        "agent_id",
        "session_id",
        "occurred_at",
        "description",
        "metadata",
    }
)


def _error(exc: DomainError) -> tuple[int, str, bool]:
    return (
        exc.status_code,
        dumps(error_body(exc.status_code, code=exc.code, detail=exc.detail, errors=exc.errors)),
        False,
    )


def batch_item(raw: Any, *, now: datetime) -> BatchItem:
    """Check one raw event of a batch; a bad one gets its own 400 result, not the batch's."""
    if not isinstance(raw, dict):
        return BatchItem(key="", error=invalid("events", "An event must be a JSON object."))
    key = raw.get("idempotency_key")
    key = key if isinstance(key, str) else ""
    try:
        key = idempotency.check_key(key, required=True)
        event = usage_event(now=now, **{k: v for k, v in raw.items() if k in _EVENT_FIELDS})
    except DomainError as exc:
        # The key is echoed in the event's result: never a character the answer cannot carry.
        return BatchItem(key=hygiene.clean_text(key), error=exc)
    return BatchItem(key=key, event=event)


class _PriceBook:
    """A batch's models' price histories, for the price in force at each event's time."""

    def __init__(self, rows: list[list[str]]):
        self._by_model: dict[str, list[tuple[datetime, Decimal, Decimal]]] = {}
        for model, start, input_price, output_price in rows:
            self._by_model.setdefault(model, []).append(
                (datetime.fromisoformat(start), Decimal(input_price), Decimal(output_price))
            )
        for history in self._by_model.values():
            history.sort(key=lambda item: item[0])

    def at(self, model: str, when: datetime) -> tuple[Decimal, Decimal] | None:
        history = self._by_model.get(model)
        if not history:
            return None
        index = bisect.bisect_right([start for start, _, _ in history], when) - 1
        if index < 0:
            return None
        return history[index][1], history[index][2]


@transaction.atomic(savepoint=False)
def credits_charge_batch(
    *, tenant: TenantRef, items: list[BatchItem], actor: User | None = None, api_key: ApiKey | None = None
) -> BatchResult:
    """Charge a batch of usage events in one transaction and one locked statement.

    Each event is answered as if it had been sent alone, in order: charged (201), replayed
    (its key was used before), refused (402 when the credits ran out, 409 for a reused key, 400
    for a bad event). Keys must be unique within a batch.
    """
    tenant_id = tenant_id_of(tenant)
    if len(items) > MAX_BATCH_EVENTS:
        raise invalid("events", f"At most {MAX_BATCH_EVENTS} events per batch.")
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.key and item.key in seen:
            raise invalid(
                "events", f"Event {index}: idempotency_key {item.key!r} appears twice in this batch."
            )
        seen.add(item.key)
    who = resolve_actor(actor, api_key)
    now = clock.now()
    results: list[tuple[int, str, bool] | None] = [None] * len(items)
    for index, item in enumerate(items):
        if item.error is not None:
            results[index] = _error(item.error)
    valid = [(index, item) for index, item in enumerate(items) if item.event is not None]
    fingerprints = {item.key: item.event.fingerprint() for _, item in valid}  # type: ignore[union-attr]  # valid: event is set
    outcome = BatchResult(results=[])
    with prepared_cursor() as cursor:
        models = sorted({item.event.model for _, item in valid})  # type: ignore[union-attr]
        cursor.execute(
            _sql.BATCH_CONTEXT, {"tenant": tenant_id, "default_markup": DEFAULT_MARKUP, "models": models}
        )
        account_id, unlimited, markup, price_rows = cursor.fetchone()
        if account_id is None:
            account_id, unlimited = ensure_account(tenant_id)
        markup = markup_of(markup)
        prices = _PriceBook(price_rows)
        # Claim every key at once; keys already used are answered from their records.
        claims = idempotency.claim_many(
            cursor, tenant_id=tenant_id, endpoint=USAGE_ENDPOINT, fingerprints=fingerprints, now=now
        )
        stored = idempotency.read_stored_many(
            cursor, tenant_id=tenant_id, keys=[item.key for _, item in valid if item.key not in claims]
        )
        charge: list[tuple[int, BatchItem, _Priced, uuid.UUID, str, str]] = []
        bypass = unlimited or who.bypasses_credits
        for index, item in valid:
            event = item.event
            assert event is not None
            if item.key not in claims:
                try:
                    result = idempotency.replay(
                        stored.get(item.key), endpoint=USAGE_ENDPOINT, fingerprint_=fingerprints[item.key]
                    )
                except DomainError as exc:
                    results[index] = _error(exc)
                else:
                    results[index] = (result.status_code, result.body, True)
                continue
            price = prices.at(event.model, event.occurred_at or now)
            if price is None:
                results[index] = _error(unknown_model(event.model))
                continue
            priced = _price(event, input_price=price[0], output_price=price[1], markup=markup, bypass=bypass)
            entry_id = uuid.uuid4()
            prefix, suffix = _usage_body(
                event, priced, entry_id=entry_id, key=item.key, markup=markup, now=now
            )
            charge.append((index, item, priced, entry_id, prefix, suffix))
        # Claims of events refused before the charge (unknown model) are dropped with it.
        priced_keys = {item.key for _, item, *_ in charge}
        idempotency.drop_claims(cursor, (claim for key, claim in claims.items() if key not in priced_keys))
        if charge:
            now_text = iso(now)
            events = [
                {
                    "i": n,
                    "id": str(entry_id),
                    "claim": str(claims[item.key]),
                    "kind": priced.kind,
                    "debit": str(priced.debit),
                    "cost": str(priced.cost),
                    "model": item.event.model,  # type: ignore[union-attr]  # charged items have events
                    "input_tokens": item.event.input_tokens,  # type: ignore[union-attr]
                    "output_tokens": item.event.output_tokens,  # type: ignore[union-attr]
                    "agent": str(item.event.agent_id) if item.event.agent_id else None,  # type: ignore[union-attr]
                    "session": str(item.event.session_id) if item.event.session_id else None,  # type: ignore[union-attr]
                    "key": item.key,
                    "description": item.event.description,  # type: ignore[union-attr]
                    "metadata": priced.metadata,
                    "occurred_at": iso(item.event.occurred_at) if item.event.occurred_at else now_text,  # type: ignore[union-attr]
                    "prefix": prefix,
                }
                for n, (_index, item, priced, entry_id, prefix, _suffix) in enumerate(charge, start=1)
            ]
            with ledger_write_guard():
                cursor.execute(
                    _sql.BATCH_CHARGE,
                    {
                        "now": now,
                        "tenant": tenant_id,
                        "account": account_id,
                        "markup": markup,
                        "actor": who.user_id,
                        "api_key": who.api_key_id,
                        "n": len(charge),
                        "events": dumps(events),
                        "suffix": charge[0][5],
                    },
                )
            balances, admitted, held_less_overdraft, thresholds, capped, used, cap = cursor.fetchone()
            final_balance = Decimal(0)
            for (index, _item, priced, _entry, prefix, suffix), balance, ok, over_cap, month_used in zip(
                charge, balances, admitted, capped, used, strict=True
            ):
                if ok:
                    results[index] = (201, prefix + balance + suffix, False)
                    final_balance = Decimal(balance)
                elif over_cap:
                    results[index] = _error(
                        MonthlyCreditCapExceeded(required=priced.debit, used=Decimal(month_used), cap=cap)
                    )
                else:
                    results[index] = _error(
                        InsufficientCredits(
                            required=priced.debit, available=Decimal(balance) - held_less_overdraft
                        )
                    )
            if thresholds:
                record_threshold_changes(tenant_id=tenant_id, changes=thresholds, balance=final_balance)
    outcome.results = [r for r in results if r is not None]
    assert len(outcome.results) == len(items)
    for status, _body, replayed in outcome.results:
        if replayed:
            outcome.replayed += 1
        elif status == 201:
            outcome.charged += 1
        else:
            outcome.refused += 1
    return outcome
