"""SQL on the hot path: prepared statements, and model instances from hand-written SELECTs.

The ORM compiles a query's SQL on every call; for a `select_related` over three models that is
about a millisecond of CPU here, more than the database spends answering it. The reads that run
on every API request (the API key, the membership) send a fixed statement instead and build
their instances with `Model.from_db`, as the ORM itself does, applying the same field
converters. A `Columns` is derived once from the model's concrete fields, so a migration that
adds a field changes the statement with it.

Django's cursors bind parameters on the client, so PostgreSQL parses and plans every statement
anew; for the large statements that run on every charge that costs the database more than
running them (the billing benchmark's pgbench: 830 charges/s unprepared, 2,300 prepared).
`prepared_cursor()` binds on the server instead, and psycopg prepares a statement once it has
run `prepare_threshold` (5) times on a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from psycopg.pq import TransactionStatus

M = TypeVar("M", bound=Model)


def prepared_cursor() -> CursorWrapper:
    """A cursor on the current connection (and transaction) whose statements are prepared.

    Server-side binding: one statement per execute (no `;`-joined batches), and each parameter
    is typed by PostgreSQL from its use, so an untyped NULL needs a cast in the SQL. Django's
    cursor wrappers still see every statement (query logging, assertNumQueries, execute_wrapper).
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # _prepare_cursor: what connection.cursor() does after creating its client-side cursor.
        cursor = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]  # stubs lack psycopg 3's
        return cast(CursorWrapper, connection._prepare_cursor(cursor))  # type: ignore[attr-defined]


def execute_first(cursor: CursorWrapper, sql: str, params: Sequence[Any]) -> None:
    """`cursor.execute(sql, params)`; when this opens the transaction Django has begun (inside
    `atomic()`, nothing sent yet), its BEGIN goes in the same round trip.

    psycopg starts a transaction by sending BEGIN alone and waiting for the answer, even in
    pipeline mode: a round trip per request for nothing. Here BEGIN and the statement are sent
    together (pipeline mode, one Sync), with psycopg's autocommit on for the moment so that it
    does not send its own. psycopg's commit() and rollback() go by the server's transaction
    status, not by that flag, so the COMMIT or ROLLBACK that `atomic()` sends at the end still
    follows, and Django turns autocommit back on after it, as after every transaction.
    """
    raw = connection.connection
    if not (
        connection.in_atomic_block
        and not raw.autocommit
        and raw.pgconn.transaction_status == TransactionStatus.IDLE
    ):
        cursor.execute(sql, params)
        return
    raw.autocommit = True
    with connection.wrap_database_errors, raw.pipeline():
        cursor.cursor.execute("BEGIN", prepare=False)  # a psycopg cursor
        cursor.execute(sql, params)


class Columns(Generic[M]):
    """The select list of one model's concrete fields under a table alias, and the reverse:
    an instance built from those columns of a row."""

    def __init__(self, model: type[M], alias: str) -> None:
        fields = model._meta.concrete_fields
        quote = connection.ops.quote_name
        self.model = model
        self.width = len(fields)
        self.sql = ", ".join(f"{alias}.{quote(field.column or '')}" for field in fields)
        self._names = [field.attname for field in fields]
        self._pk = next(index for index, field in enumerate(fields) if field.primary_key)
        self._converters: list[tuple[int, Callable[..., Any], Any]] = [
            (index, converter, field)
            for index, field in enumerate(fields)
            for converter in field.get_db_converters(connection)
        ]

    def present(self, row: Sequence[Any], start: int = 0) -> bool:
        """Whether `row[start:start + width]` holds an instance (not an outer join's nulls)."""
        return row[start + self._pk] is not None

    def build(self, row: Sequence[Any], start: int = 0) -> M:
        """The instance held in `row[start:start + width]`."""
        values = list(row[start : start + self.width])
        for index, converter, field in self._converters:
            values[index] = converter(values[index], field, connection)
        return self.model.from_db(DEFAULT_DB_ALIAS, self._names, values)


def relate(instance: Model, name: str, related: Model | None) -> None:
    """Attach a related instance as `select_related` would, so reading it costs no query."""
    instance._state.fields_cache[name] = related
