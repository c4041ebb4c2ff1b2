"""The request path's round trips (issue 11): BEGIN sent with the first statement
(core.rows.execute_first), the health check that asks the socket instead of the database
(core.postgresql), and what a key-authenticated charge costs in statements and round trips.

Round trips are counted from libpq's own trace of the protocol: each run of messages the client
sends before it reads the server's answer is one."""

from __future__ import annotations

import importlib
import itertools
import os
import re
import select
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, DataError, close_old_connections, connection, connections, transaction
from psycopg import pq

from billing.tests.factories import balance, create_test_price, fund, url, with_key
from core.postgresql.base import DatabaseWrapper
from core.rows import execute_first, prepared_cursor
from tenants.tests.factories import TenantFactory, member

_MESSAGE = re.compile(r"^[FB]\t\d+\t")
USAGE = {"model": "test-model", "input_tokens": 200_000, "output_tokens": 0}


def charge(client: Any, tenant: Any, idempotency_key: str) -> Any:
    return client.post(url(tenant, "usage"), USAGE, format="json", HTTP_IDEMPOTENCY_KEY=idempotency_key)


class Trace:
    """The protocol messages libpq sent (F) and received (B) on a connection, in order."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    @property
    def round_trips(self) -> int:
        """Runs of messages sent that were followed by an answer."""
        directions = [line.split("\t", 1)[0] for line in self.lines]
        return sum(1 for pair in itertools.pairwise(directions) if pair == ("F", "B"))

    def sent(self, text: str) -> int:
        return sum(1 for line in self.lines if line.startswith("F") and text in line)


@contextmanager
def traced() -> Iterator[Trace]:
    """Trace the default connection's protocol messages while the block runs."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    trace = Trace([])
    with tempfile.TemporaryFile("w+") as file:
        # libpq writes through a stream of its own on a duplicate of the descriptor (never closed
        # by libpq; leaked for the test's life, like psycopg's own trace helper).
        pgconn.trace(os.dup(file.fileno()))
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield trace
        finally:
            pgconn.untrace()  # flushes the stream
            file.seek(0)
            # One line a message; a query's text may run over several lines.
            trace.lines.extend(line for line in file.read().splitlines() if _MESSAGE.match(line))


