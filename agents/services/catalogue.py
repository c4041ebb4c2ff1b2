"""Writes on the platform's catalogue (templates, cookbooks, recipes, skills): platform staff
only (the API checks), one transaction each, audited inside it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from agents.models import AgentTemplate, Cookbook, Recipe, Skill, SkillStatus
from agents.recipes import parse_recipe
from agents.services.common import save_unique, snapshot
from audit.services import audit_record, changes
from core.errors import full_clean_or_invalid

TEMPLATE_FIELDS = [
    "name",
    "slug",
    "role",
    "description",
    "default_model_tier",
    "default_thinking_mode",
    "default_tool_policy",
    "avatar_icon",
    "is_published",
]
COOKBOOK_FIELDS = ["name", "description", "capabilities"]
_STATUS_ACTIONS: dict[str, str] = {
    SkillStatus.PUBLISHED: "skill.published",
    SkillStatus.DEPRECATED: "skill.deprecated",
    SkillStatus.REMOVED: "skill.removed",
}
SKILL_FIELDS = ["name", "description", "category", "version", "compatible_roles", "permissions", "status"]


@transaction.atomic
def template_create(*, actor: User | None, data: dict[str, Any]) -> AgentTemplate:
    """Add an agent template to the catalogue."""
    template = AgentTemplate(**data)
    full_clean_or_invalid(template, validate_unique=False)
    save_unique(template, "slug", "A template with this slug exists.")
    audit_record(
        action="agent_template.created", target=template, details={"slug": template.slug}, actor=actor
    )
    return template


@transaction.atomic
def template_update(*, template: AgentTemplate, actor: User | None, data: dict[str, Any]) -> AgentTemplate:
    """Change a template; agents made from it keep what they were made with."""
    template = AgentTemplate.objects.select_for_update().get(pk=template.pk)
    before = snapshot(template, TEMPLATE_FIELDS)
    for field, value in data.items():
        setattr(template, field, value)
    full_clean_or_invalid(template, validate_unique=False)
    save_unique(template, "slug", "A template with this slug exists.")
    diff = changes(before, snapshot(template, TEMPLATE_FIELDS))
    if diff:
        audit_record(action="agent_template.updated", target=template, details={"changes": diff}, actor=actor)
    return template


@transaction.atomic
def cookbook_create(*, template: AgentTemplate, actor: User | None, data: dict[str, Any]) -> Cookbook:
    """Add a cookbook to a template."""
    cookbook = Cookbook(template=template, **data)
    full_clean_or_invalid(cookbook, validate_unique=False)
    save_unique(cookbook, "name", "This template has a cookbook of that name.")
    audit_record(action="cookbook.created", target=cookbook, details={"template": template.slug}, actor=actor)
    return cookbook


@transaction.atomic
def cookbook_update(*, cookbook: Cookbook, actor: User | None, data: dict[str, Any]) -> Cookbook:
    """Change a cookbook's name, description or capabilities (its recipes stay)."""
    cookbook = Cookbook.objects.select_for_update().get(pk=cookbook.pk)
    before = snapshot(cookbook, COOKBOOK_FIELDS)
    for field, value in data.items():
        setattr(cookbook, field, value)
    full_clean_or_invalid(cookbook, validate_unique=False)
    save_unique(cookbook, "name", "This template has a cookbook of that name.")
    diff = changes(before, snapshot(cookbook, COOKBOOK_FIELDS))
    if diff:
        audit_record(action="cookbook.updated", target=cookbook, details={"changes": diff}, actor=actor)
    return cookbook


@transaction.atomic
def recipe_create(
    *,
    cookbook: Cookbook,
    actor: User | None,
    name: str,
    definition: str,
    version: str = "1.0.0",
    input_schema: dict[str, Any] | None = None,
    is_active: bool = True,
) -> Recipe:
    """Add a recipe (a new version of one, if the name exists) from its YAML: parsed, validated
    (a 400 naming the line) and stored parsed beside the source."""
    parsed = parse_recipe(definition)
    recipe = Recipe(
        cookbook=cookbook,
        name=name,
        version=version,
        source=definition,
        definition=parsed,
        input_schema=input_schema or parsed.get("inputs", {}),
        is_active=is_active,
    )
    full_clean_or_invalid(recipe, validate_unique=False)
    save_unique(recipe, "version", "This recipe already has that version.")
    audit_record(
        action="recipe.created", target=recipe, details={"name": name, "version": version}, actor=actor
    )
    return recipe


@transaction.atomic
def recipe_set_active(*, recipe: Recipe, actor: User | None, is_active: bool) -> Recipe:
    """Turn a recipe version on or off."""
    if recipe.is_active != is_active:
        Recipe.objects.filter(pk=recipe.pk).update(is_active=is_active)
        recipe.is_active = is_active
        audit_record(
            action="recipe.activated" if is_active else "recipe.deactivated", target=recipe, actor=actor
        )
    return recipe


@transaction.atomic
def skill_create(*, actor: User | None, data: dict[str, Any]) -> Skill:
    """Add a skill to the marketplace (a draft unless said otherwise)."""
    skill = Skill(**data)
    full_clean_or_invalid(skill, validate_unique=False)
    save_unique(skill, "slug", "A skill with this slug exists.")
    audit_record(
        action="skill.created",
        target=skill,
        details={"slug": skill.slug, "version": skill.version},
        actor=actor,
    )
    return skill


@transaction.atomic
def skill_update(*, skill: Skill, actor: User | None, data: dict[str, Any]) -> Skill:
    """Change a skill: a new version, a status (publish, deprecate, remove), its metadata.
    Installations keep the version they pinned."""
    skill = Skill.objects.select_for_update().get(pk=skill.pk)
    before = snapshot(skill, SKILL_FIELDS)
    for field, value in data.items():
        setattr(skill, field, value)
    full_clean_or_invalid(skill, validate_unique=False)
    skill.save()
    diff = changes(before, snapshot(skill, SKILL_FIELDS))
    if diff:
        action = "skill.updated"
        if "status" in diff:
            action = _STATUS_ACTIONS.get(skill.status, action)
        audit_record(action=action, target=skill, details={"changes": diff}, actor=actor)
    return skill
