"""The alerts page in a real browser (Chromium through Playwright), against the live server: a
container's unhealthy report (through the health service) raises a critical alert; the owner
finds it from the overview's open-alerts count, acknowledges it, then resolves it, each swapped in
place by htmx; the resolved filter shows who resolved it. Screenshots: .data/screenshots/alerts-*.png.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD
from agents.services.health import health_report
from agents.tests.factories import AgentFactory
from alerts.models import Alert
from billing.tests.factories import fund
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def test_alerts__acknowledge_then_resolve__state_shown_in_place_and_stored(people: Any) -> None:
    tenant = TenantFactory.create(name="Initrode", timezone="Europe/Berlin")
    owner = member(tenant, "owner", user__email="olive@initrode.example", user__full_name="Olive Owner")
    fund(tenant, 100)
    agent = AgentFactory.create(tenant=tenant, name="Night watch")
    with tenant_context(tenant):
        health_report(tenant=tenant, agent=agent, container_id="runner-7", status="healthy")
        health_report(
            tenant=tenant,
            agent=agent,
            container_id="runner-7",
            status="unhealthy",
            cpu_percent=Decimal("97.5"),
            memory_mb=1900,
            restarts=3,
        )
    title = "Container runner-7 is unhealthy (agent Night watch)"

    olive = people()
    olive.sign_in(owner.email, TEST_PASSWORD)
    expect(olive.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    kpi = olive.page.get_by_test_id("kpi-alerts")
    expect(kpi.locator(".kpi-value")).to_have_text("1")
    olive.shot("alerts-overview")
    kpi.get_by_role("link", name="See the alerts").click()

    expect(olive.page.get_by_role("heading", level=1, name="Alerts")).to_be_visible()
    row = olive.page.get_by_test_id("alerts").locator("tr", has_text=title)
    expect(row.get_by_test_id("alert-status")).to_have_text("Open")
    expect(olive.page.get_by_test_id("health")).to_contain_text("runner-7")
    expect(olive.page.get_by_test_id("health")).to_contain_text("Unhealthy")
    olive.shot("alerts-open")

    olive.page.get_by_role("button", name=f"Acknowledge {title}").click()
    expect(olive.page.get_by_role("status")).to_have_text(f"Acknowledged: {title}.")
    expect(row.get_by_test_id("alert-status")).to_have_text("Acknowledged by olive@initrode.example")
    expect(olive.page.get_by_role("button", name=f"Acknowledge {title}")).to_have_count(0)
    olive.shot("alerts-acknowledged")

    olive.page.get_by_role("button", name=f"Resolve {title}").click()
    expect(olive.page.get_by_role("status")).to_have_text(f"Resolved: {title}.")
    # Unresolved is the default view: the resolved alert has left it.
    expect(olive.page.get_by_test_id("alerts")).to_have_count(0)
    olive.shot("alerts-resolved")

    olive.page.get_by_label("Status").select_option("resolved")
    olive.page.get_by_role("button", name="Filter").click()
    resolved = olive.page.get_by_test_id("alerts").locator("tr", has_text=title)
    expect(resolved.get_by_test_id("alert-status")).to_contain_text("Resolved")
    expect(resolved.get_by_test_id("alert-status")).to_contain_text("by olive@initrode.example")
    olive.shot("alerts-resolved-filter")

    with platform_bypass(reason="test", log=False):
        alert = Alert.objects.get(tenant=tenant, source="agents.health")
    assert alert.status == "resolved"
    assert alert.acknowledged_by_id == owner.pk
    assert alert.resolved_by_id == owner.pk
