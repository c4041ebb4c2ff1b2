"""Idempotency-Key: claim the key, or answer with what is stored under it. Written once here.

Every idempotent write (a charge, a batch's events, a staff posting, a hold, a settle, a
release) follows the same steps:

1. `claim()`: one statement (`_sql.CONTEXT`) inserts the key's record (status 0, no body yet)
   and reads, in the same round trip, what the write needs: the account, the markup, the
   model's price, the reservation named, and the key's earlier record if there is one. The
   row comes back as a `WriteContext`, with named fields.
2. `earlier_answer()`: a request that did not win the claim gets the stored answer, byte for
   byte, if it is the same request (endpoint and fingerprint); a different request under the
   key is a 409; a key whose first request is still running (or whose record vanished) is a
   409 `retry`.
3. The write itself stores its answer in the record it claimed (`claim_id`, in the `stored`
   CTE of the write's statement: same statement, same transaction), so the stored bytes and the
   bytes sent are the same. A write that is refused rolls back, claim included.

Rows are NamedTuples built once from the cursor's row: no model instances on the hot path, and
attribute access as cheap as indexing. `billing/tests/test_idempotency.py` holds each field
list equal to its statement's columns.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from billing.errors import IdempotencyKeyReused, invalid
from billing.models import DEFAULT_MARKUP
from billing.services import _sql
from billing.services.common import ApiResult, dumps
from core.errors import Conflict
from core.rows import prepared_cursor

MAX_KEY_LENGTH = 255


class KeyedRequest(NamedTuple):
    """An idempotent request: whose key ('' for none), for which endpoint, bound to what."""

    tenant_id: uuid.UUID
    key: str
    endpoint: str
    fingerprint: str


class Stored(NamedTuple):
    """A key's record: what it was claimed for, and the answer (status 0 and no body while the
    claiming request runs)."""

    endpoint: str
    fingerprint: str
    status_code: int
    body: str


class Hold(NamedTuple):
    """The reservation a write names (its columns in `WriteContext`, all set when it exists)."""

    id: uuid.UUID
    account_id: uuid.UUID
    amount: Decimal
    status: str
    expires_at: datetime
    model: str
    agent_id: uuid.UUID | None
    session_id: uuid.UUID | None
    description: str
    key: str
    created_at: datetime


class WriteContext(NamedTuple):
    """One row of `_sql.CONTEXT`, in its column order."""

    account_id: uuid.UUID | None  # None: the tenant has no account yet (`ensure_account`)
    unlimited: bool | None
    markup: Decimal  # in force: the tenant's override, else the plan's, else the default
    input_price: Decimal | None  # USD per million tokens; None: no price in force for the model
    output_price: Decimal | None
    claim_id: uuid.UUID | None  # the record this request claimed; None: no key, or claimed before
    record_endpoint: str | None  # the key's earlier record, when this statement's snapshot saw it
    record_fingerprint: str | None
    record_status_code: int | None
    record_body: str | None
    hold_id: uuid.UUID | None  # the reservation named; None: none named, or not this tenant's
    hold_account_id: uuid.UUID | None
    hold_amount: Decimal | None
    hold_status: str | None
    hold_expires_at: datetime | None
    hold_model: str | None
    hold_agent_id: uuid.UUID | None
    hold_session_id: uuid.UUID | None
    hold_description: str | None
    hold_key: str | None
    hold_created_at: datetime | None

    def hold(self) -> Hold | None:
        """The reservation named, if it exists and is this tenant's."""
        if self.hold_id is None:
            return None
        return Hold._make(
            (
                self.hold_id,
                self.hold_account_id,
                self.hold_amount,
                self.hold_status,
                self.hold_expires_at,
                self.hold_model,
                self.hold_agent_id,
                self.hold_session_id,
                self.hold_description,
                self.hold_key,
                self.hold_created_at,
            )
        )


def check_key(key: str | None, *, required: bool) -> str:
    """The Idempotency-Key header's value: 1-255 printable ASCII characters ('' for none)."""
    if key is None or key == "":
        if required:
            raise invalid(
                "Idempotency-Key",
                "This request needs an Idempotency-Key header (a unique value per request, such "
                "as a UUID), so that a retry can never charge twice.",
                code="idempotency_key_required",
            )
        return ""
    if len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise invalid("Idempotency-Key", f"1 to {MAX_KEY_LENGTH} printable ASCII characters.")
    return key


