"""The back office's credits: grants and adjustments go through the service with a reason and
are audited; an account's History shows its postings; thresholds are added and removed through
the services; the tenant page shows the limits in force. Query counts pinned."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLogEntry
from billing.models import CreditAccount, LowBalanceThreshold
from billing.tests.factories import account, balance, charge, fund, make_subscription
from core.tenancy import platform_bypass
from tenants.tests.factories import TenantFactory

ACCOUNTS = "/admin/billing/creditaccount/"


def _audit(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


@pytest.mark.django_db
def test_grant_action__reason_given__posts_credits_and_audits(client, platform_admin, tenant, other_tenant):
    fund(tenant, 10)
    fund(other_tenant, 10)
    ids = [str(account(tenant).pk), str(account(other_tenant).pk)]
    client.force_login(platform_admin)

    ask = client.post(ACCOUNTS, {"action": "grant_credits", "_selected_action": ids})
    found = re.search(r'name="idempotency_key" value="([^"]+)"', ask.content.decode())
    assert found is not None, "the reason form carries its idempotency key"
    key = found.group(1)
    body = {
        "action": "grant_credits",
        "_selected_action": ids,
        "apply": "1",
        "kind": "grant",
        "amount": "25.5",
        "reason": "Goodwill after the outage",
        "idempotency_key": key,
    }
    done = client.post(ACCOUNTS, body)
    again = client.post(ACCOUNTS, body)  # a double submit: the same key, no second grant

    assert ask.status_code == 200
    assert b"Grant or adjust credits" in ask.content
    assert done.status_code == 302
    assert again.status_code == 302
    assert balance(tenant) == Decimal("35.5")
    assert balance(other_tenant) == Decimal("35.5")
    audits = _audit("credits.grant")
    staff = [a for a in audits if a.details.get("reason") == "Goodwill after the outage"]
    assert len(staff) == 2
    assert {a.actor_user_id for a in staff} == {platform_admin.pk}


@pytest.mark.django_db
def test_grant_action__no_reason__asks_again_and_posts_nothing(client, platform_admin, tenant):
    fund(tenant, 10)
    client.force_login(platform_admin)

    response = client.post(
        ACCOUNTS,
        {
            "action": "grant_credits",
            "_selected_action": [str(account(tenant).pk)],
            "apply": "1",
            "kind": "grant",
            "amount": "5",
            "reason": "  ",
            "idempotency_key": "admin-x",
        },
    )

    assert response.status_code == 200
    assert b"This field is required" in response.content or b"A reason is required" in response.content
    assert balance(tenant) == Decimal("10")


@pytest.mark.django_db
def test_adjust_detail_action__below_the_floor__refused_in_a_message(client, platform_admin, tenant):
    fund(tenant, 10)
    acc = account(tenant)
    client.force_login(platform_admin)
    url = f"{ACCOUNTS}{acc.pk}/grant/"

    page = client.get(url)
    response = client.post(
        url,
        {
            "apply": "1",
            "kind": "adjustment",
            "amount": "-50",
            "reason": "Correction",
            "idempotency_key": "admin-y",
        },
        follow=True,
    )

    assert page.status_code == 200
    assert "Insufficient" in response.content.decode() or "not enough" in response.content.decode().lower()
    assert balance(tenant) == Decimal("10")


@pytest.mark.django_db
def test_grant_actions__operator__not_offered_and_refused(client, platform_operator, tenant):
    fund(tenant, 10)
    acc = account(tenant)
    client.force_login(platform_operator)

    changelist = client.get(ACCOUNTS)
    detail = client.post(
        f"{ACCOUNTS}{acc.pk}/grant/",
        {"apply": "1", "kind": "grant", "amount": "5", "reason": "x", "idempotency_key": "admin-z"},
    )

    assert b"grant_credits" not in changelist.content
    assert detail.status_code == 403
    assert balance(tenant) == Decimal("10")


@pytest.mark.django_db
def test_account_history__after_a_grant__shows_the_posting(client, platform_admin, tenant):
    fund(tenant, 10)
    acc = account(tenant)
    client.force_login(platform_admin)
    client.post(
        f"{ACCOUNTS}{acc.pk}/grant/",
        {
            "apply": "1",
            "kind": "topup",
            "amount": "12",
            "reason": "Paid invoice 42",
            "idempotency_key": "admin-h",
        },
    )

    history = client.get(f"{ACCOUNTS}{acc.pk}/history/").content.decode()

    assert "credits.topup" in history
    assert "Paid invoice 42" in history
    assert f"Credits of {tenant.name}" in history


@pytest.mark.django_db
def test_account_pages__titled_by_tenant_name_not_id(client, platform_admin, tenant):
    fund(tenant, 10)
    acc = account(tenant)
    client.force_login(platform_admin)

    page = client.get(f"{ACCOUNTS}{acc.pk}/change/").content.decode()

    assert f"Credits of {tenant.name}" in page
    assert f"Credits of {tenant.pk}" not in page


@pytest.mark.django_db
def test_threshold_add_and_delete__through_the_services__audited(client, platform_admin, tenant):
    fund(tenant, 10)
    client.force_login(platform_admin)

    added = client.post(
        "/admin/billing/lowbalancethreshold/add/", {"tenant": str(tenant.pk), "threshold": "50"}
    )
    with platform_bypass(reason="test", log=False):
        row = LowBalanceThreshold.objects.get(tenant=tenant)
    deleted = client.post(f"/admin/billing/lowbalancethreshold/{row.pk}/delete/", {"post": "yes"})

    assert added.status_code == 302
    assert row.below is True  # 10 is already below 50
    assert deleted.status_code == 302
    with platform_bypass(reason="test", log=False):
        assert not LowBalanceThreshold.objects.filter(tenant=tenant).exists()
    assert len(_audit("credits.threshold_created")) == 1
    assert len(_audit("credits.threshold_deleted")) == 1


@pytest.mark.django_db
def test_tenant_page__limits_in_force__from_the_plan_readably(client, platform_admin, tenant):
    make_subscription(tenant)
    fund(tenant, 5)
    client.force_login(platform_admin)

    page = client.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()

    assert 'data-testid="effective-limits"' in page
    assert "plan:" in page
    assert "Ledger" in page


@pytest.mark.django_db
def test_ledger_changelist__more_entries__same_query_count(client, platform_admin, tenant, price):
    fund(tenant, 100)
    client.force_login(platform_admin)
    with CaptureQueriesContext(connection) as first:
        client.get("/admin/billing/credittransaction/")
    for _ in range(5):
        charge(tenant, credits=1)
    with CaptureQueriesContext(connection) as second:
        client.get("/admin/billing/credittransaction/")

    assert len(second.captured_queries) == len(first.captured_queries)


@pytest.mark.django_db
def test_accounts_changelist__more_tenants__same_query_count(client, platform_admin):
    fund(TenantFactory.create(), 1)
    client.force_login(platform_admin)
    with CaptureQueriesContext(connection) as first:
        client.get(ACCOUNTS)
    for _ in range(4):
        fund(TenantFactory.create(), 1)
    with CaptureQueriesContext(connection) as second:
        client.get(ACCOUNTS)

    assert len(second.captured_queries) == len(first.captured_queries)
    with platform_bypass(reason="test", log=False):
        assert CreditAccount.objects.count() == 5
