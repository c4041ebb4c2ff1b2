"""The catalogue seeded by migration 0002: listed by the catalogue API to anyone signed in, every
recipe valid against the recipe schema, the seed idempotent and reversible."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps

from agents.models import AgentRole, AgentTemplate, Cookbook, Recipe, Skill, SkillStatus, semver_key
from agents.recipes import parse_recipe
from agents.tests.factories import AgentFactory, InstallationFactory
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db

seed_migration = importlib.import_module("agents.migrations.0002_seed_catalogue")
TEMPLATE_SLUGS = sorted(t["slug"] for t in seed_migration.TEMPLATES)
SKILL_SLUGS = sorted(s["slug"] for s in seed_migration.SKILLS)


def _catalogue() -> dict[str, int]:
    return {
        "templates": AgentTemplate.objects.count(),
        "cookbooks": Cookbook.objects.count(),
        "recipes": Recipe.objects.count(),
        "skills": Skill.objects.count(),
    }


def test_catalogue_seed__migrated_database__every_role_and_several_skills(db: Any) -> None:
    templates = AgentTemplate.objects.filter(slug__in=TEMPLATE_SLUGS)
    skills = Skill.objects.filter(slug__in=SKILL_SLUGS)

    assert 4 <= templates.count() == len(TEMPLATE_SLUGS) <= 6
    assert {t.role for t in templates} == set(AgentRole.values)
    assert all(t.is_published for t in templates)
    assert 6 <= skills.count() == len(SKILL_SLUGS) <= 8
    assert [s.slug for s in skills if s.status == SkillStatus.DEPRECATED] == ["email-drafts"]
    assert len({s.category for s in skills}) >= 3
    for skill in skills:
        semver_key(skill.version)  # raises on a version that is not semver
        assert set(skill.compatible_roles) <= set(AgentRole.values), skill.slug
    assert Cookbook.objects.filter(template__slug__in=TEMPLATE_SLUGS).count() == 2
    assert Recipe.objects.filter(cookbook__template__slug__in=TEMPLATE_SLUGS).count() == 3


def test_catalogue_seed__every_recipe__parses_to_its_stored_definition(db: Any) -> None:
    recipes = list(Recipe.objects.filter(cookbook__template__slug__in=TEMPLATE_SLUGS))

    assert len(recipes) == 3
    for recipe in recipes:
        definition = parse_recipe(recipe.source)
        assert definition == recipe.definition, recipe.name
        assert definition["name"] == recipe.name
        assert recipe.input_schema == definition["inputs"]
        assert len(definition["steps"]) >= 3
        semver_key(recipe.version)


def test_catalogue_api__a_plain_member__lists_the_seeded_catalogue(as_user: Any, teammate: Any) -> None:
    client = as_user(teammate)

    templates = client.get("/api/v1/catalogue/templates/")
    skills = client.get("/api/v1/catalogue/skills/")
    cookbooks = client.get("/api/v1/catalogue/cookbooks/")
    recipes = client.get("/api/v1/catalogue/recipes/")

    assert templates.status_code == skills.status_code == cookbooks.status_code == recipes.status_code == 200
    by_slug = {t["slug"]: t for t in templates.json()}
    assert set(TEMPLATE_SLUGS) <= set(by_slug)
    reviewer = by_slug["code-reviewer"]
    assert (reviewer["role"], reviewer["default_model_tier"], reviewer["default_thinking_mode"]) == (
        "engineering",
        "opus",
        "high",
    )
    assert reviewer["default_tool_policy"]["deny"] == ["git.push"]
    listed = {s["slug"]: s["status"] for s in skills.json()}
    assert {slug: listed[slug] for slug in SKILL_SLUGS} == {
        slug: ("deprecated" if slug == "email-drafts" else "published") for slug in SKILL_SLUGS
    }
    assert {"Planning", "On call"} <= {c["name"] for c in cookbooks.json()}
    assert {"weekly-status", "spec-from-feedback", "triage-alert"} <= {r["name"] for r in recipes.json()}


def test_catalogue_seed__run_again__adds_and_changes_nothing(db: Any) -> None:
    before = _catalogue()
    AgentTemplate.objects.filter(slug="code-reviewer").update(description="Edited by platform staff.")

    seed_migration.seed(django_apps, None)

    assert _catalogue() == before
    assert AgentTemplate.objects.get(slug="code-reviewer").description == "Edited by platform staff."


def test_catalogue_seed__reversed__removes_it_but_installed_skills_and_agents(db: Any) -> None:
    template = AgentTemplate.objects.get(slug="code-reviewer")
    agent = AgentFactory.create(template=template, role="engineering")
    installed = Skill.objects.get(slug="github-reviewer")
    InstallationFactory.create(agent=agent, skill=installed, version=installed.version)

    seed_migration.unseed(django_apps, None)

    assert not AgentTemplate.objects.filter(slug__in=TEMPLATE_SLUGS).exists()
    assert not Recipe.objects.filter(name="weekly-status").exists()
    assert list(Skill.objects.filter(slug__in=SKILL_SLUGS).values_list("slug", flat=True)) == [
        "github-reviewer"
    ]
    with platform_bypass(reason="test", log=False):
        agent.refresh_from_db()
    assert agent.template_id is None
    assert agent.role == "engineering"

    seed_migration.seed(django_apps, None)
    assert AgentTemplate.objects.filter(slug__in=TEMPLATE_SLUGS).count() == len(TEMPLATE_SLUGS)
