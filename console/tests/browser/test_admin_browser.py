"""The back office in a real browser: the dashboard renders with its charts, and a platform
admin grants credits from the accounts list (the action asks for a reason) and sees the balance
move. Screenshots: .data/screenshots/admin-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from billing.tests.factories import balance, fund
from console.tests.data import prices, usage_history
from insights.services import analytics_rollup_range
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def _admin_sign_in(person: Any, email: str) -> None:
    person.open("/admin/login/")
    person.page.get_by_label("Email").fill(email)
    person.page.get_by_label("Password").fill(TEST_PASSWORD)
    person.shot("admin-login")
    person.page.get_by_role("button", name="Log in").click()


def test_admin_dashboard__staff_signs_in__renders_kpis_and_charts(people: Any, settings: Any) -> None:
    settings.QM_STAFF_REQUIRE_2FA = False
    staff = UserFactory.create(platform_admin=True)
    tenant = TenantFactory.create(name="Acme Rockets")
    owner = member(tenant, "owner")
    prices()
    usage_history(tenant, creator=owner, days=5)
    today = datetime.now(UTC).date()
    analytics_rollup_range(start=today - timedelta(days=6), end=today)  # the dashboard reads the roll-up
    person = people()

    _admin_sign_in(person, staff.email)

    expect(person.page).to_have_url(f"{person.page.url.split('/admin/')[0]}/admin/")
    expect(person.page.get_by_test_id("dashboard")).to_be_visible()
    expect(person.page.locator("canvas.chart").first).to_be_visible()
    expect(person.page.locator('[data-kpi="tenants"]')).to_have_text("1")
    expect(person.page.get_by_test_id("top-tenants")).to_contain_text("Acme Rockets")
    expect(person.page.locator('[data-kpi="credits-charged"]')).not_to_have_text("0.00")
    person.shot("admin-dashboard")


def test_admin_grant_credits__action_with_a_reason__balance_moves(people: Any, settings: Any) -> None:
    settings.QM_STAFF_REQUIRE_2FA = False
    staff = UserFactory.create(platform_admin=True)
    tenant = TenantFactory.create(name="Bluebird Labs")
    fund(tenant, 10)
    person = people()
    _admin_sign_in(person, staff.email)

    person.open("/admin/billing/creditaccount/")
    row = person.page.locator("tr", has_text="Bluebird Labs")
    row.locator("input.action-select").check()
    person.page.locator("select[name=action]").select_option("grant_credits")
    person.shot("admin-credit-accounts")
    person.page.locator("button[name=index], button[type=submit]", has_text="Run").first.click()
    expect(person.page.get_by_test_id("action-objects")).to_contain_text("Bluebird Labs")
    person.page.get_by_label("Kind").select_option("topup")
    person.page.get_by_label("Amount").fill("40")
    person.page.get_by_label("Reason").fill("Paid invoice 1042")
    person.shot("admin-grant-credits")
    person.page.get_by_role("button", name="Grant or adjust credits").click()

    expect(person.page.get_by_text("Posted credits to")).to_be_visible()
    expect(person.page.locator("tr", has_text="Bluebird Labs")).to_contain_text("50.00")
    person.shot("admin-credit-accounts-after")
    assert balance(tenant) == Decimal("50")
