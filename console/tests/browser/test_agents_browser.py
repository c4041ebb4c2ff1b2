"""The agents pages in a real browser (Chromium through Playwright), against the live server: an
agent created from a template of the catalogue, then (once its runtime reports it ready) paused
with a reason; the list filtered by status; each page shot in .data/screenshots/ (agents-*.png).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD
from agents.models import Agent
from agents.tests.factories import AgentFactory, InstallationFactory, SessionFactory, TemplateFactory
from console.tests.browser.conftest import PHONE
from core.tenancy import platform_bypass
from tenants.tests.factories import TeamFactory, TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def test_agents__create_from_template_then_pause__shown_paused_with_reason(people: Any) -> None:
    tenant = TenantFactory.create(name="Initrode", timezone="Asia/Tokyo")
    team = TeamFactory.create(tenant=tenant, name="Research", slug="research")
    owner = member(tenant, "owner", user__email="olive@initrode.example", user__full_name="Olive Owner")
    template = TemplateFactory.create(name="Initrode reviewer", default_model_tier="opus")
    scribe = AgentFactory.create(tenant=tenant, name="Scribe", status="paused", status_reason="Budget")
    InstallationFactory.create(agent=scribe, tenant=tenant, skill__name="Web search")
    root = SessionFactory.create(
        agent=scribe, status="completed", credits_charged=Decimal("1.5"), tree_credits_charged=Decimal("4")
    )
    SessionFactory.create(agent=scribe, parent=root, status="completed", credits_charged=Decimal("2.5"))

    olive = people()
    olive.sign_in(owner.email, TEST_PASSWORD)
    expect(olive.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    olive.page.get_by_role("link", name="Agents", exact=True).first.click()
    expect(olive.page.get_by_role("heading", level=1, name="Agents")).to_be_visible()
    expect(olive.page.get_by_test_id("agents")).to_contain_text("Scribe")
    olive.shot("agents-list")

    olive.page.get_by_label("Name", exact=True).fill("Bugsy")
    olive.page.get_by_label("Start from").select_option(label="Initrode reviewer")
    olive.page.get_by_label("Team").select_option(label="Research")
    olive.page.get_by_role("button", name="Create agent").click()
    expect(olive.page.get_by_role("heading", level=1, name="Bugsy")).to_be_visible()
    expect(olive.page.get_by_test_id("agent-status")).to_have_text("Provisioning")
    olive.shot("agents-agent-created")
    with platform_bypass(reason="test", log=False):
        bugsy = Agent.objects.get(tenant=tenant, name="Bugsy")
        assert (bugsy.template_id, bugsy.model_tier, bugsy.team_id) == (template.pk, "opus", team.pk)
        # Its runtime reports it ready (the status API's job): idle, so it may be paused.
        Agent.objects.filter(pk=bugsy.pk).update(status="idle")

    olive.page.reload()
    olive.page.get_by_label("Reason").fill("Reviewing too eagerly")
    olive.page.get_by_role("button", name="Pause Bugsy").click()
    expect(olive.page.get_by_test_id("agent-status")).to_have_text("Paused")
    expect(olive.page.get_by_text("Reason: Reviewing too eagerly")).to_be_visible()
    expect(olive.page.get_by_role("button", name="Resume Bugsy")).to_be_visible()
    olive.shot("agents-agent-paused")
    with platform_bypass(reason="test", log=False):
        assert Agent.objects.get(pk=bugsy.pk).status == "paused"

    olive.open(f"/t/{tenant.pk}/agents/?status=paused")
    expect(olive.page.get_by_test_id("agents").locator("tbody tr")).to_have_count(2)
    olive.shot("agents-list-paused")

    olive.open(f"/t/{tenant.pk}/agents/{scribe.pk}/")
    expect(olive.page.get_by_test_id("agent-skills")).to_contain_text("Web search")
    expect(olive.page.get_by_test_id("agent-sessions").locator("tbody tr")).to_have_count(2)
    olive.shot("agents-agent")

    phone = people(viewport=PHONE)
    phone.sign_in(owner.email, TEST_PASSWORD)
    expect(phone.page.get_by_role("heading", level=1, name="Initrode")).to_be_visible()
    phone.open(f"/t/{tenant.pk}/agents/")
    expect(phone.page.get_by_test_id("agents")).to_contain_text("Bugsy")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    phone.shot("agents-list-phone")
