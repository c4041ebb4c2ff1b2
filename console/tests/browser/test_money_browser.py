"""A tenant's credits and audit log in a real browser: the ledger's filters and pages, the
statement download, an audit entry opened onto its old and new values. Screenshots of each
page in .data/screenshots/ (money-*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD
from billing.tests.factories import fund
from console.tests.browser.conftest import PHONE
from console.tests.data import LARGE_MODEL, prices, usage_history
from core.tenancy import tenant_context
from tenants import services as tenant_services
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def test_credits__owner_filters_the_ledger_and_downloads_a_statement(people: Any) -> None:
    tenant = TenantFactory.create(name="Stark Industries", timezone="America/New_York")
    owner = member(tenant, "owner", user__email="pepper@stark.example")
    prices()
    usage_history(tenant, creator=owner, days=4)  # grant 1,000; 4 days of two models
    pepper = people()
    pepper.sign_in(owner.email, TEST_PASSWORD)
    expect(pepper.page.get_by_role("heading", level=1, name="Stark Industries")).to_be_visible()

    pepper.page.get_by_role("navigation", name="Sections of Stark Industries").get_by_role(
        "link", name="Credits"
    ).click()
    page = pepper.page
    expect(page.get_by_role("heading", level=1, name="Credits")).to_be_visible()
    expect(page.get_by_test_id("kpi-balance")).to_contain_text("982.00")
    ledger = page.get_by_test_id("ledger").locator("tbody tr")
    expect(ledger).to_have_count(9)
    # Listed by when each thing happened: the grant among the usage reported for earlier days.
    expect(ledger.filter(has_text="Grant")).to_have_count(1)
    pepper.shot("money-credits")

    page.evaluate("window.stillThisPage = true")  # gone if the filter loads a whole new page
    filters = page.get_by_test_id("ledger-filters")
    filters.get_by_label("Kind").select_option("usage")
    filters.get_by_label("Model").fill(LARGE_MODEL)
    filters.get_by_role("button", name="Filter").click()
    expect(ledger).to_have_count(4)
    for row in ledger.all():
        expect(row).to_contain_text(LARGE_MODEL)
        expect(row).to_contain_text("key Production runtime")
    assert "kind=usage" in page.url  # htmx pushed the filtered URL
    assert page.evaluate("window.stillThisPage === true"), "htmx swapped the ledger in place"
    pepper.shot("money-credits-filtered")
    page.get_by_role("link", name="Clear").click()
    expect(ledger).to_have_count(9)

    with page.expect_download() as download:
        page.get_by_test_id("statement-form").get_by_role("button", name="Download CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("row,seq,created_at")
    assert lines[1].startswith("opening_balance")
    assert lines[-1].startswith("closing_balance")
    assert download.value.suggested_filename.startswith(f"statement-{tenant.slug}-")


def test_credits_and_audit__phone_width__pages_fit(people: Any) -> None:
    tenant = TenantFactory.create(name="Wayne Enterprises")
    owner = member(tenant, "owner")
    fund(tenant, 250)
    lucius = people(viewport=PHONE)
    lucius.sign_in(owner.email, TEST_PASSWORD)
    lucius.open(f"/t/{tenant.pk}/credits/")
    expect(lucius.page.get_by_test_id("kpi-balance")).to_contain_text("250.00")
    width = lucius.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at 390 px ({width})"
    lucius.shot("money-credits-phone")
    lucius.open(f"/t/{tenant.pk}/audit/")
    entry = lucius.page.get_by_test_id("audit-list").locator("li").first
    entry.locator("summary").click()
    expect(entry.locator(".audit-details")).to_be_visible()
    width = lucius.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the audit log scrolls sideways at 390 px ({width})"
    lucius.shot("money-audit-phone")


def test_audit__admin_filters_and_opens_an_entry_onto_old_and_new_values(people: Any) -> None:
    tenant = TenantFactory.create(name="Cyberdyne", timezone="Asia/Tokyo")
    owner = member(tenant, "owner", user__email="miles@cyberdyne.example")
    with tenant_context(tenant):
        tenant_services.tenant_update(tenant=tenant, actor=owner, data={"name": "Cyberdyne Systems"})
    fund(tenant, 40)
    miles = people()
    miles.sign_in(owner.email, TEST_PASSWORD)
    miles.open(f"/t/{tenant.pk}/audit/")
    page = miles.page
    expect(page.get_by_role("heading", level=1, name="Audit log")).to_be_visible()
    entries = page.get_by_test_id("audit-list").locator("li")
    expect(entries.first).to_contain_text("Credits grant")
    miles.shot("money-audit")

    filters = page.get_by_test_id("audit-filters")
    filters.get_by_label("Action").fill("tenant.*")
    filters.get_by_role("button", name="Filter").click()
    expect(entries).to_have_count(1)
    entry = entries.first
    entry.locator("summary").click()
    changes = entry.locator("table.changes")
    expect(changes).to_be_visible()
    expect(changes.locator("tbody tr").first).to_contain_text("Cyberdyne")
    expect(changes.locator("tbody tr").first).to_contain_text("Cyberdyne Systems")
    expect(entry).to_contain_text("miles@cyberdyne.example")
    miles.shot("money-audit-entry")


def test_audit__viewer__no_audit_section_and_the_url_gives_the_403_page(people: Any) -> None:
    tenant = TenantFactory.create(name="Tyrell")
    viewer = member(tenant, "viewer")
    fund(tenant, 5)
    rachael = people()
    rachael.sign_in(viewer.email, TEST_PASSWORD)
    sections = rachael.page.get_by_role("navigation", name="Sections of Tyrell")
    expect(sections.get_by_role("link", name="Credits")).to_be_visible()
    expect(sections.get_by_role("link", name="Audit log")).to_have_count(0)
    response = rachael.open(f"/t/{tenant.pk}/audit/")
    assert response.status == 403
    expect(rachael.page.get_by_role("heading", name="No access")).to_be_visible()
    rachael.shot("money-audit-viewer-403")
