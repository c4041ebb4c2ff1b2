"""Platform staff's pages in a real browser: the dashboard with data, staff granting credits and
seeing the ledger move (on the platform page and on the tenant's own credits page), suspending a
tenant with a reason, unlocking a locked-out user. Screenshots of every page (platform-*)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from billing import services as billing_services
from billing.tests.factories import account, fund
from console.tests.conftest import sign_in
from console.tests.data import prices, usage_history
from core.tenancy import tenant_context
from tenants.models import Tenant, TenantStatus
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def _operator(people: Any) -> Any:
    staff = UserFactory.create(platform_operator=True, email="ops@quartermaster.example")
    browser = people()
    browser.sign_in(staff.email, TEST_PASSWORD)
    expect(browser.page.get_by_role("heading", level=1)).to_be_visible()
    return browser


def test_platform_staff__grant_credits__the_ledger_moves(people: Any) -> None:
    tenant = TenantFactory.create(name="Soylent Corp")
    fund(tenant, 20)
    ops = _operator(people)
    ops.page.get_by_label("Account menu", exact=False).click()
    ops.page.get_by_role("link", name="Platform").click()
    expect(ops.page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
    ops.page.get_by_role("navigation", name="Platform sections").get_by_role("link", name="Credits").click()

    page = ops.page
    page.get_by_label("Tenant name or slug").fill("soylent")
    page.get_by_role("button", name="Find").click()
    page.get_by_test_id("tenant-matches").get_by_role("link", name="Soylent Corp").click()
    expect(page.get_by_role("heading", level=1, name="Credits of Soylent Corp")).to_be_visible()
    expect(page.get_by_test_id("kpi-balance")).to_contain_text("20.00")
    rows = page.get_by_test_id("ledger").locator("tbody tr")
    expect(rows).to_have_count(1)
    ops.shot("platform-credits")

    form = page.get_by_test_id("post-form")
    form.get_by_label("Kind").select_option("grant")
    form.get_by_label("Credits").fill("500")
    form.get_by_label("Reason").fill("Pilot extension agreed with sales")
    ops.shot("platform-credits-form")
    form.get_by_role("button", name="Post").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Posted: grant of 500.00 credits to Soylent Corp; the balance is now 520.00."
    )
    expect(page.get_by_test_id("kpi-balance")).to_contain_text("520.00")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("+500.00")
    expect(rows.first).to_contain_text("Pilot extension agreed with sales")
    assert account(tenant).balance == Decimal("520.000000")
    ops.shot("platform-credits-posted")

    form.get_by_label("Kind").select_option("adjustment")
    form.get_by_label("Credits").fill("-9999")
    form.get_by_label("Reason").fill("Too much")
    form.get_by_role("button", name="Post").click()
    expect(page.get_by_role("alert")).to_contain_text("Not enough credits")
    expect(rows).to_have_count(2)
    ops.shot("platform-credits-refused")

    page.get_by_role("link", name="The tenant's credits page").click()
    expect(page.get_by_role("heading", level=1, name="Credits")).to_be_visible()
    expect(page.get_by_test_id("ledger").locator("tbody tr").first).to_contain_text("+500.00")


def test_platform_dashboard_tenants_and_users__with_data__each_page(people: Any) -> None:
    prices()
    acme = TenantFactory.create(name="Acme Rockets", plan="growth")
    owner = member(acme, "owner", user__email="wile@acme.example")
    usage_history(acme, creator=owner, days=5)
    low = TenantFactory.create(name="Low Balance Ltd")
    fund(low, 5)
    with tenant_context(low):
        billing_services.threshold_create(tenant=low, actor=None, threshold=Decimal("100"))
    locked = member(low, "member", user__email="locked@low.example")
    attacker = Client()
    for _ in range(5):
        sign_in(attacker, locked, password="wrong password, again")

    ops = _operator(people)
    page = ops.page
    ops.open("/platform/")
    expect(page.get_by_test_id("kpi-tenants")).to_contain_text("2")
    expect(page.get_by_role("img", name="Credits charged per day, last 30 days")).to_be_visible()
    expect(page.get_by_test_id("top-tenants")).to_contain_text("Acme Rockets")
    expect(page.get_by_test_id("low-balances")).to_contain_text("Low Balance Ltd")
    ops.shot("platform-dashboard")

    ops.open("/platform/tenants/")
    tenants = page.get_by_test_id("tenants")
    expect(tenants).to_contain_text("Acme Rockets")
    ops.shot("platform-tenants")
    tenants.locator("tr", has_text="Low Balance Ltd").get_by_role("link", name="Suspend…").click()
    expect(page.get_by_role("heading", level=1, name="Suspend Low Balance Ltd")).to_be_visible()
    page.get_by_role("button", name="Suspend Low Balance Ltd").click()
    expect(page.locator("#id_reason_error")).to_contain_text("This field is required.")
    page.get_by_label("Reason").fill("Card declined three times")
    ops.shot("platform-tenant-suspend")
    page.get_by_role("button", name="Suspend Low Balance Ltd").click()
    expect(page.get_by_role("status")).to_contain_text("Suspended Low Balance Ltd.")
    expect(page.get_by_test_id("tenants")).to_contain_text("Card declined three times")
    assert Tenant.objects.get(pk=low.pk).status == TenantStatus.SUSPENDED

    ops.open("/platform/users/")
    users = page.get_by_test_id("users")
    row = users.locator("tr", has_text="locked@low.example")
    expect(row).to_contain_text("Locked out")
    ops.shot("platform-users")
    row.get_by_role("link", name="Unlock…").click()
    page.get_by_label("Reason").fill("Owner confirmed by phone")
    ops.shot("platform-user-unlock")
    page.get_by_role("button", name="Unlock locked@low.example").click()
    expect(page.get_by_role("status")).to_contain_text("Unlocked locked@low.example")
    expect(page.get_by_test_id("users").locator("tr", has_text="locked@low.example")).to_contain_text(
        "Can sign in"
    )


def test_platform_pages__tenant_owner__403_page(people: Any) -> None:
    tenant = TenantFactory.create(name="Nakatomi")
    owner = member(tenant, "owner")
    holly = people()
    holly.sign_in(owner.email, TEST_PASSWORD)
    expect(holly.page.get_by_role("heading", level=1, name="Nakatomi")).to_be_visible()
    expect(holly.page.get_by_role("link", name="Platform")).to_have_count(0)
    response = holly.open("/platform/credits/")
    assert response.status == 403
    expect(holly.page.get_by_text("This is for platform staff.")).to_be_visible()
    holly.shot("platform-403")
