"""A period's ledger as CSV lines, streamed: what the statement API and the console's download send."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import transaction

from billing import selectors
from billing.services.common import fmt
from core.tenancy import tenant_context


class _Echo:
    """csv.writer's file: hand each written line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def statement_csv_lines(tenant_id: Any, start: datetime, end: datetime) -> Iterator[str]:
    """The header, the opening balance, every entry of [start, end) in posting order, the closing
    balance: one CSV line at a time.

    Runs while a response streams, after the view has returned: the request's transaction and
    tenant context are gone, so the generator opens its own (a server-side cursor needs a
    transaction, and row-level security needs the tenant's context).
    """
    writer = csv.writer(_Echo())
    yield writer.writerow(["row", *selectors.STATEMENT_COLUMNS])
    with transaction.atomic(), tenant_context(tenant_id):
        balance = selectors.statement_opening_balance(tenant=tenant_id, start=start)
        yield writer.writerow(["opening_balance", "", start.isoformat(), "", "", "", fmt(balance)])
        for row in selectors.statement_rows(tenant=tenant_id, start=start, end=end):
            values = ["" if v is None else (fmt(v) if hasattr(v, "as_tuple") else v) for v in row]
            values[1], values[2] = row[1].isoformat(), row[2].isoformat()
            balance = row[5]
            yield writer.writerow(["entry", *values])
        yield writer.writerow(["closing_balance", "", end.isoformat(), "", "", "", fmt(balance)])
