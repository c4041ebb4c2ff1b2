"""The catalogue (platform-wide, no tenant, no row-level security): templates, cookbooks,
recipes and skills."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from agents.models.common import (
    SEMVER_VALIDATOR,
    SLUG_VALIDATOR,
    AgentRole,
    SkillCategory,
    SkillStatus,
    ThinkingMode,
    default_tool_policy,
    validate_string_list,
    validate_tool_policy,
)
from billing.models import ModelTier
from core.models import BaseModel


class AgentTemplate(BaseModel):
    """A role agents can be made from ("SEO specialist"), with the defaults it brings."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    role = models.CharField(max_length=16, choices=AgentRole.choices, default=AgentRole.CUSTOM)
    description = models.TextField(blank=True)
    default_model_tier = models.CharField(max_length=8, choices=ModelTier.choices, default=ModelTier.SONNET)
    default_thinking_mode = models.CharField(
        max_length=8, choices=ThinkingMode.choices, default=ThinkingMode.OFF
    )
    default_tool_policy = models.JSONField(default=default_tool_policy, validators=[validate_tool_policy])
    avatar_icon = models.CharField(max_length=64, blank=True)
    is_published = models.BooleanField(default=False)

    class Meta(BaseModel.Meta):
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Cookbook(BaseModel):
    """A capability bundle of a template: what agents made from it know how to do."""

    template = models.ForeignKey(AgentTemplate, on_delete=models.CASCADE, related_name="cookbooks")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    capabilities = models.JSONField(default=list, blank=True, validators=[validate_string_list])

    class Meta(BaseModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["template", "name"], name="cookbook_name_unique_per_template")
        ]

    def __str__(self) -> str:
        return self.name


class Recipe(BaseModel):
    """An executable workflow of a cookbook. `source` is the YAML as submitted; `definition` the
    same, parsed and validated against agents.recipes.RECIPE_SCHEMA."""

    cookbook = models.ForeignKey(Cookbook, on_delete=models.CASCADE, related_name="recipes")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=64, validators=[SEMVER_VALIDATOR], default="1.0.0")
    source = models.TextField()
    definition = models.JSONField(default=dict)
    input_schema = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta(BaseModel.Meta):
        ordering = ["name", "-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cookbook", "name", "version"], name="recipe_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Skill(BaseModel):
    """A skill of the marketplace. install_count is kept exact by F() updates under the
    installation's transaction; rating is the mean of rating_total over rating_count."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    description = models.TextField(blank=True)
    category = models.CharField(max_length=16, choices=SkillCategory.choices)
    version = models.CharField(max_length=64, validators=[SEMVER_VALIDATOR])
    compatible_roles = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    permissions = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    status = models.CharField(max_length=16, choices=SkillStatus.choices, default=SkillStatus.DRAFT)
    rating = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0"))
    rating_count = models.PositiveIntegerField(default=0)
    rating_total = models.PositiveBigIntegerField(default=0)
    install_count = models.PositiveIntegerField(default=0)

    class Meta(BaseModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=0, rating__lte=5), name="skill_rating_0_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def compatible_with(self, role: str) -> bool:
        """Empty compatible_roles: every role."""
        return not self.compatible_roles or role in self.compatible_roles


class SkillRating(BaseModel):
    """One user's rating of a skill (1-5); rating again replaces it."""

    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    stars = models.PositiveSmallIntegerField()

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["skill", "user"], name="skill_rating_one_per_user"),
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="skill_rating_stars_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.stars}★"