def fingerprint(endpoint: str, payload: dict[str, Any]) -> str:
    """What makes two requests "the same" for an idempotency key."""
    canonical = json.dumps([endpoint, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(
    cursor: Any,
    request: KeyedRequest,
    *,
    now: datetime,
    model: str = "",
    at: datetime | None = None,
    reservation_id: uuid.UUID | None = None,
) -> WriteContext:
    """Claim the request's key (if any) and read the write's context, in one statement.

    `model` is priced at `at` (default `now`); with no model, the reservation's is. A claim that
    collides with a concurrent, uncommitted one waits for it (the unique index).
    """
    cursor.execute(
        _sql.CONTEXT,
        {
            "now": now,
            "tenant": request.tenant_id,
            "key": request.key,
            "endpoint": request.endpoint,
            "fingerprint": request.fingerprint,
            "default_markup": DEFAULT_MARKUP,
            "model": model,
            "at": at or now,
            "reservation": reservation_id,
        },
    )
    return WriteContext._make(cursor.fetchone())


def earlier_answer(context: WriteContext, request: KeyedRequest) -> ApiResult | None:
    """None when this request claimed its key (or has none); else the answer stored under it."""
    if not request.key or context.claim_id is not None:
        return None
    stored: Stored | None
    if context.record_endpoint is not None:
        stored = Stored(
            context.record_endpoint,
            context.record_fingerprint or "",
            context.record_status_code or 0,
            context.record_body or "",
        )
    else:
        # The colliding claim committed after this statement's snapshot was taken: read the
        # record in a new statement (a new snapshot).
        stored = read_stored(tenant_id=request.tenant_id, key=request.key)
    return replay(stored, endpoint=request.endpoint, fingerprint_=request.fingerprint)


def replay(stored: Stored | None, *, endpoint: str, fingerprint_: str) -> ApiResult:
    """The stored answer to an earlier request with this key, if it was the same request."""
    if stored is None:
        # The key's claim vanished between the two statements (pruned, or rolled back): the
        # client may simply retry.
        raise Conflict("This Idempotency-Key is being used by a request in progress; retry.", code="retry")
    if stored.endpoint != endpoint or stored.fingerprint != fingerprint_:
        raise IdempotencyKeyReused()
    if not stored.status_code or not stored.body:
        raise Conflict("This Idempotency-Key is being used by a request in progress; retry.", code="retry")
    return ApiResult(status_code=stored.status_code, body=stored.body, replayed=True)


def read_stored(*, tenant_id: uuid.UUID, key: str) -> Stored | None:
    """The committed record of a key, read in a new statement (a new snapshot)."""
    with prepared_cursor() as cursor:
        cursor.execute(_sql.RECORD, {"tenant": tenant_id, "key": key})
        row = cursor.fetchone()
    return None if row is None else Stored._make(row)


# --- Many keys at once (the batch) -------------------------------------------------------------


def claim_many(
    cursor: Any, *, tenant_id: uuid.UUID, endpoint: str, fingerprints: Mapping[str, str], now: datetime
) -> dict[str, uuid.UUID]:
    """Claim every key at once (in key order: no deadlock between batches sharing keys);
    return the records claimed by key. A key missing from the answer was claimed before."""
    if not fingerprints:
        return {}
    cursor.execute(
        _sql.BATCH_CLAIM,
        {
            "now": now,
            "tenant": tenant_id,
            "endpoint": endpoint,
            "claims": dumps([{"key": key, "fingerprint": fp} for key, fp in fingerprints.items()]),
        },
    )
    return dict(cursor.fetchall())


def read_stored_many(cursor: Any, *, tenant_id: uuid.UUID, keys: list[str]) -> dict[str, Stored]:
    """The records of keys claimed before, by key (a key whose record vanished is missing)."""
    if not keys:
        return {}
    cursor.execute(_sql.BATCH_RECORDS, {"tenant": tenant_id, "keys": keys})
    return {
        key: Stored(endpoint, fp, status_code, body)
        for key, endpoint, fp, status_code, body in cursor.fetchall()
    }


def drop_claims(cursor: Any, claim_ids: Iterable[uuid.UUID]) -> None:
    """Give up claims of requests refused before their write (nothing is stored for them)."""
    ids = list(claim_ids)
    if ids:
        cursor.execute("DELETE FROM billing_idempotencyrecord WHERE id = ANY(%s)", [ids])
