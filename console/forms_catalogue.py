"""Forms of the platform staff's catalogue editor (templates, cookbooks, recipes, skills): they
check the shape of input and turn lists typed as text into lists; agents.services.catalogue
decides the rest (unique slugs and names, the tool policy, a recipe's YAML, semver) and its
refusals are shown in place."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from agents.models import AgentRole, AgentTemplate, Cookbook, Skill, SkillCategory, SkillStatus, ThinkingMode
from agents.recipes import MAX_SOURCE_CHARS
from billing.models import ModelTier

MAX_ITEMS = 200
_SPLIT = re.compile(r"[\s,]+")


def words(value: str) -> list[str]:
    """A list typed as text (commas, spaces or lines between items), without repeats."""
    seen: dict[str, None] = {}
    for item in _SPLIT.split(value.strip()):
        if item:
            seen.setdefault(item, None)
    return list(seen)


class ListField(forms.CharField):
    """A list of short names typed as text; cleaned to a list of strings."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 10_000)
        kwargs.setdefault("help_text", "Separated by commas or spaces.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def clean(self, value: Any) -> list[str]:
        items = words(super().clean(value) or "")
        if len(items) > MAX_ITEMS:
            raise forms.ValidationError(f"At most {MAX_ITEMS} items.")
        if any(len(item) > 100 for item in items):
            raise forms.ValidationError("Each item is at most 100 characters.")
        return items


class TemplateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    slug = forms.SlugField(label="Slug", max_length=50, help_text="Lower-case letters, digits, dashes.")
    role = forms.ChoiceField(label="Role", choices=AgentRole.choices, initial=AgentRole.CUSTOM)
    description = forms.CharField(label="Description", required=False, max_length=5000, widget=forms.Textarea)
    default_model_tier = forms.ChoiceField(label="Default model tier", choices=ModelTier.choices)
    default_thinking_mode = forms.ChoiceField(label="Default thinking mode", choices=ThinkingMode.choices)
    allow = ListField(label="Tools allowed", help_text="Tool names (* wildcards), separated by commas.")
    deny = ListField(label="Tools denied", help_text="Tool names (* wildcards), separated by commas.")
    avatar_icon = forms.CharField(label="Icon", required=False, max_length=64)
    is_published = forms.BooleanField(label="Published (tenants see it)", required=False)

    @classmethod
    def initial_of(cls, template: AgentTemplate) -> dict[str, Any]:
        policy = template.default_tool_policy or {}
        return {
            **{name: getattr(template, name) for name in cls.base_fields if hasattr(template, name)},
            "allow": policy.get("allow", []),
            "deny": policy.get("deny", []),
        }

    def values(self) -> dict[str, Any]:
        """The service's `data`: the fields, the two lists as the tool policy."""
        data = dict(self.cleaned_data)
        data["default_tool_policy"] = {"allow": data.pop("allow"), "deny": data.pop("deny")}
        return data


class CookbookForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(label="Description", required=False, max_length=5000, widget=forms.Textarea)
    capabilities = ListField(label="Capabilities")

    @classmethod
    def initial_of(cls, cookbook: Cookbook) -> dict[str, Any]:
        return {name: getattr(cookbook, name) for name in cls.base_fields}


class RecipeForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    version = forms.RegexField(
        label="Version",
        regex=r"^\d+\.\d+\.\d+$",
        max_length=64,
        initial="1.0.0",
        help_text="Semantic version; a new version of a recipe keeps the old ones.",
    )
    definition = forms.CharField(
        label="Definition (YAML)",
        max_length=MAX_SOURCE_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "yaml-source"}),
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)


class SkillForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    slug = forms.SlugField(label="Slug", max_length=50, help_text="Fixed once the skill exists.")
    description = forms.CharField(label="Description", required=False, max_length=5000, widget=forms.Textarea)
    category = forms.ChoiceField(label="Category", choices=SkillCategory.choices)
    version = forms.RegexField(label="Version", regex=r"^\d+\.\d+\.\d+$", max_length=64, initial="1.0.0")
    compatible_roles = forms.MultipleChoiceField(
        label="For roles",
        choices=AgentRole.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every role.",
    )
    permissions = ListField(label="Permissions it needs")
    status = forms.ChoiceField(label="Status", choices=SkillStatus.choices, initial=SkillStatus.DRAFT)

    @classmethod
    def initial_of(cls, skill: Skill) -> dict[str, Any]:
        return {name: getattr(skill, name) for name in cls.base_fields}


class SkillStatusForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=SkillStatus.choices)
