"""The audit log's hash chains: appending, verification, tampering behind the application's back,
and concurrency (one tenant's appends serialised, different tenants' never waiting)."""

from __future__ import annotations

import threading
import time
from io import StringIO
from typing import Any

import pgtrigger
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction

from audit.chain import PLATFORM_CHAIN, link_hash, verify_chains
from audit.models import GENESIS_HASH, AuditChainHead, AuditLogEntry
from audit.services import audit_record
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory


def _write(tenant: Any, n: int, action: str = "thing.changed") -> list[AuditLogEntry]:
    with tenant_context(tenant):
        entries = [
            audit_record(action=action, tenant=tenant, details={"i": i}, system=True) for i in range(n)
        ]
        for entry in entries:
            entry.refresh_from_db()  # the trigger's values
        return entries


def _platform_entry() -> AuditLogEntry:
    entry = audit_record(action="platform.thing", system=True)
    with platform_bypass(reason="test", log=False):
        entry.refresh_from_db()
    return entry


def _content(entry_id: Any) -> str:
    with platform_bypass(reason="test", log=False), connection.cursor() as cursor:
        cursor.execute("SELECT qm_audit_content(e) FROM audit_auditlogentry e WHERE id = %s", [entry_id])
        return str(cursor.fetchone()[0])


def _tamper(sql: str, params: Any = None) -> None:
    """Change the table behind the application's back with raw SQL: past the insert-only
    trigger (pgtrigger's ignore setting, which anyone who can send SQL can set) and row-level
    security. Undone with the test's transaction."""
    with pgtrigger.ignore("audit.AuditLogEntry:audit_insert_only"), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.bypass_rls', 'on', false)")
        cursor.execute(sql, params or [])
        cursor.execute("SELECT set_config('app.bypass_rls', '', false)")


def _verify(**kwargs: Any) -> dict[str, Any]:
    with platform_bypass(reason="test", log=False):
        return {r.chain: r for r in verify_chains(**kwargs)}


@pytest.mark.django_db
def test_audit_record__three_entries__linked_in_order_with_hashes_of_their_content():
    tenant = TenantFactory.create()

    first, second, third = _write(tenant, 3)

    # The trigger's values come back with the INSERT (RETURNING): no re-read needed.
    assert [e.chain_seq for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    for entry in (first, second, third):
        assert entry.hash == link_hash(entry.prev_hash, _content(entry.pk))
    with tenant_context(tenant):
        head = AuditChainHead.objects.get(chain=str(tenant.pk))
    assert (head.seq, head.last_hash, head.last_entry_id) == (3, third.hash, third.pk)


@pytest.mark.django_db
def test_audit_record__two_tenants_and_platform__each_has_its_own_chain():
    a, b = TenantFactory.create(), TenantFactory.create()

    (a1,) = _write(a, 1)
    (b1,) = _write(b, 1)
    (a2,) = _write(a, 1)
    platform = _platform_entry()

    assert (a1.chain_seq, a2.chain_seq, b1.chain_seq) == (1, 2, 1)
    assert a2.prev_hash == a1.hash
    assert b1.prev_hash == GENESIS_HASH
    assert platform.prev_hash != a2.hash
    assert platform.chain_seq >= 1
    results = _verify()
    assert results[str(a.pk)].ok
    assert results[str(a.pk)].entries == 2
    assert results[str(b.pk)].ok
    assert results[PLATFORM_CHAIN].ok


@pytest.mark.django_db
def test_audit_record__caller_sends_hash_values__database_sets_its_own():
    tenant = TenantFactory.create()
    with tenant_context(tenant):
        entry = AuditLogEntry.objects.create(
            tenant=tenant, actor_type="system", action="x", hash="f" * 64, prev_hash="e" * 64, chain_seq=99
        )
        entry.refresh_from_db()

    assert (entry.chain_seq, entry.prev_hash) == (1, GENESIS_HASH)
    assert entry.hash == link_hash(GENESIS_HASH, _content(entry.pk))


@pytest.mark.django_db
def test_audit_record__unicode_and_nested_details__hash_matches_python_computation():
    tenant = TenantFactory.create()
    with tenant_context(tenant):
        entry = audit_record(
            action="x",
            tenant=tenant,
            system=True,
            details={"name": 'Zoë 東京 "q"', "n": [1, 2.5, None, True]},
        )
        entry.refresh_from_db()

    assert entry.hash == link_hash(entry.prev_hash, _content(entry.pk))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tamper", "problem", "at"),
    [
        (
            "UPDATE audit_auditlogentry SET details = '{\"i\": 42}' WHERE id = %(mid)s",
            "content altered",
            "mid",
        ),
        (
            "UPDATE audit_auditlogentry SET action = 'nothing.happened' WHERE id = %(mid)s",
            "content altered",
            "mid",
        ),
        (
            # A careful forger recomputes the edited entry's hash: the next link no longer fits.
            "UPDATE audit_auditlogentry SET details = '{\"i\": 42}' WHERE id = %(mid)s;"
            "UPDATE audit_auditlogentry e SET hash = qm_audit_hash(e.prev_hash, qm_audit_content(e))"
            " WHERE id = %(mid)s",
            "link broken",
            "next",
        ),
        ("DELETE FROM audit_auditlogentry WHERE id = %(mid)s", "entries missing before this one", "next"),
        ("DELETE FROM audit_auditlogentry WHERE id = %(first)s", "entries missing before this one", "mid"),
        ("DELETE FROM audit_auditlogentry WHERE id = %(last)s", "entries missing at the end", None),
    ],
    ids=["edit-details", "edit-action", "edit-and-rehash", "delete-middle", "delete-first", "delete-last"],
)
def test_verify_audit_chain__row_changed_behind_the_apps_back__first_broken_link_reported(
    tamper, problem, at
):
    tenant, other = TenantFactory.create(), TenantFactory.create()
    entries = _write(tenant, 4)
    _write(other, 2)
    ids = {"first": entries[0].pk, "mid": entries[1].pk, "next": entries[2].pk, "last": entries[3].pk}
    _tamper(tamper % {k: f"'{v}'" for k, v in ids.items()})  # our own UUIDs: safe as literals
    out, err = StringIO(), StringIO()

    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_chain", stdout=out, stderr=err)

    assert exit_info.value.code == 1
    results = _verify()
    broken = results[str(tenant.pk)].broken
    assert broken is not None
    assert broken.problem.startswith(problem)
    assert broken.entry_id == (str(ids[at]) if at else None)
    assert results[str(other.pk)].ok  # the other tenant's chain is untouched
    assert f"chain {tenant.pk}" in err.getvalue()
    assert problem in err.getvalue()
    assert "FAILED, 1 of" in err.getvalue()


