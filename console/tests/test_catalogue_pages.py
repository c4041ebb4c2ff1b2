"""Platform staff's catalogue editor (issue 13): templates, cookbooks, recipes (a bad YAML shown
at its line) and skills (status changes) through agents.services.catalogue, audited; tenant
members get the 403 page; a query count independent of the catalogue's size."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.models import AgentTemplate, Cookbook, Recipe, Skill
from agents.tests.factories import RECIPE_YAML, CookbookFactory, RecipeFactory, SkillFactory, TemplateFactory
from audit.models import AuditLogEntry
from console.views.catalogue import source_listing
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db

ROOT = "/platform/catalogue/"
BAD_YAML = """\
name: broken
steps:
  - id: gather
    action: tool
    tool: web.search
  - id: write
     action: prompt
"""
BAD_STEP = """\
steps:
  - id: gather
    action: tool
    tool: web.search
  - id: write
    action: prompt
    prompt: Write it.
    needs: [later]
"""


@pytest.fixture
def staff(signed_in: Any, platform_operator: Any) -> Client:
    client: Client = signed_in(platform_operator)
    return client


def _actions(action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action=action))


def _statements(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


def _template_body(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Support lead",
        "slug": "support-lead",
        "role": "operations",
        "description": "Answers customers.",
        "default_model_tier": "sonnet",
        "default_thinking_mode": "low",
        "allow": "web.search, mail.send",
        "deny": "",
        "avatar_icon": "",
        "is_published": "on",
        **extra,
    }


# --- Who may open it -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [ROOT, f"{ROOT}templates/new/", f"{ROOT}skills/new/"], ids=["list", "template", "skill"]
)
def test_catalogue_pages__tenant_owner__403_page(signed_in: Any, owner: Any, url: str) -> None:
    response = signed_in(owner).get(url)
    assert response.status_code == 403
    assert "This is for platform staff." in response.content.decode()


def test_catalogue_writes__tenant_owner__403_nothing_written(signed_in: Any, owner: Any) -> None:
    skill = SkillFactory.create(slug="kept", status="draft")
    client = signed_in(owner)
    assert client.post(f"{ROOT}templates/new/", _template_body()).status_code == 403
    assert client.post(f"{ROOT}skills/{skill.pk}/status/", {"status": "published"}).status_code == 403
    assert not AgentTemplate.objects.filter(slug="support-lead").exists()
    assert Skill.objects.get(pk=skill.pk).status == "draft"


def test_catalogue__signed_out__to_sign_in() -> None:
    response = Client().get(ROOT)
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


# --- The list ----------------------------------------------------------------------------------------


def test_catalogue__staff__templates_with_drafts_and_skills_with_statuses(staff: Client) -> None:
    template = TemplateFactory.create(name="Draft role", slug="draft-role", is_published=False)
    cookbook = CookbookFactory.create(template=template, name="Basics")
    RecipeFactory.create(cookbook=cookbook)
    RecipeFactory.create(cookbook=cookbook, is_active=False)
    SkillFactory.create(name="Old skill", slug="old-skill", status="deprecated")
    body = staff.get(ROOT).content.decode()
    assert "Draft role" in body
    assert 'Basics</a> <span class="muted small">(1 / 2)</span>' in body
    row = body[body.index('data-testid="skill-old-skill"') :]
    assert '<option value="deprecated" selected>' in row[: row.index("</tr>")]
    assert 'href="/platform/catalogue/" aria-current="page"' in body  # the Catalogue section


def test_catalogue__query_count__same_for_few_and_many(staff: Client) -> None:
    few = _statements(staff, ROOT)
    for _ in range(3):
        cookbook = CookbookFactory.create(template=TemplateFactory.create())
        RecipeFactory.create_batch(2, cookbook=cookbook)
    SkillFactory.create_batch(4)
    assert _statements(staff, ROOT) == few


# --- Templates and cookbooks ----------------------------------------------------------------------


def test_template_new__valid__created_with_its_tool_policy_and_audited(staff: Client) -> None:
    response = staff.post(f"{ROOT}templates/new/", _template_body())
    template = AgentTemplate.objects.get(slug="support-lead")
    assert (response.status_code, response["Location"]) == (302, f"{ROOT}templates/{template.pk}/")
    assert template.default_tool_policy == {"allow": ["web.search", "mail.send"], "deny": []}
    assert (template.role, template.is_published) == ("operations", True)
    assert [e.target_id for e in _actions("agent_template.created")] == [str(template.pk)]


def test_template_new__slug_taken_or_bad_policy__shown_in_place_nothing_created(staff: Client) -> None:
    TemplateFactory.create(slug="support-lead")
    response = staff.post(f"{ROOT}templates/new/", _template_body(name="Another"))
    assert response.status_code == 400
    assert "A template with this slug exists." in response.content.decode()
    response = staff.post(
        f"{ROOT}templates/new/", _template_body(slug="fresh", allow="web.search", deny="web.search")
    )
    assert response.status_code == 400
    assert "Tools both allowed and denied: web.search." in response.content.decode()
    assert not AgentTemplate.objects.filter(name="Another").exists()
    assert not AgentTemplate.objects.filter(slug="fresh").exists()


def test_template_edit__unpublish__saved_and_audited_with_the_change(staff: Client) -> None:
    template = TemplateFactory.create(name="SEO", slug="seo")
    page = staff.get(f"{ROOT}templates/{template.pk}/").content.decode()
    assert 'value="web.search"' in page  # the policy's allow list, as text
    body = _template_body(name="SEO", slug="seo", role="engineering", allow="web.search")
    body.pop("is_published")
    assert staff.post(f"{ROOT}templates/{template.pk}/", body).status_code == 302
    assert AgentTemplate.objects.get(pk=template.pk).is_published is False
    [entry] = _actions("agent_template.updated")
    assert entry.details["changes"]["is_published"] == {"old": True, "new": False}


def test_cookbook_new_and_edit__created_renamed_audited(staff: Client) -> None:
    template = TemplateFactory.create()
    response = staff.post(
        f"{ROOT}templates/{template.pk}/cookbooks/new/", {"name": "Audits", "capabilities": "crawl report"}
    )
    cookbook = Cookbook.objects.get(template=template)
    assert (response.status_code, response["Location"]) == (302, f"{ROOT}cookbooks/{cookbook.pk}/")
    assert cookbook.capabilities == ["crawl", "report"]
    duplicate = staff.post(f"{ROOT}templates/{template.pk}/cookbooks/new/", {"name": "Audits"})
    assert duplicate.status_code == 400
    assert "Cookbook with this Template and Name already exists." in duplicate.content.decode()
    assert staff.post(f"{ROOT}cookbooks/{cookbook.pk}/", {"name": "Site audits"}).status_code == 302
    assert Cookbook.objects.get(pk=cookbook.pk).name == "Site audits"
    assert len(_actions("cookbook.created")) == 1
    assert _actions("cookbook.updated")[0].details["changes"]["name"] == {
        "old": "Audits",
        "new": "Site audits",
    }


# --- Recipes -------------------------------------------------------------------------------------------


def test_recipe_new__valid_yaml__stored_parsed_and_audited(staff: Client) -> None:
    cookbook = CookbookFactory.create()
    response = staff.post(
        f"{ROOT}cookbooks/{cookbook.pk}/recipes/new/",
        {"name": "weekly", "version": "1.0.0", "definition": RECIPE_YAML, "is_active": "on"},
    )
    assert (response.status_code, response["Location"]) == (302, f"{ROOT}cookbooks/{cookbook.pk}/")
    recipe = Recipe.objects.get(cookbook=cookbook)
    assert [step["id"] for step in recipe.definition["steps"]] == ["gather", "write"]
    assert recipe.source == RECIPE_YAML
    assert [e.target_id for e in _actions("recipe.created")] == [str(recipe.pk)]


def test_recipe_new__bad_yaml__400_the_line_numbered_and_marked_nothing_stored(staff: Client) -> None:
    cookbook = CookbookFactory.create()
    response = staff.post(
        f"{ROOT}cookbooks/{cookbook.pk}/recipes/new/",
        {"name": "broken", "version": "1.0.0", "definition": BAD_YAML, "is_active": "on"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "YAML error at line 7, column" in body
    assert '<strong data-testid="yaml-error-line-number">7</strong>' in body
    marked = body.split('data-testid="yaml-error-line"', 1)[1].split("</li>", 1)[0]
    assert '<span class="line-no">7</span><mark>     action: prompt</mark>' in marked
    assert body.count('data-testid="yaml-error-line"') == 1
    assert "name: broken" in body  # the source stays in the textarea, to fix
    assert not Recipe.objects.filter(cookbook=cookbook).exists()


def test_recipe_new__schema_fault__the_line_of_that_step_marked(staff: Client) -> None:
    cookbook = CookbookFactory.create()
    response = staff.post(
        f"{ROOT}cookbooks/{cookbook.pk}/recipes/new/",
        {"name": "needs", "version": "1.0.0", "definition": BAD_STEP},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Line 5: step &#x27;write&#x27; needs &#x27;later&#x27;" in body
    marked = body.split('data-testid="yaml-error-line"', 1)[1].split("</li>", 1)[0]
    assert '<span class="line-no">5</span><mark>  - id: write</mark>' in marked


def test_recipe_new_version__from_an_old_one__prefilled_and_both_kept(staff: Client) -> None:
    cookbook = CookbookFactory.create()
    old = RecipeFactory.create(cookbook=cookbook, name="weekly", version="1.2.3")
    page = staff.get(f"{ROOT}cookbooks/{cookbook.pk}/recipes/new/?from={old.pk}").content.decode()
    assert 'value="1.3.0"' in page
    assert "name: weekly-report" in page  # the old source, to start from
    assert staff.get(f"{ROOT}cookbooks/{cookbook.pk}/recipes/new/?from=nonsense").status_code == 404
    staff.post(
        f"{ROOT}cookbooks/{cookbook.pk}/recipes/new/",
        {"name": "weekly", "version": "1.3.0", "definition": RECIPE_YAML, "is_active": "on"},
    )
    assert sorted(Recipe.objects.filter(cookbook=cookbook).values_list("version", flat=True)) == [
        "1.2.3",
        "1.3.0",
    ]
    again = staff.post(
        f"{ROOT}cookbooks/{cookbook.pk}/recipes/new/",
        {"name": "weekly", "version": "1.3.0", "definition": RECIPE_YAML},
    )
    assert again.status_code == 400
    assert "Recipe with this Cookbook, Name and Version already exists." in again.content.decode()


def test_recipe_active__off_then_on__audited(staff: Client) -> None:
    recipe = RecipeFactory.create()
    assert staff.post(f"{ROOT}recipes/{recipe.pk}/active/", {"active": "0"}).status_code == 302
    assert Recipe.objects.get(pk=recipe.pk).is_active is False
    staff.post(f"{ROOT}recipes/{recipe.pk}/active/", {"active": "1"})
    assert Recipe.objects.get(pk=recipe.pk).is_active is True
    assert (len(_actions("recipe.deactivated")), len(_actions("recipe.activated"))) == (1, 1)


def test_source_listing__line_past_the_end__the_last_line() -> None:
    assert source_listing("a: 1\nb: [", "YAML error at line 3, column 1: x") == (
        2,
        [(1, "a: 1"), (2, "b: [")],
    )
    assert source_listing("a: 1", "no line here") == (None, [(1, "a: 1")])


# --- Skills --------------------------------------------------------------------------------------------


def test_skill_new__draft_by_default_audited(staff: Client) -> None:
    response = staff.post(
        f"{ROOT}skills/new/",
        {
            "name": "Summariser",
            "slug": "summariser",
            "category": "productivity",
            "version": "1.0.0",
            "compatible_roles": ["pm", "operations"],
            "permissions": "docs:read",
            "status": "draft",
        },
    )
    assert (response.status_code, response["Location"]) == (302, ROOT)
    skill = Skill.objects.get(slug="summariser")
    assert (skill.status, skill.compatible_roles, skill.permissions) == (
        "draft",
        ["pm", "operations"],
        ["docs:read"],
    )
    assert [e.target_id for e in _actions("skill.created")] == [str(skill.pk)]


def test_skill_status__publish_deprecate_remove__each_audited_marketplace_follows(
    staff: Client, signed_in: Any, tenant: Any, owner: Any
) -> None:
    skill = SkillFactory.create(name="Summariser", slug="summariser", status="draft")
    market = signed_in(owner)
    assert "Summariser" not in market.get(f"/t/{tenant.pk}/skills/").content.decode()
    response = staff.post(f"{ROOT}skills/{skill.pk}/status/", {"status": "published"})
    assert (response.status_code, response["Location"]) == (302, f"{ROOT}#skill-summariser")
    assert "Summariser" in market.get(f"/t/{tenant.pk}/skills/").content.decode()
    staff.post(f"{ROOT}skills/{skill.pk}/status/", {"status": "deprecated"})
    staff.post(f"{ROOT}skills/{skill.pk}/status/", {"status": "removed"})
    assert Skill.objects.get(pk=skill.pk).status == "removed"
    assert "Summariser" not in market.get(f"/t/{tenant.pk}/skills/").content.decode()
    assert [len(_actions(f"skill.{a}")) for a in ("published", "deprecated", "removed")] == [1, 1, 1]
    assert staff.post(f"{ROOT}skills/{skill.pk}/status/", {"status": "gone"}).status_code == 302
    assert Skill.objects.get(pk=skill.pk).status == "removed"


def test_skill_edit__new_version__saved_slug_never_renamed(staff: Client) -> None:
    skill = SkillFactory.create(name="Summariser", slug="summariser", category="productivity")
    response = staff.post(
        f"{ROOT}skills/{skill.pk}/",
        {
            "name": "Summariser",
            "slug": "renamed",
            "category": "productivity",
            "version": "2.0.0",
            "status": "published",
        },
    )
    assert response.status_code == 302
    skill = Skill.objects.get(pk=skill.pk)
    assert (skill.slug, skill.version) == ("summariser", "2.0.0")
    bad = staff.post(
        f"{ROOT}skills/{skill.pk}/",
        {"name": "S", "category": "productivity", "version": "two", "status": "published"},
    )
    assert bad.status_code == 400
    assert Skill.objects.get(pk=skill.pk).version == "2.0.0"


def test_catalogue__unknown_ids__404_pages(staff: Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for url in (
        f"{ROOT}templates/{missing}/",
        f"{ROOT}cookbooks/{missing}/",
        f"{ROOT}cookbooks/{missing}/recipes/new/",
        f"{ROOT}skills/{missing}/",
    ):
        assert staff.get(url).status_code == 404, url
    assert staff.post(f"{ROOT}recipes/{missing}/active/", {"active": "1"}).status_code == 404
