"""Reservations: credits held for an agent run that must not overshoot.

A hold takes an estimated maximum out of the available balance (balance - open holds +
overdraft) without touching the balance; settling it charges the actual usage and frees the
rest; releasing frees it all; a hold left open past its expiry is released by a periodic task.
Each hold closes exactly once: every way of closing it updates it only while it is 'open'.
A hold past its expiry but not yet collected by the task may still be settled: the usage it
covered happened, and charging it is right.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from accounts.models import ApiKey, User
from billing.errors import InsufficientCredits, MonthlyCreditCapExceeded, ReservationClosed, invalid
from billing.models import Reservation, ReservationStatus
from billing.services import _sql, idempotency
from billing.services.charging import UsageEvent, _price
from billing.services.common import (
    MAX_DESCRIPTION_CHARS,
    ApiResult,
    charge_credits,
    check_model,
    check_text,
    check_tokens,
    check_uuid,
    dumps,
    ensure_account,
    entry_fields,
    ledger_write_guard,
    markup_of,
    negate,
    parse_amount,
    provider_cost,
    record_threshold_changes,
    reservation_fields,
    resolve_actor,
    split_body,
    unknown_model,
)
from billing.types import TenantRef, tenant_id_of
from core.errors import NotFound
from core.rows import prepared_cursor
from core.tenancy import platform_bypass, tenant_context
from tenants.selectors import get_setting

logger = structlog.get_logger(__name__)

HOLD_ENDPOINT = "reservation"
SETTLE_ENDPOINT = "reservation.settle"
RELEASE_ENDPOINT = "reservation.release"


@transaction.atomic(savepoint=False)
def reservation_hold(
    *,
    tenant: TenantRef,
    idempotency_key: str | None,
    amount: Any = None,
    model: str = "",
    input_tokens: int = 0,
    output_tokens: int = 0,
    ttl_seconds: int | None = None,
    agent_id: Any = None,
    session_id: Any = None,
    description: str = "",
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> ApiResult:
    """Hold credits for a run: `amount`, or the price of a model's maximum tokens.

    Raises InsufficientCredits (402) when the hold does not fit the available balance.
    """
    tenant_id = tenant_id_of(tenant)
    key = idempotency.check_key(idempotency_key, required=True)
    if (amount is None) == (not model):
        raise invalid("amount", "Give either an amount, or a model with the maximum tokens to hold for.")
    if amount is not None:
        amount = parse_amount(amount)
        if amount <= 0:
            raise invalid("amount", "Must be more than 0.")
    else:
        model = check_model(model)
        input_tokens = check_tokens(input_tokens, "input_tokens")
        output_tokens = check_tokens(output_tokens, "output_tokens")
    # The default: the tenant's setting, else the platform's, else the registry's.
    ttl = get_setting(tenant_id, "billing.reservation_ttl_seconds") if ttl_seconds is None else ttl_seconds
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, int)
        or not 1 <= ttl <= settings.QM_BILLING_RESERVATION_MAX_TTL_SECONDS
    ):
        raise invalid(
            "ttl_seconds", f"Between 1 and {settings.QM_BILLING_RESERVATION_MAX_TTL_SECONDS} seconds."
        )
    agent = check_uuid(agent_id, "agent_id")
    session = check_uuid(session_id, "session_id")
    description = check_text(description, "description", MAX_DESCRIPTION_CHARS)
    who = resolve_actor(actor, api_key)
    now = timezone.now()
    payload = {
        "amount": str(amount) if amount is not None else None,
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "ttl_seconds": ttl,
        "agent_id": str(agent) if agent else None,
        "session_id": str(session) if session else None,
        "description": description,
    }
    request = idempotency.KeyedRequest(
        tenant_id, key, HOLD_ENDPOINT, idempotency.fingerprint(HOLD_ENDPOINT, payload)
    )
    with prepared_cursor() as cursor:
        ctx = idempotency.claim(cursor, request, now=now, model=model)
        answer = idempotency.earlier_answer(ctx, request)
        if answer is not None:
            return answer
        if amount is None:
            if ctx.input_price is None or ctx.output_price is None:
                raise unknown_model(model)
            cost = provider_cost(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                input_price=ctx.input_price,
                output_price=ctx.output_price,
            )
            amount = charge_credits(cost_usd=cost, markup=markup_of(ctx.markup))
            if amount <= 0:
                raise invalid(
                    "output_tokens", "The estimate comes to 0 credits; hold at least one token's price."
                )
        account_id = ctx.account_id if ctx.account_id is not None else ensure_account(tenant_id)[0]
        reservation_id = uuid.uuid4()
        expires_at = now + timedelta(seconds=ttl)
        body = dumps(
            reservation_fields(
                reservation_id=reservation_id,
                status=ReservationStatus.OPEN,
                amount=amount,
                settled_amount=None,
                expires_at=expires_at,
                model=model,
                agent_id=agent,
                session_id=session,
                description=description,
                key=key,
                created_at=now,
                closed_at=None,
            )
        )
        with ledger_write_guard():
            cursor.execute(
                _sql.HOLD,
                {
                    "now": now,
                    "account": account_id,
                    "amount": amount,
                    "reservation": reservation_id,
                    "expires_at": expires_at,
                    "model": model,
                    "agent": agent,
                    "session": session,
                    "description": description,
                    "key": key,
                    "actor": who.user_id,
                    "api_key": who.api_key_id,
                    "claim": ctx.claim_id,
                    "status": 201,
                    "body": body,
                },
            )
        held, available = cursor.fetchone()
    if not held:
        raise InsufficientCredits(required=amount, available=available)
    return ApiResult(status_code=201, body=body)


def _open_hold(ctx: idempotency.WriteContext) -> idempotency.Hold:
    hold = ctx.hold()
    if hold is None:
        raise NotFound("No such reservation.")
    if hold.status != ReservationStatus.OPEN:
        raise ReservationClosed(f"This reservation is {hold.status}; it can no longer change.")
    return hold


@transaction.atomic(savepoint=False)
def reservation_settle(
    *,
    tenant: TenantRef,
    reservation_id: Any,
    input_tokens: int,
    output_tokens: int,
    model: str = "",
    idempotency_key: str | None = None,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> ApiResult:
    """Charge a hold's actual usage and free the rest, in one statement.

    The model defaults to the hold's. Usage beyond the hold is charged too if the available
    balance covers the excess; otherwise InsufficientCredits (402) and the hold stays open.
    """
    tenant_id = tenant_id_of(tenant)
    key = idempotency.check_key(idempotency_key, required=False)
    input_tokens = check_tokens(input_tokens, "input_tokens")
    output_tokens = check_tokens(output_tokens, "output_tokens")
    description = check_text(description, "description", MAX_DESCRIPTION_CHARS)
    metadata = metadata or {}
    who = resolve_actor(actor, api_key)
    now = timezone.now()
    payload = {
        "reservation_id": str(reservation_id),
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "description": description,
        "metadata": metadata,
    }
    request = idempotency.KeyedRequest(
        tenant_id, key, SETTLE_ENDPOINT, idempotency.fingerprint(SETTLE_ENDPOINT, payload)
    )
    with prepared_cursor() as cursor:
        ctx = idempotency.claim(cursor, request, now=now, model=model, reservation_id=reservation_id)
        answer = idempotency.earlier_answer(ctx, request)
        if answer is not None:
            return answer
        hold = _open_hold(ctx)
        markup = markup_of(ctx.markup)
        if not model:
            model = hold.model  # the context read priced the hold's model
            if not model:
                raise invalid("model", "This hold names no model: give the model used.")
        if ctx.input_price is None or ctx.output_price is None:
            raise unknown_model(model)
        event = UsageEvent(
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            agent_id=hold.agent_id,
            session_id=hold.session_id,
            description=description,
            metadata=metadata,
        )
        priced = _price(
            event,
            input_price=ctx.input_price,
            output_price=ctx.output_price,
            markup=markup,
            bypass=bool(ctx.unlimited) or who.bypasses_credits,
        )
        entry_id = uuid.uuid4()
        reservation = reservation_fields(
            reservation_id=hold.id,
            status=ReservationStatus.SETTLED,
            amount=hold.amount,
            settled_amount=priced.debit,
            expires_at=hold.expires_at,
            model=hold.model,
            agent_id=hold.agent_id,
            session_id=hold.session_id,
            description=hold.description,
            key=hold.key,
            created_at=hold.created_at,
            closed_at=now,
        )
        prefix, suffix = split_body(
            entry_fields(
                entry_id=entry_id,
                kind=priced.kind,
                amount=negate(priced.debit),
                cost=priced.cost,
                markup=markup,
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                agent_id=hold.agent_id,
                session_id=hold.session_id,
                reservation_id=hold.id,
                refund_of=None,
                key=key,
                description=description,
                metadata=priced.metadata,
                occurred_at=now,
                created_at=now,
            ),
            wrap=('{"reservation":' + dumps(reservation) + ',"transaction":', "}"),
        )
        params: dict[str, Any] = {
            "now": now,
            "tenant": tenant_id,
            "reservation": hold.id,
            "account": hold.account_id,
            "debit": priced.debit,
            "entry": entry_id,
            "kind": priced.kind,
            "cost": priced.cost,
            "markup": markup,
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "agent": hold.agent_id,
            "session": hold.session_id,
            "key": key,
            "actor": who.user_id,
            "api_key": who.api_key_id,
            "description": description,
            "metadata": Jsonb(priced.metadata),
            "occurred_at": now,
            "prefix": prefix,
            "suffix": suffix,
            "claim": ctx.claim_id,
            "status": 200,
        }
        with ledger_write_guard():
            cursor.execute(_sql.SETTLE, params)
        closed, balance, body, thresholds, available, month_used, cap = cursor.fetchone()
    if not closed:
        raise ReservationClosed()  # closed by someone else between the read and the statement
    if balance is None:
        # The hold was closed in the statement; the transaction rolls back with this error.
        if cap is not None and month_used + priced.debit > cap:
            raise MonthlyCreditCapExceeded(required=priced.debit, used=month_used, cap=cap)
        raise InsufficientCredits(required=priced.debit - hold.amount, available=available)
    if thresholds:
        record_threshold_changes(tenant_id=tenant_id, changes=thresholds, balance=balance)
    return ApiResult(status_code=200, body=body)


@transaction.atomic(savepoint=False)
def reservation_release(
    *,
    tenant: TenantRef,
    reservation_id: Any,
    idempotency_key: str | None = None,
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> ApiResult:
    """Free a hold without charging anything."""
    tenant_id = tenant_id_of(tenant)
    key = idempotency.check_key(idempotency_key, required=False)
    now = timezone.now()
    request = idempotency.KeyedRequest(
        tenant_id,
        key,
        RELEASE_ENDPOINT,
        idempotency.fingerprint(RELEASE_ENDPOINT, {"reservation_id": str(reservation_id)}),
    )
    with prepared_cursor() as cursor:
        ctx = idempotency.claim(cursor, request, now=now, reservation_id=reservation_id)
        answer = idempotency.earlier_answer(ctx, request)
        if answer is not None:
            return answer
        hold = _open_hold(ctx)
        body = dumps(
            reservation_fields(
                reservation_id=hold.id,
                status=ReservationStatus.RELEASED,
                amount=hold.amount,
                settled_amount=None,
                expires_at=hold.expires_at,
                model=hold.model,
                agent_id=hold.agent_id,
                session_id=hold.session_id,
                description=hold.description,
                key=hold.key,
                created_at=hold.created_at,
                closed_at=now,
            )
        )
        cursor.execute(
            _sql.RELEASE,
            {
                "now": now,
                "tenant": tenant_id,
                "reservation": hold.id,
                "claim": ctx.claim_id,
                "status": 200,
                "body": body,
            },
        )
        closed, _accounts = cursor.fetchone()
    if not closed:
        raise ReservationClosed()
    return ApiResult(status_code=200, body=body)


def reservations_expire(*, now: datetime | None = None) -> int:
    """Release every open hold past its expiry, each exactly once; return how many.

    One short transaction per account (inside that tenant's context), so the task never holds
    two accounts' locks at once and a busy account delays nobody else.
    """
    now = now or timezone.now()
    with platform_bypass(reason="billing: expire reservations", log=False):
        due = list(
            Reservation.objects.filter(status=ReservationStatus.OPEN, expires_at__lte=now)
            .order_by("account_id")
            .values_list("tenant_id", "account_id")
            .distinct()
        )
    released = 0
    for tenant_id, account_id in due:
        with tenant_context(tenant_id), connection.cursor() as cursor:
            cursor.execute(_sql.EXPIRE_ACCOUNT, {"account": account_id, "now": now})
            count, amount, _accounts = cursor.fetchone()
        if count:
            logger.info(
                "billing.reservations_expired", tenant_id=str(tenant_id), count=count, amount=str(amount)
            )
        released += count
    return released
