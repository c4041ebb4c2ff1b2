"""What the billing services share: pricing, input checks, response bodies, actors, alerts.

Idempotency (claims, replays) is in `billing.services.idempotency`.

Response bodies are built here, not by DRF serializers, because the first response to an
idempotent request is stored in the same statement that does the work and replayed byte for
byte; `billing.api.outputs` declares matching serializers for the OpenAPI schema and for reads.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError
from django.utils import timezone
from psycopg.errors import NumericValueOutOfRange

from accounts.models import ApiKey, User
from alerts.models import Severity as AlertSeverity
from alerts.services import alert_raise, alert_resolve_by_key
from audit.models import Severity
from audit.services import audit_record
from billing.errors import IdempotencyKeyReused, invalid
from billing.models import CREDIT_DIGITS, CREDIT_PLACES, CREDIT_QUANTUM, MARKUP_QUANTUM, USD_QUANTUM
from billing.services import _sql
from core import context, hygiene
from core.errors import InvalidInput, LimitExceeded
from core.rows import prepared_cursor

MILLION = Decimal(1_000_000)
# Credit columns are NUMERIC(20, 6): every amount, balance and sum of holds stays below this.
MAX_CREDITS = Decimal(10) ** (CREDIT_DIGITS - CREDIT_PLACES)
MAX_TOKENS = 10**12
MAX_METADATA_CHARS = 4000
MAX_DESCRIPTION_CHARS = 1000


@dataclass(frozen=True)
class ApiResult:
    """An idempotent write's answer: the status and the exact body (stored, or replayed)."""

    status_code: int
    body: str
    replayed: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Actor:
    """Who causes a ledger write: a user, an API key (acting for its creator), or the system."""

    user: User | None = None
    api_key: ApiKey | None = None

    @property
    def user_id(self) -> uuid.UUID | None:
        return getattr(self.user, "pk", None)

    @property
    def api_key_id(self) -> uuid.UUID | None:
        return getattr(self.api_key, "pk", None)

    @property
    def bypasses_credits(self) -> bool:
        """Platform admins have unlimited credits: their usage is recorded, never deducted.
        An API key never widens its creator's powers, so a key's usage is always charged."""
        return self.api_key is None and bool(getattr(self.user, "is_platform_admin", False))


def resolve_actor(actor: User | None = None, api_key: ApiKey | None = None) -> Actor:
    """The given actor and key, else the current request's."""
    ctx = context.current()
    user = actor if actor is not None else ctx.user
    key = api_key if api_key is not None else ctx.api_key
    return Actor(user=user if getattr(user, "is_authenticated", False) else None, api_key=key)


# --- Amounts -----------------------------------------------------------------------------------


def credits(value: Decimal) -> Decimal:
    """Round to the credit's 6 decimals, half away from zero (PostgreSQL's rounding too)."""
    quantized = value.quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP)
    return quantized if quantized else Decimal("0.000000")  # never "-0.000000"


def negate(value: Decimal) -> Decimal:
    return credits(Decimal(0) - value)


def provider_cost(
    *, input_tokens: int, output_tokens: int, input_price: Decimal, output_price: Decimal
) -> Decimal:
    """USD the provider charges for the tokens at the prices per million tokens."""
    cost = (Decimal(input_tokens) * input_price + Decimal(output_tokens) * output_price) / MILLION
    return cost.quantize(USD_QUANTUM, rounding=ROUND_HALF_UP)


def charge_credits(*, cost_usd: Decimal, markup: Decimal) -> Decimal:
    """Credits for a provider cost: cost x markup, to 6 decimals."""
    return credits(cost_usd * markup)


def fmt(value: Decimal | None) -> str | None:
    """A Decimal as DRF renders it: fixed point, never exponent notation."""
    return None if value is None else f"{value:f}"


@functools.lru_cache(maxsize=256)
def iso(value: datetime | None) -> str | None:
    """A datetime as DRF renders it (UTC, 'Z'). Cached: a batch renders the same instant 2,000 times."""
    if value is None:
        return None
    text = timezone.localtime(value, timezone.get_default_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_amount(value: Any, field: str = "amount") -> Decimal:
    """A credit amount from input: at most 6 decimals (core.hygiene's decimal grammar)."""
    amount = hygiene.parse_decimal(value, field)
    if abs(amount) >= MAX_CREDITS:  # first: quantize() fails on more digits than its precision
        raise invalid(field, f"Less than {MAX_CREDITS:,} in absolute value.")
    if amount != amount.quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP):
        raise invalid(field, "At most 6 decimal places.")
    return credits(amount)


def markup_of(value: Any) -> Decimal:
    return Decimal(value).quantize(MARKUP_QUANTUM, rounding=ROUND_HALF_UP)


# --- Input checks ------------------------------------------------------------------------------


def check_tokens(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "A whole number is required.")
    if not 0 <= value <= MAX_TOKENS:
        raise invalid(field, f"Between 0 and {MAX_TOKENS}.")
    return value