def probe_rows() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM hot_path_probe ORDER BY n")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def probe_table(transactional_db: Any) -> None:
    """A temporary table (this connection's only, no RLS) for the transaction tests."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS hot_path_probe (n int)")
        cursor.execute("TRUNCATE hot_path_probe")


# --- execute_first -------------------------------------------------------------------------------


def test_execute_first__first_statement_of_a_transaction__begin_in_the_same_round_trip(probe_table):
    with transaction.atomic(), traced() as plain, prepared_cursor() as cursor:
        cursor.execute("INSERT INTO hot_path_probe VALUES (%s)", [1])
    with transaction.atomic(), traced() as first, prepared_cursor() as cursor:
        execute_first(cursor, "INSERT INTO hot_path_probe VALUES (%s)", [2])

    # Django's way: BEGIN, wait, then the statement. Here: both, one wait.
    assert (plain.round_trips, plain.sent("BEGIN")) == (2, 1)
    assert (first.round_trips, first.sent("BEGIN")) == (1, 1)
    assert probe_rows() == [1, 2]  # both committed at the end of their blocks
    assert connection.get_autocommit() is True
    assert connection.connection.pgconn.transaction_status == pq.TransactionStatus.IDLE


def test_execute_first__exception_later_in_the_block__whole_transaction_rolled_back(probe_table):
    def view() -> None:
        with transaction.atomic():
            with prepared_cursor() as cursor:
                execute_first(cursor, "INSERT INTO hot_path_probe VALUES (%s)", [1])
                cursor.execute("INSERT INTO hot_path_probe VALUES (%s)", [2])
            raise RuntimeError("the view failed after writing")

    with pytest.raises(RuntimeError):
        view()

    assert probe_rows() == []
    assert connection.get_autocommit() is True


def test_execute_first__the_statement_itself_fails__database_error_and_rolled_back(probe_table):
    with pytest.raises(DataError), transaction.atomic(), prepared_cursor() as cursor:
        execute_first(cursor, "INSERT INTO hot_path_probe VALUES (1 / %s)", [0])

    assert probe_rows() == []
    assert connection.connection.pgconn.transaction_status == pq.TransactionStatus.IDLE
    with transaction.atomic(), prepared_cursor() as cursor:  # the connection is fine afterwards
        execute_first(cursor, "INSERT INTO hot_path_probe VALUES (%s)", [3])
    assert probe_rows() == [3]


def test_execute_first__outside_a_transaction__plain_execute_no_begin(probe_table):
    with traced() as trace, prepared_cursor() as cursor:
        execute_first(cursor, "INSERT INTO hot_path_probe VALUES (%s)", [1])

    assert (trace.round_trips, trace.sent("BEGIN")) == (1, 0)
    assert probe_rows() == [1]


def test_execute_first__transaction_already_begun__plain_execute(probe_table):
    with transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute("INSERT INTO hot_path_probe VALUES (%s)", [1])
        with traced() as trace:
            execute_first(cursor, "INSERT INTO hot_path_probe VALUES (%s)", [2])

    assert (trace.round_trips, trace.sent("BEGIN")) == (1, 0)
    assert probe_rows() == [1, 2]


# --- The health check ----------------------------------------------------------------------------


@pytest.fixture
def reseeded(transactional_db: Any) -> None:
    """A transactional test ends with a flush of every table, data migrations' rows too: put
    back the system roles, plans and prices (transactional tests run after the others)."""
    roles = importlib.import_module("accounts.migrations.0004_role_rls_system_roles")
    billing = importlib.import_module("billing.migrations.0002_seed_plans_prices_accounts")
    with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
        roles.sync_system_roles(apps, editor)
        billing.seed(apps, editor)


@pytest.fixture
def persistent(reseeded: None, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The default connection kept across requests as with CONN_MAX_AGE in production (tests run
    with 0); returns the list `is_usable` (Django's SELECT 1) appends to when it is called."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    connection.ensure_connection()
    monkeypatch.setattr(connection, "close_at", None)
    calls: list[int] = []
    real = connection.is_usable

    def counted() -> bool:
        calls.append(1)
        return real()

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def test_health_check__the_project_backend():
    assert isinstance(connections[DEFAULT_DB_ALIAS], DatabaseWrapper)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_health_check__idle_healthy_connection__no_query_no_round_trip(persistent):
    raw = connection.connection
    close_old_connections()  # what Django does when a request starts

    with traced() as trace, connection.cursor():  # the request's first query checks first
        pass

    assert persistent == []
    assert trace.lines == []
    assert connections[DEFAULT_DB_ALIAS].health_check_done is True  # type: ignore[attr-defined]
    assert connection.connection is raw


def wait_readable(raw: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if select.select([raw.pgconn.socket], [], [], 0.05)[0]:
            return
    raise AssertionError("the terminated backend's socket never became readable")


def test_health_check__backend_terminated_between_requests__replaced_request_succeeds(persistent):
    tenant = TenantFactory.create()
    create_test_price()
    fund(tenant, 10)
    client = with_key(tenant, member(tenant, "owner"))
    assert charge(client, tenant, "a").status_code == 201
    old = connection.connection
    old_pid = old.info.backend_pid
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.execute("SELECT pg_terminate_backend(%s)", [old_pid])
        other.commit()
    finally:
        other.close()
    wait_readable(old)
    close_old_connections()  # the next request starts

    response = charge(client, tenant, "b")

    assert response.status_code == 201, response.content
    assert response.json()["balance_after"] == "8.000000"
    assert persistent == [1]  # the socket had something to say: SELECT 1, which failed
    assert connection.connection is not old
    assert connection.connection.info.backend_pid != old_pid
    assert balance(tenant) == 8


# --- A key-authenticated charge ------------------------------------------------------------------


@pytest.fixture
def charging(db: Any) -> Any:
    tenant = TenantFactory.create()
    create_test_price()
    fund(tenant, 100)
    client = with_key(tenant, member(tenant, "owner"))
    # Warm: the key's last use is written once a minute per key, not on the counted requests.
    assert charge(client, tenant, "w").status_code == 201
    return tenant, client


def test_charge_with_api_key__query_count_pinned(charging, django_assert_num_queries):
    tenant, client = charging
    for key in ("one", "two"):  # independent of how many charges came before
        # In production three: the key with its creator's standing (the RLS settings set inside),
        # the idempotency claim with the charge's context, the charge. Nested in the test's
        # transaction, the API base adds a savepoint, the settings read before and put back
        # after (core.api.BaseApi._dispatch_atomic) and the release.
        with django_assert_num_queries(7):
            response = charge(client, tenant, key)
        assert response.status_code == 201, response.content


def test_charge_with_api_key__four_round_trips_begin_to_commit(persistent: list[int]) -> None:
    tenant = TenantFactory.create()
    create_test_price()
    fund(tenant, 100)
    client = with_key(tenant, member(tenant, "owner"))
    assert charge(client, tenant, "w").status_code == 201
    close_old_connections()  # a request starts: the health check is due again

    with traced() as trace:
        response = charge(client, tenant, "x")

    assert response.status_code == 201, response.content
    # BEGIN with the key and standing; the claim and context; the charge; COMMIT. No SELECT 1.
    assert trace.round_trips == 4, trace.lines
    assert persistent == []
    assert response.json()["balance_after"] == "98.000000"


# --- The browser-only middleware block -----------------------------------------------------------


@pytest.mark.django_db
def test_browser_only_block__json_api__skipped(client):
    response = client.get("/api/v1/auth/me")

    request = response.wsgi_request
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")  # JSON errors still apply
    assert response.has_header("X-Request-ID")  # and the request id, above the block
    assert not hasattr(request, "session")
    assert not hasattr(request, "htmx")
    assert not response.has_header("X-Frame-Options")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_browser_only_block__admin_and_docs_pages__run_it(client, path):
    response = client.get(path)

    request = response.wsgi_request
    assert response.status_code == 200
    assert hasattr(request, "session")
    assert hasattr(request, "htmx")
    assert response["X-Frame-Options"] == "DENY"


def test_browser_only_block__start_without_end__improperly_configured():
    from django.core.exceptions import ImproperlyConfigured

    from core.middleware import BrowserOnlyMiddleware

    with pytest.raises(ImproperlyConfigured):
        BrowserOnlyMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
