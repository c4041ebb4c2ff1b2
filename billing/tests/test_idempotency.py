"""The idempotency module's rows: each NamedTuple's fields are its statement's columns, in order."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from billing.services import _sql, idempotency
from billing.tests.factories import TEST_MODEL, fund, make_reservation, records
from core.rows import prepared_cursor
from core.tenancy import tenant_context


def _columns(cursor: Any) -> tuple[str, ...]:
    return tuple(column.name for column in cursor.description)


def test_write_context__claim_statement__fields_are_its_columns_in_order(tenant: Any, price: Any) -> None:
    fund(tenant, 10)
    hold_id = make_reservation(tenant)
    request = idempotency.KeyedRequest(tenant.pk, str(uuid.uuid4()), "usage", "f" * 64)
    with tenant_context(tenant), prepared_cursor() as cursor:
        ctx = idempotency.claim(cursor, request, now=timezone.now(), model=TEST_MODEL, reservation_id=hold_id)
        columns = _columns(cursor)

    assert columns == idempotency.WriteContext._fields
    assert ctx.claim_id is not None
    assert ctx.input_price is not None
    hold = ctx.hold()
    assert hold is not None
    assert (hold.id, hold.status, hold.amount) == (hold_id, "open", 1)


def test_write_context__key_claimed_before__earlier_record_in_named_fields(tenant: Any) -> None:
    fund(tenant, 10)
    make_reservation(tenant)  # stores its answer under a fresh key
    record = records(tenant)[-1]
    with tenant_context(tenant):
        request = idempotency.KeyedRequest(tenant.pk, record.key, record.endpoint, record.fingerprint)
        with prepared_cursor() as cursor:
            ctx = idempotency.claim(cursor, request, now=timezone.now())
        answer = idempotency.earlier_answer(ctx, request)

    assert ctx.claim_id is None
    assert (ctx.record_endpoint, ctx.record_status_code) == ("reservation", 201)
    assert answer is not None
    assert (answer.status_code, answer.body, answer.replayed) == (201, record.response_body, True)


def test_stored__record_statements__fields_are_their_columns_in_order(tenant: Any) -> None:
    with tenant_context(tenant), prepared_cursor() as cursor:
        cursor.execute(_sql.RECORD, {"tenant": tenant.pk, "key": "k"})
        record_columns = _columns(cursor)
        cursor.execute(_sql.BATCH_RECORDS, {"tenant": tenant.pk, "keys": ["k"]})
        batch_columns = _columns(cursor)

    assert record_columns == idempotency.Stored._fields
    assert batch_columns == ("key", *idempotency.Stored._fields)
