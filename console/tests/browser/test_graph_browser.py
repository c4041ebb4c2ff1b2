"""The graph in a real browser (Chromium through Playwright), against the live server: an owner
opens the Graph tab, sees the drawn nodes and edges, clicks a node and lands on that
participant's page with its relationships; each page shot in .data/screenshots/ (graph-*.png).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD
from agents.tests.factories import AgentFactory, SessionFactory
from insights.services.graph import participants_sync
from tenants.tests.factories import TeamFactory, TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)


def test_graph__open_then_click_a_node__participant_page_with_relationships(people: Any) -> None:
    tenant = TenantFactory.create(name="Initrode")
    team = TeamFactory.create(tenant=tenant, name="Research", slug="research")
    owner = member(tenant, "owner", user__email="olive@initrode.example", user__full_name="Olive Owner")
    member(tenant, "admin", team=team, user__full_name="Ada Admin")
    member(tenant, "member", team=team, user__full_name="Max Member")
    lead = AgentFactory.create(tenant=tenant, name="Scribe", assisted_user=owner)
    helper = AgentFactory.create(tenant=tenant, name="Fetcher")
    root = SessionFactory.create(agent=lead, status="completed")
    SessionFactory.create(agent=helper, parent=root, status="completed")
    participants_sync(tenant=tenant)

    olive = people()
    olive.sign_in(owner.email, TEST_PASSWORD)
    olive.page.get_by_role("link", name="Graph", exact=True).first.click()
    expect(olive.page.get_by_role("heading", level=1, name="Graph")).to_be_visible()
    expect(olive.page.get_by_test_id("graph-node")).to_have_count(5)
    expect(olive.page.locator("[data-testid=graph-edges] line")).to_have_count(3)  # assists, spawned, manages
    olive.shot("graph")

    olive.page.get_by_label("Scribe (agent", exact=False).click()
    expect(olive.page.get_by_test_id("participant-name")).to_have_text("Scribe")
    relationships = olive.page.get_by_test_id("participant-relationships")
    expect(relationships).to_contain_text("assists Olive Owner")
    expect(relationships).to_contain_text("spawned Fetcher")
    olive.shot("graph-participant")

    relationships.get_by_role("link", name="Olive Owner").click()
    expect(olive.page.get_by_test_id("participant-name")).to_have_text("Olive Owner")