def check_uuid(value: Any, field: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise invalid(field, "Must be a valid UUID.") from None


def check_text(value: Any, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(field, "A string is required.")
    if len(value) > max_length:
        raise invalid(field, f"At most {max_length} characters.")
    return hygiene.check_text(value, field)


def check_metadata(value: Any) -> dict[str, Any]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise invalid("metadata", "A JSON object is required.")
    hygiene.check_json(value, field="metadata")
    if len(json.dumps(value, default=str)) > MAX_METADATA_CHARS:
        raise invalid("metadata", f"At most {MAX_METADATA_CHARS} characters of JSON.")
    return value


def check_occurred_at(value: Any, now: datetime) -> datetime | None:
    """Usage time: not in the future (a little clock skew aside), not older than the limit."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid("occurred_at", "An ISO 8601 date and time is required.") from None
    if not isinstance(value, datetime):
        raise invalid("occurred_at", "An ISO 8601 date and time is required.")
    if timezone.is_naive(value):
        raise invalid("occurred_at", "Give a time zone (e.g. 'Z').")
    if value > now + timedelta(minutes=5):
        raise invalid("occurred_at", "Usage cannot happen in the future.")
    if value < now - timedelta(hours=settings.QM_BILLING_USAGE_MAX_AGE_HOURS):
        raise invalid(
            "occurred_at",
            f"Usage older than {settings.QM_BILLING_USAGE_MAX_AGE_HOURS} hours is not accepted; "
            "ask platform staff for an adjustment.",
        )
    return value


def check_model(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid("model", "This field is required.")
    if not isinstance(value, str):
        raise invalid("model", "A string is required.")
    if len(value) > 100:
        raise invalid("model", "At most 100 characters.")
    return hygiene.check_text(value, "model")


def unknown_model(model: str) -> InvalidInput:
    return invalid("model", f"No price is in force for model {model!r}.", code="unknown_model")


# --- The ledger's write guard ---------------------------------------------------------------


# The ledger's references to agents and sessions, declared by the agents app (agents migration
# 0005): an id of another tenant, or a session of another agent, is refused by the database.
_REFERENCE_CONSTRAINTS = (
    ("_agent_same_tenant", "agent_id", "agent"),
    ("_session_same_agent", "session_id", "session of this agent"),
    ("_session_has_agent", "agent_id", "agent (a session's usage names the session's agent)"),
)


@contextmanager
def ledger_write_guard() -> Iterator[None]:
    """Turn what the database refuses in a ledger write into the API's answers.

    - A reused key (409): stored responses are pruned after QM_BILLING_IDEMPOTENCY_DAYS; a key
      older than that is claimed afresh, but the ledger keeps every entry's key, unique per
      account, and refuses the entry: that request was answered long ago, and is not charged
      again.
    - A balance or a sum of holds past what the account's NUMERIC(20, 6) columns hold (422
      `credit_limit_exceeded`): the request's amount fits, the result would not. The statement
      computes the result under the row's lock, so this is where it is known.
    """
    try:
        yield
    except IntegrityError as exc:
        for constraint, field, what in _REFERENCE_CONSTRAINTS:
            if constraint in str(exc):
                raise invalid(field, f"No {what} of this tenant has this id.") from exc
        if "credit_tx_idempotency_unique" not in str(exc):
            raise
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for an entry that is older than the replay window; "
            "it cannot be used again."
        ) from exc
    except DataError as exc:
        if not isinstance(exc.__cause__, NumericValueOutOfRange):
            raise
        raise LimitExceeded(
            f"The account's balance or credits held would reach {MAX_CREDITS:,} or more, "
            "more than an account can hold.",
            code="credit_limit_exceeded",
        ) from exc


# --- Bodies ------------------------------------------------------------------------------------


# One encoder for every call: json.dumps with options builds a new JSONEncoder each time, which
# costs more than encoding a short string (a batch encodes several per event).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """JSON as DRF's renderer writes it: compact, UTF-8."""
    return _ENCODER.encode(value)


def entry_fields(
    *,
    entry_id: uuid.UUID,
    kind: str,
    amount: Decimal,
    cost: Decimal | None,
    markup: Decimal | None,
    model: str,
    input_tokens: int,
    output_tokens: int,
    agent_id: uuid.UUID | None,
    session_id: uuid.UUID | None,
    reservation_id: uuid.UUID | None,
    refund_of: uuid.UUID | None,
    key: str,
    description: str,
    metadata: dict[str, Any],
    occurred_at: datetime,
    created_at: datetime,
) -> dict[str, Any]:
    """A ledger entry as the API shows it, balance_after aside (see `split_body`)."""
    return {
        "id": str(entry_id),
        "kind": kind,
        "amount": fmt(amount),
        "provider_cost_usd": fmt(cost),
        "markup_multiplier": fmt(markup),
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "agent_id": str(agent_id) if agent_id else None,
        "session_id": str(session_id) if session_id else None,
        "reservation_id": str(reservation_id) if reservation_id else None,
        "refund_of": str(refund_of) if refund_of else None,
        "idempotency_key": key,
        "description": description,
        "metadata": metadata,
        "occurred_at": iso(occurred_at),
        "created_at": iso(created_at),
    }


_USAGE_PREFIX = (
    '{{"id":"{id}","kind":"{kind}","amount":"{amount}","provider_cost_usd":"{cost}",'
    '"markup_multiplier":"{markup}","model":{model},"input_tokens":{input_tokens},'
    '"output_tokens":{output_tokens},"agent_id":{agent},"session_id":{session},'
    '"reservation_id":null,"refund_of":null,"idempotency_key":{key},"description":{description},'
    '"metadata":{metadata},"occurred_at":"{occurred_at}","created_at":"{created_at}","balance_after":"'
)


def usage_prefix(
    *,
    entry_id: uuid.UUID,
    kind: str,
    amount: Decimal,
    cost: Decimal,
    markup: Decimal,
    model: str,
    input_tokens: int,
    output_tokens: int,
    agent_id: uuid.UUID | None,
    session_id: uuid.UUID | None,
    key: str,
    description: str,
    metadata: dict[str, Any],
    occurred_at: datetime,
    created_at: datetime,
) -> str:
    """split_body(entry_fields(...))[0] for a usage or bypass entry, by template: the same bytes
    (a test holds them equal), a few times faster, which counts a thousand times per batch."""
    return _USAGE_PREFIX.format(
        id=entry_id,
        kind=kind,
        amount=fmt(amount),
        cost=fmt(cost),
        markup=fmt(markup),
        model=dumps(model),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        agent=f'"{agent_id}"' if agent_id else "null",
        session=f'"{session_id}"' if session_id else "null",
        key=dumps(key),
        description=dumps(description),
        metadata=dumps(metadata) if metadata else "{}",
        occurred_at=iso(occurred_at),
        created_at=iso(created_at),
    )


USAGE_SUFFIX = '"}'


def split_body(fields: dict[str, Any], *, wrap: tuple[str, str] = ("", "")) -> tuple[str, str]:
    """The entry's JSON split where balance_after's value goes: the statement that writes the
    entry puts the new balance between the two halves (balance_after is the last key)."""
    text = dumps(fields)
    prefix = wrap[0] + text[:-1] + ',"balance_after":"'
    suffix = '"}' + wrap[1]
    return prefix, suffix


def reservation_fields(
    *,
    reservation_id: Any,
    status: str,
    amount: Decimal,
    settled_amount: Decimal | None,
    expires_at: datetime,
    model: str,
    agent_id: Any,
    session_id: Any,
    description: str,
    key: str,
    created_at: datetime,
    closed_at: datetime | None,
) -> dict[str, Any]:
    return {
        "id": str(reservation_id),
        "status": status,
        "amount": fmt(amount),
        "settled_amount": fmt(settled_amount),
        "expires_at": iso(expires_at),
        "model": model,
        "agent_id": str(agent_id) if agent_id else None,
        "session_id": str(session_id) if session_id else None,
        "description": description,
        "idempotency_key": key,
        "created_at": iso(created_at),
        "closed_at": iso(closed_at),
    }


# --- Alerts ------------------------------------------------------------------------------------


def record_threshold_changes(
    *, tenant_id: uuid.UUID, changes: list[dict[str, Any]], balance: Decimal
) -> None:
    """Each threshold the balance fell under raises an alert (and keeps its audit entry: the
    ledger's fact, with the balance at the crossing); a re-armed threshold resolves its alert,
    so the next crossing raises a new one (one alert per crossing, DOMAIN.md)."""
    for change in changes:
        key = f"billing.low_balance:{change['id']}"
        if not change["below"]:
            alert_resolve_by_key(
                tenant_id=tenant_id, dedupe_key=key, reason="balance back above the threshold"
            )
            continue
        audit_record(
            action="billing.low_balance",
            tenant=tenant_id,
            target_type="billing.lowbalancethreshold",
            target_id=change["id"],
            target_label=f"below {change['threshold']}",
            severity=Severity.WARNING,
            details={"threshold": change["threshold"], "balance": fmt(balance)},
            system=True,
        )
        alert_raise(
            tenant_id=tenant_id,
            severity=AlertSeverity.WARNING,
            source="billing",
            title=f"Credit balance below {change['threshold']}",
            message=(
                f"The balance is {fmt(balance)} credits, under the low-balance alert at "
                f"{change['threshold']}."
            ),
            dedupe_key=key,
        )


def ensure_account(tenant_id: uuid.UUID) -> tuple[uuid.UUID, bool]:
    """The tenant's account (id, unlimited), created empty if it has none yet.

    Tenants are created with their account (tenant_create); this covers rows made otherwise.
    """
    with prepared_cursor() as cursor:
        cursor.execute(_sql.ENSURE_ACCOUNT, {"tenant": tenant_id})
        cursor.execute("SELECT id, unlimited FROM billing_creditaccount WHERE tenant_id = %s", [tenant_id])
        row = cursor.fetchone()
    return row[0], row[1]
