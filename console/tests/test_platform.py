"""Platform staff's pages: the dashboard's figures, the tenant list (suspend, reactivate with a
reason), the user list (unlock with a reason), credit postings (grant, top up, refund, adjust):
who may open them (the API's platform rule), each action moving data with its audit entry,
bad input shown in place, other ids answered with the 404 page, query counts pinned."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from billing import services as billing_services
from billing.models import CreditTransaction
from billing.tests.factories import account, fund
from console.tests.conftest import sign_in
from console.tests.data import prices, usage_history
from core.tenancy import platform_bypass, tenant_context
from tenants.models import Tenant, TenantStatus
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db

PAGES = ["/platform/", "/platform/tenants/", "/platform/users/", "/platform/credits/"]


def _audit(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action).order_by("created_at"))


def _ledger(tenant: Any) -> list[tuple[str, Decimal, str]]:
    with platform_bypass(reason="test", log=False):
        rows = CreditTransaction.objects.filter(tenant=tenant).order_by("seq")
        return [(row.kind, row.amount, row.description) for row in rows]


def _table(body: str, testid: str) -> str:
    return body.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]


@pytest.fixture
def staff(signed_in: Any, platform_operator: Any) -> Client:
    client: Client = signed_in(platform_operator)
    return client


# --- Who may open them ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_platform_pages__tenant_owner__403_page(signed_in: Any, owner: Any, page: str) -> None:
    response = signed_in(owner).get(page)
    assert response.status_code == 403
    assert "This is for platform staff." in response.content.decode()


@pytest.mark.parametrize(
    "path", ["/platform/credits/", "/platform/tenants/{tenant}/status/", "/platform/users/{user}/unlock/"]
)
def test_platform_writes__tenant_owner__403_and_nothing_changes(
    signed_in: Any, tenant: Any, owner: Any, path: str
) -> None:
    url = path.format(tenant=tenant.pk, user=owner.pk)
    body = {"tenant": str(tenant.pk), "kind": "grant", "amount": "100", "reason": "mine"}
    response = signed_in(owner).post(url, body)
    assert response.status_code == 403
    assert _ledger(tenant) == []
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.ACTIVE


@pytest.mark.parametrize("page", PAGES)
def test_platform_pages__signed_out__to_sign_in(page: str) -> None:
    response = Client().get(page)
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/?next=")


# --- Dashboard -----------------------------------------------------------------------------------


def test_dashboard__usage_in_two_tenants__figures_top_tenants_and_low_balances(
    staff: Client, tenant: Any, owner: Any
) -> None:
    prices()
    usage_history(tenant, creator=owner, days=2)  # 2+1 and 3+1 credits: 7 charged
    other = TenantFactory.create(name="Initech", plan="growth")
    usage_history(other, creator=member(other, "owner"), days=1)  # 3 charged
    with tenant_context(other):
        billing_services.threshold_create(tenant=other, actor=None, threshold=Decimal("2000"))
    TenantFactory.create(name="Dormant Ltd", status=TenantStatus.SUSPENDED, suspended_at="2025-01-01T00:00Z")
    body = staff.get("/platform/").content.decode()
    kpis = dict(re.findall(r'data-testid="kpi-(\w+)">.*?<p class="kpi-value">([^<]+)<', body, re.S))
    assert kpis == {"tenants": "3", "charged": "10.00", "cost": "$2.00", "margin": "$8.00"}  # markup 5
    assert "80.0% of what was charged." in body
    top = _table(body, "top-tenants")
    assert top.index("Acme Robotics") < top.index("Initech")
    low = _table(body, "low-balances")
    assert "Initech" in low
    assert "2,000.00" in low
    assert "Acme" not in low
    matrix = _table(body, "tenant-matrix")
    assert re.search(r"Suspended</a></th>(<td>\d+</td>)+<td><strong>1</strong>", matrix)
    assert 'aria-labelledby="charged-chart-title charged-chart-desc"' in body


def test_dashboard__nothing_yet__empty_states(staff: Client) -> None:
    body = staff.get("/platform/").content.decode()
    assert "No usage charged in the last 30 days." in body
    assert "No tenant is below one of its low-balance alerts." in body
    assert "Nothing charged yet." in body


def test_dashboard__query_count__the_same_for_one_tenant_and_many(
    staff: Client, tenant: Any, owner: Any, django_assert_num_queries: Any
) -> None:
    prices()
    usage_history(tenant, creator=owner, days=1)
    with CaptureQueriesContext(connection) as few:
        staff.get("/platform/")
    for number in range(6):
        other = TenantFactory.create(name=f"Tenant {number}")
        usage_history(other, creator=member(other, "owner"), days=2)
        with tenant_context(other):
            billing_services.threshold_create(tenant=other, actor=None, threshold=Decimal("5000"))
    with django_assert_num_queries(len(few.captured_queries)):
        body = staff.get("/platform/").content.decode()
    assert body.count("Tenant ") >= 5


# --- Tenants -------------------------------------------------------------------------------------


def test_tenants__list__plan_status_balance_and_filters(staff: Client, tenant: Any) -> None:
    fund(tenant, 1234)
    TenantFactory.create(
        name="Umbrella",
        status=TenantStatus.SUSPENDED,
        suspended_at="2025-01-01T00:00Z",
        suspension_reason="Unpaid",
    )
    body = staff.get("/platform/tenants/").content.decode()
    assert "Acme Robotics" in body
    assert "1,234.00" in body
    assert "Unpaid" in body
    assert "no account" in body
    suspended = _table(staff.get("/platform/tenants/?status=suspended").content.decode(), "tenants")
    assert "Umbrella" in suspended
    assert "Acme Robotics" not in suspended
    searched = _table(staff.get("/platform/tenants/?q=acme").content.decode(), "tenants")
    assert "Acme Robotics" in searched
    assert "Umbrella" not in searched


def test_tenants__bad_filter__400_with_the_error(staff: Client) -> None:
    response = staff.get("/platform/tenants/?status=gone")
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()


def test_tenants__query_count__the_same_for_one_and_many(
    staff: Client, tenant: Any, django_assert_num_queries: Any
) -> None:
    with CaptureQueriesContext(connection) as few:
        staff.get("/platform/tenants/")
    for number in range(60):
        fund(TenantFactory.create(name=f"Tenant {number:02d}"), number + 1)
    with django_assert_num_queries(len(few.captured_queries)):
        body = staff.get("/platform/tenants/?page=2").content.decode()
    assert "Page 2 of 2" in body


def test_tenant_status__suspend_then_reactivate_with_reasons__status_and_audit(
    staff: Client, tenant: Any
) -> None:
    url = f"/platform/tenants/{tenant.pk}/status/"
    assert "Suspend Acme Robotics" in staff.get(url).content.decode()
    response = staff.post(url, {"action": "suspend", "reason": "Chargeback on the last invoice"}, follow=True)
    assert "Suspended Acme Robotics." in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.SUSPENDED
    assert tenant.suspension_reason == "Chargeback on the last invoice"
    assert _audit("tenant.suspended")[-1].details["reason"] == "Chargeback on the last invoice"

    assert "Reactivate Acme Robotics" in staff.get(url).content.decode()
    staff.post(url, {"action": "reactivate", "reason": "Paid"})
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.ACTIVE
    entry = _audit("tenant.reactivated")[-1]
    assert entry.details["reason"] == "Paid"


def test_tenant_status__no_reason__400_error_in_place_nothing_changes(staff: Client, tenant: Any) -> None:
    response = staff.post(f"/platform/tenants/{tenant.pk}/status/", {"action": "suspend", "reason": "   "})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.ACTIVE
    assert _audit("tenant.suspended") == []


def test_tenant_status__suspended_meanwhile__conflict_shown_nothing_undone(
    staff: Client, tenant: Any
) -> None:
    url = f"/platform/tenants/{tenant.pk}/status/"
    staff.post(url, {"action": "suspend", "reason": "First operator"})
    response = staff.post(url, {"action": "suspend", "reason": "Second operator, from a stale page"})
    body = response.content.decode()
    assert response.status_code == 409
    assert "The tenant is already suspended." in body
    assert "Reactivate Acme Robotics" in body  # the page now offers what can be done
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.SUSPENDED
    assert tenant.suspension_reason == "First operator"


def test_tenant_status__missing_tenant__404_page(staff: Client) -> None:
    response = staff.post(f"/platform/tenants/{uuid.uuid4()}/status/", {"reason": "x"})
    assert response.status_code == 404
    assert "There is no such tenant." in response.content.decode()


# --- Users ---------------------------------------------------------------------------------------


def _lock_out(user: Any) -> None:
    client = Client()
    for _ in range(5):
        sign_in(client, user, password="not the password at all")


def test_users__list__role_two_factor_and_lockout(staff: Client, owner: Any, platform_operator: Any) -> None:
    _lock_out(owner)
    body = _table(staff.get("/platform/users/").content.decode(), "users")
    row = body.split(owner.email, 1)[1].split("</tr>", 1)[0]
    assert "Locked out" in row
    assert "5 failed logins recently" in row
    assert "Unlock…" in row
    staff_row = body.split(platform_operator.email, 1)[1].split("</tr>", 1)[0]
    assert "Can sign in" in staff_row
    locked = _table(staff.get("/platform/users/?locked=on").content.decode(), "users")
    assert owner.email in locked
    assert platform_operator.email not in locked
    operators = _table(staff.get("/platform/users/?role=platform_operator").content.decode(), "users")
    assert platform_operator.email in operators
    assert owner.email not in operators
    bad = staff.get("/platform/users/?role=emperor")
    assert bad.status_code == 400
    assert "Select a valid choice." in bad.content.decode()


def test_user_unlock__with_a_reason__lockout_lifted_and_audited(staff: Client, owner: Any) -> None:
    _lock_out(owner)
    assert AccessAttempt.objects.filter(username=owner.email).exists()
    response = staff.post(
        f"/platform/users/{owner.pk}/unlock/", {"reason": "Called the help desk"}, follow=True
    )
    assert f"Unlocked {owner.email}: 1 locked address cleared." in response.content.decode()
    assert not AccessAttempt.objects.filter(username=owner.email).exists()
    entry = _audit("auth.account_unlocked")[-1]
    assert entry.details == {"attempts_cleared": 1, "reason": "Called the help desk"}
    assert sign_in(Client(), owner).status_code == 302


def test_user_unlock__no_reason__400_still_locked(staff: Client, owner: Any) -> None:
    _lock_out(owner)
    response = staff.post(f"/platform/users/{owner.pk}/unlock/", {"reason": ""})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.content.decode()
    assert AccessAttempt.objects.filter(username=owner.email).exists()


def test_user_unlock__missing_user__404_page(staff: Client) -> None:
    response = staff.get(f"/platform/users/{uuid.uuid4()}/unlock/")
    assert response.status_code == 404


def test_users__query_count__the_same_for_few_and_many(staff: Client, django_assert_num_queries: Any) -> None:
    with CaptureQueriesContext(connection) as few:
        staff.get("/platform/users/")
    UserFactory.create_batch(55)
    with django_assert_num_queries(len(few.captured_queries)):
        body = staff.get("/platform/users/").content.decode()
    assert "Page 1 of 2" in body


# --- Credits -------------------------------------------------------------------------------------


def test_credits__search_then_choose__matches_link_to_the_tenant(staff: Client, tenant: Any) -> None:
    body = staff.get("/platform/credits/?q=acme").content.decode()
    assert f'href="?tenant={tenant.pk}"' in body
    chosen = staff.get(f"/platform/credits/?tenant={tenant.pk}").content.decode()
    assert "Credits of Acme Robotics" in chosen
    assert "No entries yet" in chosen


def test_credits__grant__ledger_moves_audited_with_the_reason(
    staff: Client, tenant: Any, platform_operator: Any
) -> None:
    fund(tenant, 10)
    url = f"/platform/credits/?tenant={tenant.pk}"
    form = staff.get(url).content.decode()
    key = re.search(r'name="idempotency_key" value="(\w+)"', form)
    assert key
    data = {
        "tenant": str(tenant.pk),
        "kind": "grant",
        "amount": "250.5",
        "reason": "Launch bonus",
        "idempotency_key": key[1],
    }
    response = staff.post("/platform/credits/", data, follow=True)
    body = response.content.decode()
    assert "Posted: grant of 250.50 credits to Acme Robotics; the balance is now 260.50." in body
    assert _ledger(tenant)[-1] == ("grant", Decimal("250.500000"), "Launch bonus")
    assert account(tenant).balance == Decimal("260.500000")
    assert "+250.50" in body.split('data-testid="ledger"', 1)[1]
    entry = _audit("credits.grant")[-1]
    assert entry.details["reason"] == "Launch bonus"
    assert entry.actor_label == platform_operator.email

    again = staff.post("/platform/credits/", data, follow=True).content.decode()
    assert "Already posted: grant of 250.50 credits" in again
    assert len(_ledger(tenant)) == 2


def test_credits__adjust_down_and_refund__both_posted(staff: Client, tenant: Any) -> None:
    fund(tenant, 100)
    staff.post(
        "/platform/credits/",
        {"tenant": str(tenant.pk), "kind": "adjustment", "amount": "-40", "reason": "Duplicate grant"},
    )
    staff.post(
        "/platform/credits/",
        {"tenant": str(tenant.pk), "kind": "topup", "amount": "5", "reason": "Paid by card"},
    )
    assert [row[:2] for row in _ledger(tenant)] == [
        ("grant", Decimal("100.000000")),
        ("adjustment", Decimal("-40.000000")),
        ("topup", Decimal("5.000000")),
    ]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": "abc"}, "amount", "number"),
        ({"amount": "1e9"}, "amount", "number"),
        ({"amount": "99999999999999999999999"}, "amount", "Less than"),
        ({"amount": "0.0000001"}, "amount", "At most 6 decimal places."),
        ({"amount": "-5"}, "amount", "Must be more than 0"),
        ({"kind": "usage"}, "kind", "Select a valid choice."),
        ({"reason": ""}, "reason", "This field is required."),
        ({"kind": "adjustment", "amount": "-500"}, None, "Not enough credits"),
        (
            {"kind": "grant", "refund_of": str(uuid.UUID(int=1))},
            "refund_of",
            "Only a refund refers to an entry.",
        ),
        ({"kind": "refund", "refund_of": "not-a-uuid"}, "refund_of", "Enter a valid UUID."),
    ],
)
def test_credits__bad_posting__error_in_place_nothing_posted(
    staff: Client, tenant: Any, fields: dict[str, str], field: str | None, message: str
) -> None:
    fund(tenant, 10)
    data = {"tenant": str(tenant.pk), "kind": "grant", "amount": "5", "reason": "Because", **fields}
    response = staff.post("/platform/credits/", data)
    body = response.content.decode()
    assert 400 <= response.status_code < 500
    if field:
        assert f'id="id_{field}_error"' in body
    assert message in body
    assert len(_ledger(tenant)) == 1


@pytest.mark.parametrize("value", ["6b1f7c2e-0000-4000-8000-000000000000", "nope", "\u00e9" * 70])
def test_credits__tenant_that_is_not_one__404_page(staff: Client, value: str) -> None:
    response = staff.post(
        "/platform/credits/", {"tenant": value, "kind": "grant", "amount": "5", "reason": "x"}
    )
    assert response.status_code == 404
    assert "There is no such tenant." in response.content.decode()


def test_credits__suspended_tenant__staff_may_still_post(staff: Client, tenant: Any) -> None:
    with platform_bypass(reason="test", log=False):
        Tenant.objects.filter(pk=tenant.pk).update(
            status=TenantStatus.SUSPENDED, suspended_at="2025-01-01T00:00Z"
        )
    staff.post(
        "/platform/credits/", {"tenant": str(tenant.pk), "kind": "grant", "amount": "5", "reason": "Goodwill"}
    )
    assert _ledger(tenant) == [("grant", Decimal("5.000000"), "Goodwill")]


def test_credits__query_count__the_same_for_few_and_many_entries(
    staff: Client, tenant: Any, django_assert_num_queries: Any
) -> None:
    fund(tenant, 1)
    url = f"/platform/credits/?tenant={tenant.pk}"
    with CaptureQueriesContext(connection) as few:
        staff.get(url)
    for number in range(15):
        fund(tenant, number + 1)
    with django_assert_num_queries(len(few.captured_queries)):
        body = staff.get(url).content.decode()
    assert body.count('class="badge kind-grant"') == 10


def test_credits__refused_then_corrected_with_the_same_form__posted_once(staff: Client, tenant: Any) -> None:
    fund(tenant, 10)
    base = {"tenant": str(tenant.pk), "reason": "Fix", "idempotency_key": "form-key-1"}
    refused = staff.post("/platform/credits/", {**base, "kind": "adjustment", "amount": "-50"})
    assert refused.status_code == 402
    assert 'name="idempotency_key" value="form-key-1"' in refused.content.decode()  # the same form again
    staff.post("/platform/credits/", {**base, "kind": "adjustment", "amount": "-5"})
    assert [row[:2] for row in _ledger(tenant)] == [
        ("grant", Decimal("10.000000")),
        ("adjustment", Decimal("-5.000000")),
    ]


def test_credits__old_form_posted_again_with_other_values__fresh_form_nothing_posted(
    staff: Client, tenant: Any
) -> None:
    base = {"tenant": str(tenant.pk), "kind": "grant", "reason": "Bonus", "idempotency_key": "form-key-2"}
    staff.post("/platform/credits/", {**base, "amount": "10"})
    response = staff.post("/platform/credits/", {**base, "amount": "20"})
    body = response.content.decode()
    assert response.status_code == 409
    assert "This form was already posted with other values." in body
    assert 'name="idempotency_key" value="form-key-2"' not in body
    assert [row[1] for row in _ledger(tenant)] == [Decimal("10.000000")]
