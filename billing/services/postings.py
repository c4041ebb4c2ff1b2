"""Staff postings: grants, top-ups, refunds and adjustments of a tenant's credits, with a reason,
audited; and the entry writer the slow paths share (staff postings, included credits).

These are slow paths: each locks the account first and re-reads it (locks.py), then writes
through the same single-statement entry writer as charges, and audits inside the transaction.
Each keeps Django's savepoint when nested, so the admin can show a refusal and carry on.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from psycopg.types.json import Jsonb

from accounts.models import ApiKey, User
from audit.models import Severity
from audit.services import audit_record
from billing import locks
from billing.errors import InsufficientCredits, invalid
from billing.models import CreditAccount, CreditTransaction, TransactionKind
from billing.services import _sql, idempotency
from billing.services.common import (
    MAX_DESCRIPTION_CHARS,
    ApiResult,
    check_uuid,
    ensure_account,
    entry_fields,
    fmt,
    ledger_write_guard,
    parse_amount,
    record_threshold_changes,
    resolve_actor,
    split_body,
)
from billing.types import TenantRef, tenant_id_of
from core import clock
from core.errors import Conflict
from core.rows import prepared_cursor

CREDITS_ENDPOINT = "credits"
STAFF_KINDS = (
    TransactionKind.GRANT,
    TransactionKind.TOPUP,
    TransactionKind.REFUND,
    TransactionKind.ADJUSTMENT,
)


def post_entry(
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
        balance, body, thresholds, available, _month_used, _cap = cursor.fetchone()  # no usage here
    return entry_id, balance, body, thresholds, available


@transaction.atomic
def credits_post(
    *,
    tenant: TenantRef,
    kind: str,
    amount: Any,
    reason: str,
    actor: User | None,
    idempotency_key: str | None = None,
    refund_of: Any = None,
    api_key: ApiKey | None = None,
) -> ApiResult:
    """Platform staff: grant, top up, refund or adjust a tenant's credits, with a reason; audited.

    Grants, top-ups and refunds add credits (amount > 0); an adjustment is signed and may not
    take the balance below the overdraft floor. A refund may name the usage entry it refunds
    (`refund_of`), and then never exceeds what that entry charged, over all its refunds.
    """
    tenant_id = tenant_id_of(tenant)
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
    now = clock.now()
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
        entry_id, balance, body, thresholds, available = post_entry(
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
