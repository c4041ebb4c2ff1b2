"""The rest of the agents pages in a real browser (Chromium through Playwright), against the live
server: a session tree cancelled after its confirmation; a skill installed from the marketplace
then uninstalled; the platform's catalogue editor showing a bad recipe's YAML error at its line;
the templates page opening the agent form with its template chosen. Each page shot in
.data/screenshots/ (agents-pages-*.png)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from agents.models import Agent, AgentSession, SkillInstallation
from agents.tests.factories import (
    AgentFactory,
    CookbookFactory,
    RecipeFactory,
    SessionFactory,
    SkillFactory,
    TemplateFactory,
)
from core.tenancy import platform_bypass
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db(transaction=True)

BAD_YAML = """\
name: broken
steps:
  - id: gather
    action: tool
    tool: web.search
  - id: write
     action: prompt
"""


def _owner(people: Any, tenant: Any, email: str) -> Any:
    owner = member(tenant, "owner", user__email=email)
    browser = people()
    browser.sign_in(owner.email, TEST_PASSWORD)
    expect(browser.page.get_by_role("heading", level=1, name=tenant.name)).to_be_visible()
    return browser


def test_session_tree__cancel_after_confirmation__every_open_node_cancelled(people: Any) -> None:
    tenant = TenantFactory.create(name="Initrode")
    agent = AgentFactory.create(tenant=tenant, name="Planner", status="active")
    helper = AgentFactory.create(tenant=tenant, name="Researcher", status="active")
    root = SessionFactory.create(agent=agent, status="running", credits_charged=Decimal("1.5"))
    child = SessionFactory.create(agent=helper, parent=root, status="running", credits_charged=Decimal("2"))
    SessionFactory.create(agent=helper, parent=child, status="running", credits_charged=Decimal("0.5"))
    SessionFactory.create(agent=helper, parent=root, status="completed", credits_charged=Decimal("1"))

    olive = _owner(people, tenant, "olive@initrode.example")
    olive.open(f"/t/{tenant.pk}/sessions/{root.pk}/")
    expect(olive.page.get_by_role("heading", level=1, name="Session of Planner")).to_be_visible()
    nodes = olive.page.get_by_test_id("tree-node")
    expect(nodes).to_have_count(4)
    expect(nodes.first.get_by_test_id("node-total").first).to_have_text("5.00")
    olive.shot("agents-pages-session-tree")

    olive.page.get_by_role("link", name="Cancel this session and its subtree…").click()
    expect(olive.page.get_by_role("heading", level=1, name="Cancel a session of Planner?")).to_be_visible()
    olive.shot("agents-pages-session-cancel")
    olive.page.get_by_role("button", name="Yes, cancel 3 sessions").click()
    expect(olive.page.get_by_role("status")).to_contain_text("Cancelled 3 sessions")
    statuses = olive.page.get_by_test_id("tree-node").get_by_test_id("session-status")
    expect(statuses.filter(has_text="Cancelled")).to_have_count(3)  # siblings' order is not pinned
    expect(statuses.filter(has_text="Completed")).to_have_count(1)
    olive.shot("agents-pages-session-cancelled")
    with platform_bypass(reason="test", log=False):
        statuses = sorted(AgentSession.objects.filter(root_id=root.pk).values_list("status", flat=True))
    assert statuses == ["cancelled", "cancelled", "cancelled", "completed"]


def test_skills_marketplace__install_then_uninstall(people: Any) -> None:
    tenant = TenantFactory.create(name="Hooli")
    AgentFactory.create(tenant=tenant, name="Bugsy", role="engineering")
    SkillFactory.create(name="Web search", slug="web-search", category="productivity")
    SkillFactory.create(name="SQL runner", slug="sql-runner", category="analytics")

    olive = _owner(people, tenant, "olive@hooli.example")
    olive.page.get_by_role("link", name="Skills", exact=True).first.click()
    expect(olive.page.get_by_role("heading", level=1, name="Skills")).to_be_visible()
    card = olive.page.get_by_test_id("skill-web-search")
    card.get_by_label("Agent").select_option(label="Bugsy (Engineering)")
    olive.shot("agents-pages-skills")
    card.get_by_role("button", name="Install Web search").click()
    expect(olive.page.get_by_role("status")).to_contain_text("Installed Web search")
    expect(olive.page.get_by_test_id("installed")).to_contain_text("Bugsy")
    olive.shot("agents-pages-skills-installed")
    with platform_bypass(reason="test", log=False):
        assert SkillInstallation.objects.filter(tenant=tenant, skill__slug="web-search").count() == 1

    olive.page.get_by_role("button", name="Uninstall Web search from Bugsy").click()
    expect(olive.page.get_by_role("status")).to_contain_text("Uninstalled Web search")
    expect(olive.page.get_by_text("No skills installed on the agents you see.")).to_be_visible()
    olive.shot("agents-pages-skills-uninstalled")
    with platform_bypass(reason="test", log=False):
        assert not SkillInstallation.objects.filter(tenant=tenant).exists()


def test_catalogue_editor__bad_recipe_yaml__the_error_shown_at_its_line(people: Any) -> None:
    template = TemplateFactory.create(name="SEO specialist", slug="seo-specialist")
    cookbook = CookbookFactory.create(template=template, name="Audits")
    RecipeFactory.create(cookbook=cookbook, name="weekly-audit", version="1.0.0")
    staff = UserFactory.create(platform_operator=True, email="ops@quartermaster.example")
    ops = people()
    ops.sign_in(staff.email, TEST_PASSWORD)
    expect(ops.page.get_by_role("heading", level=1)).to_be_visible()

    ops.open("/platform/catalogue/")
    expect(ops.page.get_by_role("heading", level=1, name="Catalogue")).to_be_visible()
    expect(
        ops.page.get_by_role("navigation", name="Platform sections").get_by_role("link", name="Catalogue")
    ).to_have_attribute("aria-current", "page")
    ops.shot("agents-pages-catalogue")
    ops.page.get_by_test_id("catalogue-templates").get_by_role("link", name="Audits").click()
    expect(ops.page.get_by_role("heading", level=1, name="Audits")).to_be_visible()
    ops.page.get_by_role("link", name="New recipe").click()
    ops.page.get_by_label("Name").fill("broken")
    ops.page.get_by_label("Definition (YAML)").fill(BAD_YAML)
    ops.page.get_by_role("button", name="Add the recipe").click()

    expect(ops.page.get_by_test_id("yaml-error-line-number")).to_have_text("7")
    marked = ops.page.get_by_test_id("yaml-error-line")
    expect(marked).to_have_count(1)
    expect(marked).to_contain_text("action: prompt")
    expect(marked).to_contain_text("7")
    expect(ops.page.get_by_text("YAML error at line 7")).to_be_visible()
    expect(ops.page.get_by_label("Definition (YAML)")).to_have_value(BAD_YAML)
    ops.shot("agents-pages-catalogue-yaml-error")

    ops.page.get_by_label("Definition (YAML)").fill(
        BAD_YAML.replace("     action: prompt", "    action: prompt\n    prompt: Write.")
    )
    ops.page.get_by_role("button", name="Add the recipe").click()
    expect(ops.page.get_by_role("status")).to_contain_text("Added the recipe broken 1.0.0")
    expect(ops.page.get_by_test_id("cookbook-recipes").locator("tbody tr")).to_have_count(2)
    ops.shot("agents-pages-catalogue-recipe-added")


def test_templates_page__create_agent__the_template_chosen(people: Any) -> None:
    tenant = TenantFactory.create(name="Vandelay")
    template = TemplateFactory.create(
        name="Import specialist", slug="import-specialist", default_model_tier="opus"
    )
    CookbookFactory.create(template=template, name="Customs", capabilities=["forms"])

    olive = _owner(people, tenant, "olive@vandelay.example")
    olive.page.get_by_role("link", name="Templates", exact=True).first.click()
    expect(olive.page.get_by_role("heading", level=1, name="Templates")).to_be_visible()
    card = olive.page.get_by_test_id("template-import-specialist")
    expect(card).to_contain_text("Customs")
    olive.shot("agents-pages-templates")
    card.get_by_role("link", name="Create an agent from Import specialist").click()

    expect(olive.page.get_by_role("heading", level=1, name="Agents")).to_be_visible()
    expect(olive.page.get_by_label("Start from")).to_have_value(str(template.pk))
    olive.shot("agents-pages-templates-create")
    olive.page.get_by_label("Name", exact=True).fill("Kramer")
    olive.page.get_by_role("button", name="Create agent").click()
    expect(olive.page.get_by_role("heading", level=1, name="Kramer")).to_be_visible()
    with platform_bypass(reason="test", log=False):
        kramer = Agent.objects.get(tenant=tenant, name="Kramer")
    assert (kramer.template_id, kramer.model_tier) == (template.pk, "opus")
