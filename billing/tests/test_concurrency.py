"""Concurrency with real threads and real transactions: no credit lost, none spent twice.

Each thread has its own database connection (Django's are per thread) and commits for real
(transaction=True). The service layer is called directly where the issue asks for thousands of
calls, and through HTTP in a smaller test, so the whole file stays well under a minute.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from billing import services
from billing.errors import InsufficientCredits, ReservationClosed
from billing.tests.factories import (
    ONE_CREDIT_TOKENS,
    TEST_MODEL,
    account,
    balance,
    create_test_price,
    entries,
    fund,
    reservations,
    url,
    usage,
)
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory, member


def connect(deadline: float = 60.0) -> None:
    """Open this thread's connection before the race starts, waiting for a free slot if another
    test run on the same server holds many (max_connections is shared)."""
    started = time.monotonic()
    while True:
        try:
            connection.ensure_connection()
            return
        except OperationalError as exc:
            if "slots" not in str(exc) and "too many clients" not in str(exc):
                raise
            if time.monotonic() - started > deadline:
                raise
            connection.close()
            time.sleep(0.2)


def in_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in n threads released at once; return results (or raised exceptions)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            connect()
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001  # handed to the test, which fails on anything unexpected
            barrier.abort()  # the others must not wait for this one forever
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def verify_ledger_ok() -> None:
    call_command("verify_ledger", stdout=_Sink(), stderr=_Sink())  # SystemExit(1) on a mismatch


class _Sink:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


@pytest.fixture
def hot_tenant(transactional_db: Any) -> Any:
    reseed()
    create_test_price()
    return TenantFactory.create()


def reseed() -> None:
    """Put back the rows data migrations seed (system roles, plans, prices): a transactional
    test ends with a flush of every table, and the transactional tests run after the others."""
    import importlib

    from django.apps import apps
    from django.db import transaction

    roles = importlib.import_module("accounts.migrations.0004_role_rls_system_roles")
    billing = importlib.import_module("billing.migrations.0002_seed_plans_prices_accounts")
    with transaction.atomic(), connection.schema_editor(atomic=False) as editor:
        roles.sync_system_roles(apps, editor)
        billing.seed(apps, editor)


@pytest.mark.django_db(transaction=True)
def test_charges__50_threads_x_200_of_1_on_5000__exactly_5000_succeed_balance_0_never_negative(hot_tenant):
    fund(hot_tenant, 5000)
    event = usage(1)
    stop = threading.Event()
    observed: list[Decimal] = []

    def watch() -> None:
        try:
            connect()
            while not stop.is_set():
                with platform_bypass(reason="test watcher", log=False), connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT balance FROM billing_creditaccount WHERE tenant_id = %s", [hot_tenant.pk]
                    )
                    observed.append(cursor.fetchone()[0])
                time.sleep(0.005)
        finally:
            connection.close()

    def worker(i: int) -> Counter[str]:
        seen: Counter[str] = Counter()
        for n in range(200):
            try:
                with tenant_context(hot_tenant):
                    result = services.credits_charge(
                        tenant=hot_tenant, event=event, idempotency_key=f"t{i}-{n}"
                    )
            except InsufficientCredits:
                seen["402"] += 1
            else:
                seen["201"] += 1
                if Decimal(result.json()["balance_after"]) < 0:
                    seen["negative"] += 1
        return seen

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    results = in_threads(50, worker)
    elapsed = time.monotonic() - started
    stop.set()
    watcher.join()

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    totals: Counter[str] = sum(results, Counter())
    assert totals == Counter({"201": 5000, "402": 5000})
    assert balance(hot_tenant) == 0
    assert observed
    assert min(observed) >= 0
    assert len(entries(hot_tenant, kind="usage")) == 5000
    verify_ledger_ok()
    print(f"10,000 service-level charges in {elapsed:.1f}s")  # shown with -s


@pytest.mark.django_db(transaction=True)
def test_charges_over_http__10_clients_x_30__exactly_the_balance_spent_no_5xx(hot_tenant):
    fund(hot_tenant, 100)
    owner = member(hot_tenant, "owner")

    def client_run(i: int) -> Counter[int]:
        client = APIClient()
        client.force_authenticate(owner)
        seen: Counter[int] = Counter()
        for n in range(30):
            response = client.post(
                url(hot_tenant, "usage"),
                {"model": TEST_MODEL, "input_tokens": ONE_CREDIT_TOKENS, "output_tokens": 0},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"http-{i}-{n}",
            )
            seen[response.status_code] += 1
        return seen

    results = in_threads(10, client_run)

    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    assert sum(results, Counter()) == Counter({201: 100, 402: 200})
    assert balance(hot_tenant) == 0
    verify_ledger_ok()


@pytest.mark.django_db(transaction=True)
def test_duplicates__1000_keys_sent_5_times_concurrently__1000_entries_identical_answers(hot_tenant):
    fund(hot_tenant, 5000)
    keys = [f"dup-{uuid.uuid4()}" for _ in range(1000)]
    rounds = 100  # each round: 10 keys, each sent by 5 threads at the same instant
    barrier = threading.Barrier(50)
    answers: dict[str, list[Any]] = {key: [] for key in keys}
    lock = threading.Lock()
    event = usage(1)

    def worker(i: int) -> None:
        for r in range(rounds):
            key = keys[r * 10 + i // 5]
            barrier.wait(timeout=60)
            try:
                with tenant_context(hot_tenant):
                    result = services.credits_charge(tenant=hot_tenant, event=event, idempotency_key=key)
                outcome: Any = (result.status_code, result.body)
            except Exception as exc:  # noqa: BLE001  # handed to the test, which fails on it
                outcome = exc
            with lock:
                answers[key].append(outcome)

    results = in_threads(50, worker)

    assert not [r for r in results if isinstance(r, Exception)]
    assert all(len(a) == 5 for a in answers.values())
    failures = [a for per_key in answers.values() for a in per_key if isinstance(a, Exception)]
    assert not failures, failures[:3]
    assert all(len(set(per_key)) == 1 for per_key in answers.values())
    assert {per_key[0][0] for per_key in answers.values()} == {201}
    assert len(entries(hot_tenant, kind="usage")) == 1000
    assert balance(hot_tenant) == Decimal(4000)
    verify_ledger_ok()


@pytest.mark.django_db(transaction=True)
def test_holds__20_concurrent_where_the_balance_covers_5__exactly_5_admitted(hot_tenant):
    fund(hot_tenant, 5)

    def take(i: int) -> str:
        try:
            with tenant_context(hot_tenant):
                services.reservation_hold(tenant=hot_tenant, idempotency_key=f"hold-{i}", amount=Decimal(1))
        except InsufficientCredits:
            return "402"
        return "201"

    results = in_threads(20, take)

    assert Counter(results) == Counter({"201": 5, "402": 15})
    assert account(hot_tenant).held == Decimal(5)
    assert len(reservations(hot_tenant, status="open")) == 5
    verify_ledger_ok()


@pytest.mark.django_db(transaction=True)
def test_expiry__expired_hold_raced_by_expiry_runs_and_settles__closed_exactly_once(hot_tenant):
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Reservation

    fund(hot_tenant, 10)
    with tenant_context(hot_tenant):
        held = services.reservation_hold(tenant=hot_tenant, idempotency_key="race", amount=Decimal(4)).json()
    with platform_bypass(reason="test", log=False):
        Reservation.objects.filter(pk=held["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    def race(i: int) -> str:
        if i % 2:
            return f"expired {services.reservations_expire()}"
        try:
            with tenant_context(hot_tenant):
                services.reservation_settle(
                    tenant=hot_tenant,
                    reservation_id=held["id"],
                    model=TEST_MODEL,
                    input_tokens=ONE_CREDIT_TOKENS,
                    output_tokens=0,
                )
        except ReservationClosed:
            return "closed"
        return "settled"

    results = Counter(in_threads(10, race))

    closers = results["settled"] + sum(
        int(k.split()[1]) * v for k, v in results.items() if k.startswith("expired")
    )
    assert closers == 1, results
    assert account(hot_tenant).held == 0
    assert balance(hot_tenant) == Decimal(9 if results["settled"] else 10)
    verify_ledger_ok()
