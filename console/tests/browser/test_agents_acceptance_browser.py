"""Issue 13's acceptance story on the console, in Chromium, over the demo data (`seed_demo`, as a
fresh `make run` loads it): Northwind's owner signs in (password, then her authenticator's code),
creates an agent from a catalogue template and lands on its page, opens the demo's session tree
(each node's own and total cost, the total equal to the ledger), and pauses the agent doing that
work, which then shows paused. Screenshots acceptance-agents-*.png."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Sum
from playwright.sync_api import expect

from accounts.models import User
from agents.models import Agent, AgentSession
from billing.models import CreditTransaction
from console.tests.browser.demo import seed_demo
from console.tests.conftest import totp_code
from core.tenancy import platform_bypass
from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

GRETA = "greta.hansen@northwind.example"  # Northwind's owner, with an authenticator


def _credits(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


def test_acceptance__demo_owner__agent_from_template_session_tree_costs_agent_paused(
    people: Any, tmp_path: Path
) -> None:
    logins = seed_demo(tmp_path)
    with platform_bypass(reason="test", log=False):
        northwind = Tenant.objects.get(slug="northwind-robotics")
        greta_user = User.objects.get(email=GRETA)

    greta = people()
    greta.sign_in(GRETA, logins[GRETA])
    expect(greta.page.get_by_role("heading", name="Two-factor check")).to_be_visible()
    greta.page.get_by_label("Code").fill(totp_code(greta_user, steps_ahead=1))
    greta.page.get_by_role("button", name="Verify").click()
    expect(greta.page.get_by_role("heading", level=1, name="Northwind Robotics")).to_be_visible()

    # An agent from a template of the catalogue, its page.
    sections = greta.page.get_by_role("navigation", name=re.compile("Sections of"))
    sections.get_by_role("link", name="Agents", exact=True).click()
    expect(greta.page.get_by_test_id("agents")).to_contain_text("Release captain")
    greta.page.get_by_label("Name", exact=True).fill("Acceptance reviewer")
    greta.page.get_by_label("Start from").select_option(label="Code reviewer")
    greta.page.get_by_role("button", name="Create agent").click()
    expect(greta.page.get_by_role("heading", level=1, name="Acceptance reviewer")).to_be_visible()
    expect(greta.page.get_by_test_id("agent-status")).to_have_text("Provisioning")
    greta.shot("acceptance-agents-created")
    with platform_bypass(reason="test", log=False):
        made = Agent.objects.select_related("template").get(tenant=northwind, name="Acceptance reviewer")
        assert made.template is not None
        assert (made.template.slug, made.role) == ("code-reviewer", "engineering")
        captain = Agent.objects.get(tenant=northwind, name="Release captain")
        root = AgentSession.objects.get(agent=captain, parent__isnull=True)
        tree_ids = list(AgentSession.objects.filter(root_id=root.pk).values_list("pk", flat=True))
        ledger = -CreditTransaction.objects.filter(agent_session_id__in=tree_ids).aggregate(s=Sum("amount"))[
            "s"
        ]

    # The session tree: every node with its own and total cost, the root's total the ledger's.
    sections.get_by_role("link", name="Sessions", exact=True).click()
    expect(greta.page.get_by_role("heading", level=1, name="Sessions")).to_be_visible()
    greta.page.locator(f"a[href$='/sessions/{root.pk}/']").first.click()
    tree = greta.page.get_by_test_id("session-tree")
    expect(tree.get_by_test_id("tree-node")).to_have_count(len(tree_ids))
    expect(
        greta.page.get_by_role("heading", name=re.compile(rf"^Tree: {len(tree_ids)} sessions"))
    ).to_be_visible()
    shown = ledger.quantize(Decimal("0.01"))  # credits shown to two places
    assert _credits(tree.get_by_test_id("node-total").first.inner_text()) == shown
    expect(greta.page.get_by_role("heading", name=re.compile(rf"Tree: .*, {shown} credits$"))).to_be_visible()
    expect(tree.get_by_test_id("tree-node").first).to_contain_text("own")
    greta.shot("acceptance-agents-session-tree")

    # The agent doing that work, paused with a reason.
    greta.open(f"/t/{northwind.pk}/agents/{captain.pk}/")
    expect(greta.page.get_by_test_id("agent-status")).to_have_text("Active")
    greta.page.get_by_label("Reason").fill("Release freeze")
    greta.page.get_by_role("button", name="Pause Release captain").click()
    expect(greta.page.get_by_test_id("agent-status")).to_have_text("Paused")
    expect(greta.page.get_by_text("Reason: Release freeze")).to_be_visible()
    greta.shot("acceptance-agents-paused")
    with platform_bypass(reason="test", log=False):
        assert Agent.objects.get(pk=captain.pk).status == "paused"