@pytest.mark.django_db
def test_verify_audit_chain__platform_entry_edited__platform_chain_broken():
    entry = _platform_entry()
    _tamper("UPDATE audit_auditlogentry SET actor_label = 'someone else' WHERE id = %s", [str(entry.pk)])

    results = _verify(tenant=None, only=True)

    assert list(results) == [PLATFORM_CHAIN]
    assert results[PLATFORM_CHAIN].broken is not None
    assert results[PLATFORM_CHAIN].broken.entry_id == str(entry.pk)


@pytest.mark.django_db
def test_verify_audit_chain__clean_chains__exit_0_with_counts_and_progress():
    tenant = TenantFactory.create()
    _write(tenant, 3)
    out = StringIO()

    call_command("verify_audit_chain", "--tenant", str(tenant.pk), stdout=out)

    text = out.getvalue()
    assert "verify_audit_chain: OK, 1 chains, 3 entries" in text
    assert "100% 3/3" in text  # the progress line


@pytest.mark.django_db
def test_verify_audit_chain__not_a_tenant_id__command_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a tenant id"):
        call_command("verify_audit_chain", "--tenant", "nope", stdout=StringIO())


@pytest.mark.django_db
def test_verify_chains__tenant_context__sees_its_own_chain_only():
    tenant, other = TenantFactory.create(), TenantFactory.create()
    _write(tenant, 2)
    _write(other, 2)

    with tenant_context(tenant):
        results = verify_chains(tenant=tenant, only=True)

    assert [(r.chain, r.entries, r.ok) for r in results] == [(str(tenant.pk), 2, True)]


# --- Concurrency: real transactions in threads ---------------------------------------------------


def _in_thread(target: Any, *args: Any) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_audit_append__twenty_threads_one_tenant__one_unbroken_chain():
    tenant = TenantFactory.create()
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def append(i: int) -> None:
        try:
            start.wait()
            with tenant_context(tenant):
                audit_record(action="race", tenant=tenant, details={"i": i}, system=True)
        except BaseException as exc:  # noqa: BLE001  # reported by the assertion below
            errors.append(exc)

    threads = [_in_thread(append, i) for i in range(20)]
    for thread in threads:
        thread.join(30)

    assert errors == []
    results = _verify(tenant=tenant, only=True)
    assert results[str(tenant.pk)].ok
    assert results[str(tenant.pk)].entries == 20
    with tenant_context(tenant):
        assert sorted(AuditLogEntry.objects.values_list("chain_seq", flat=True)) == list(range(1, 21))


@pytest.mark.django_db(transaction=True)
def test_audit_append__one_tenant_holds_its_chain__other_tenant_does_not_wait_same_tenant_does():
    busy, free = TenantFactory.create(), TenantFactory.create()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with tenant_context(busy):  # one open transaction that has appended to busy's chain
            audit_record(action="long.transaction", tenant=busy, system=True)
            holding.set()
            release.wait(20)

    holder = _in_thread(hold)
    try:
        assert holding.wait(10)
        outcomes: dict[str, Any] = {}

        def append(name: str, tenant: Any) -> None:
            started = time.monotonic()
            try:
                with transaction.atomic():
                    connection.cursor().execute("SET LOCAL lock_timeout = '500ms'")
                    with tenant_context(tenant):
                        audit_record(action="quick", tenant=tenant, system=True)
                outcomes[name] = ("ok", time.monotonic() - started)
            except OperationalError as exc:
                outcomes[name] = (type(exc.__cause__).__name__, time.monotonic() - started)

        for name, tenant in (("free", free), ("busy", busy)):
            _in_thread(append, name, tenant).join(10)
    finally:
        release.set()
        holder.join(20)

    assert outcomes["free"][0] == "ok"
    assert outcomes["free"][1] < 0.5
    assert outcomes["busy"][0] == "LockNotAvailable"  # waited for busy's head row, timed out
    results = _verify()
    assert results[str(busy.pk)].ok
    assert results[str(busy.pk)].entries == 1
    assert results[str(free.pk)].ok
    assert results[str(free.pk)].entries == 1
