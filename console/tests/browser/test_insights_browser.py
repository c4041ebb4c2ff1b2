"""The insights pages in a real browser (Chromium through Playwright) against the live server: a
platform operator accepts a recommendation (a grant of credits for a tenant running low), then
reverses the intervention it ran from the interventions page; the analytics pages drawn over the
demo data (`seed_demo`); each page shot in .data/screenshots/ (insights-*.png)."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from billing import services as billing
from billing.tests.factories import create_test_price, fund, usage
from console.tests.browser.conftest import PHONE
from console.tests.browser.demo import seed_demo
from core.tenancy import platform_bypass, tenant_context
from insights import services
from insights.models import Intervention
from tenants.models import Tenant
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _staff_without_second_factor(settings: Any) -> None:
    settings.QM_STAFF_REQUIRE_2FA = False


def _balance(tenant: Any) -> Decimal:
    with platform_bypass(reason="test", log=False):
        from billing.models import CreditAccount

        return CreditAccount.objects.get(tenant=tenant).balance


def test_recommendation__accepted_then_intervention_reversed__credits_granted_then_taken_back(
    people: Any,
) -> None:
    create_test_price()
    tenant = TenantFactory.create(name="Initrode", timezone="Asia/Tokyo")
    owner = member(tenant, "owner")
    fund(tenant, 30)
    with tenant_context(tenant):
        billing.credits_charge(tenant=tenant, event=usage(21), idempotency_key=str(uuid.uuid4()), actor=owner)
        services.recommendations_refresh(tenant=tenant)
    before = _balance(tenant)
    staff = UserFactory.create(platform_operator=True)

    olive = people()
    olive.sign_in(staff.email, TEST_PASSWORD)
    olive.page.wait_for_load_state()
    olive.open(f"/t/{tenant.pk}/recommendations/")
    expect(olive.page.get_by_role("heading", level=1, name="Recommendations")).to_be_visible()
    table = olive.page.get_by_test_id("recommendations")
    expect(table).to_contain_text("Grant credits")
    expect(table).to_contain_text("credits cover 7 days")
    olive.shot("insights-recommendations")

    olive.page.get_by_role("button", name="Accept: grant credits").click()
    expect(table.get_by_role("status")).to_contain_text("Accepted: Grant credits on Initrode")
    olive.shot("insights-recommendation-accepted")
    assert _balance(tenant) == before + 21

    table.get_by_role("link", name="See the intervention").click()
    expect(olive.page.get_by_role("heading", level=1, name="Interventions")).to_be_visible()
    row = olive.page.get_by_test_id("interventions").locator("tbody tr").first
    expect(row).to_contain_text("from a recommendation")
    olive.shot("insights-interventions")
    row.get_by_text("Reverse…").click()
    row.get_by_label("Reason for reversing").fill("They topped up themselves")
    row.get_by_role("button", name="Reverse").click()
    expect(olive.page.get_by_test_id("reversal").first).to_contain_text("They topped up themselves")
    expect(olive.page.get_by_test_id("reversal").first.get_by_role("status")).to_contain_text("Reversed")
    olive.shot("insights-intervention-reversed")
    assert _balance(tenant) == before
    with platform_bypass(reason="test", log=False):
        assert Intervention.objects.get(tenant=tenant).reversed_by_id == staff.pk


def test_analytics__demo_data__charts_drawn_for_tenant_and_platform(people: Any, tmp_path: Path) -> None:
    logins = seed_demo(tmp_path)
    owner_email = "sam.carter@acme-analytics.example"  # the demo's owner without a second factor

    sam = people()
    sam.sign_in(owner_email, logins[owner_email])
    sam.page.wait_for_load_state()
    with platform_bypass(reason="test", log=False):
        acme = Tenant.objects.get(slug="acme-analytics")
    sam.open(f"/t/{acme.pk}/")
    sam.page.get_by_role("navigation", name=re.compile("Sections of")).get_by_role(
        "link", name="Analytics"
    ).click()
    expect(sam.page.get_by_role("heading", level=1, name="Analytics")).to_be_visible()
    expect(sam.page.get_by_test_id("chart-credits_charged").locator("svg rect").first).to_be_visible()
    expect(sam.page.get_by_test_id("chart-sessions_started")).to_be_visible()
    expect(sam.page.get_by_test_id("analytics-empty")).to_have_count(0)
    sam.shot("insights-analytics")

    admin_email = next(email for email in logins if email.startswith("admin@"))
    admin = people(viewport=PHONE)
    admin.sign_in(admin_email, logins[admin_email])
    admin.page.wait_for_load_state()
    admin.open("/platform/analytics/")
    expect(admin.page.get_by_test_id("chart-credits_charged").locator("svg rect").first).to_be_visible()
    expect(admin.page.get_by_test_id("top-tenants")).to_contain_text("Acme Analytics")
    admin.shot("insights-platform-analytics-390")
