"""The ledger in the database: insert-only for the application role, the balance checked by a
constraint, and `manage.py verify_ledger`."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection

from audit.models import AuditLogEntry
from billing.tests.factories import balance, charge, entries, fund
from core.tenancy import platform_bypass, tenant_context


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE billing_credittransaction SET amount = 1000000",
        "UPDATE billing_credittransaction SET balance_after = 0 WHERE kind = 'grant'",
        "DELETE FROM billing_credittransaction",
    ],
)
def test_ledger__update_or_delete__fails_for_the_application_role(tenant, statement):
    fund(tenant, 10)

    with (
        pytest.raises(DatabaseError, match="pgtrigger: Cannot"),
        platform_bypass(reason="test", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)

    assert [e.amount for e in entries(tenant)] == [Decimal(10)]


@pytest.mark.django_db
def test_ledger__update_in_the_tenants_own_context__fails_too(tenant):
    fund(tenant, 10)

    with (
        pytest.raises(DatabaseError, match="pgtrigger: Cannot"),
        tenant_context(tenant),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE billing_credittransaction SET amount = 0")


@pytest.mark.django_db
def test_ledger__truncate__fails_for_the_application_role():
    with (
        pytest.raises(DatabaseError, match="pgtrigger: Cannot truncate"),
        platform_bypass(reason="test", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE billing_credittransaction")


@pytest.mark.django_db
def test_account__balance_below_the_overdraft__refused_by_the_database(tenant):
    fund(tenant, 10)

    with (
        pytest.raises(IntegrityError, match="credit_account_within_overdraft"),
        tenant_context(tenant),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE billing_creditaccount SET balance = -1")


@pytest.mark.django_db
def test_ledger__raw_sql_in_another_tenants_context__sees_none_of_its_entries(tenant, other_tenant):
    fund(tenant, 10)

    with tenant_context(other_tenant), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_credittransaction WHERE tenant_id = %s", [tenant.pk])
        seen = cursor.fetchone()[0]

    assert seen == 0


# --- verify_ledger ------------------------------------------------------------------------------


def run_verify() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_ledger", "--chunk", "2", stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_verify_ledger__consistent__exit_0_with_progress(tenant, other_tenant, price):
    from tenants.tests.factories import TenantFactory

    third = TenantFactory.create()
    for t in (tenant, other_tenant, third):
        fund(t, 10)
        charge(t, credits=3)

    code, out, err = run_verify()

    assert code == 0, err
    assert "3 accounts to check" in out
    assert "2/3 accounts" in out
    assert "3/3 accounts, 6 entries, 0 mismatches" in out
    assert "OK" in out


@pytest.mark.django_db
def test_verify_ledger__balance_tampered__exit_1_naming_the_account_and_audited(tenant, other_tenant, price):
    fund(tenant, 10)
    fund(other_tenant, 10)
    with platform_bypass(reason="test", log=False), connection.cursor() as cursor:
        cursor.execute("UPDATE billing_creditaccount SET balance = 11 WHERE tenant_id = %s", [tenant.pk])

    code, _out, err = run_verify()

    assert code == 1
    assert f"tenant {tenant.pk}" in err
    assert f"tenant {other_tenant.pk}" not in err
    assert "balance 11.000000, sum of 1 entries 10.000000" in err
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(
            action="platform.bypass", details__reason="manage.py verify_ledger"
        ).exists()


@pytest.mark.django_db
def test_verify_ledger__held_tampered__exit_1(tenant, price):
    fund(tenant, 10)
    with platform_bypass(reason="test", log=False), connection.cursor() as cursor:
        cursor.execute("UPDATE billing_creditaccount SET held = 2 WHERE tenant_id = %s", [tenant.pk])

    code, _out, err = run_verify()

    assert code == 1
    assert "held 2.000000 vs open holds 0.000000" in err


@pytest.mark.django_db
def test_balance__always_the_sum_of_entries_after_mixed_operations(tenant, price):
    fund(tenant, 10)
    charge(tenant, credits=3)
    fund(tenant, 2, kind="topup")

    assert balance(tenant) == sum(e.amount for e in entries(tenant)) == Decimal(9)
