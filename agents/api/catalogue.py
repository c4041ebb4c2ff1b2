"""The catalogue over HTTP: everyone signed in reads (templates, cookbooks, recipes, skills);
platform staff write, under /api/v1/platform/catalogue/."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents import selectors, services
from agents.api.common import (
    AgentTemplateOutput,
    CookbookOutput,
    Input,
    RecipeOutput,
    SkillOutput,
    filters_of,
)
from agents.models import (
    AgentRole,
    AgentTemplate,
    Cookbook,
    Skill,
    SkillCategory,
    SkillStatus,
    ThinkingMode,
    validate_string_list,
    validate_tool_policy,
)
from billing.models import ModelTier
from core.api import PLATFORM_STAFF, BaseApi, PlatformApi
from core.errors import NotFound


def _staff(request: Request) -> bool:
    return bool(getattr(request.user, "is_platform_staff", False)) and not getattr(
        request.auth, "is_api_key", False
    )


class TemplateListApi(BaseApi):
    """The agent templates (published ones; platform staff see drafts too)."""

    @extend_schema(responses=AgentTemplateOutput(many=True), operation_id="agent_templates_list")
    def get(self, request: Request) -> Response:
        return Response(
            AgentTemplateOutput(selectors.template_list(published_only=not _staff(request)), many=True).data
        )


class TemplateDetailApi(BaseApi):
    @extend_schema(responses=AgentTemplateOutput, operation_id="agent_template_get")
    def get(self, request: Request, template_id: Any) -> Response:
        template = selectors.template_list(published_only=not _staff(request)).filter(pk=template_id).first()
        if template is None:
            raise NotFound()
        return Response(AgentTemplateOutput(template).data)


class CookbookListApi(BaseApi):
    @extend_schema(
        responses=CookbookOutput(many=True),
        parameters=[OpenApiParameter("template", str, OpenApiParameter.QUERY)],
        operation_id="cookbooks_list",
    )
    def get(self, request: Request) -> Response:
        qs = selectors.cookbook_list(published_only=not _staff(request))
        template = request.query_params.get("template")
        if template:
            qs = qs.filter(template_id=_filter_id(template, "template"))
        return Response(CookbookOutput(qs, many=True).data)


class RecipeListApi(BaseApi):
    @extend_schema(
        responses=RecipeOutput(many=True),
        parameters=[OpenApiParameter("cookbook", str, OpenApiParameter.QUERY)],
        operation_id="recipes_list",
    )
    def get(self, request: Request) -> Response:
        qs = selectors.recipe_list(published_only=not _staff(request))
        cookbook = request.query_params.get("cookbook")
        if cookbook:
            qs = qs.filter(cookbook_id=_filter_id(cookbook, "cookbook"))
        return Response(RecipeOutput(qs, many=True).data)


class SkillListApi(BaseApi):
    """The skill marketplace (published and deprecated skills; staff see all)."""

    @extend_schema(
        responses=SkillOutput(many=True),
        parameters=[
            OpenApiParameter("category", str, OpenApiParameter.QUERY),
            OpenApiParameter("role", str, OpenApiParameter.QUERY),
        ],
        operation_id="skills_list",
    )
    def get(self, request: Request) -> Response:
        f = filters_of(request, ("category", "role"))
        qs = selectors.skill_list(visible_only=not _staff(request), **f)
        return Response(SkillOutput(qs, many=True).data)


class SkillRateInput(Input):
    stars = serializers.IntegerField(min_value=1, max_value=5)


class SkillRateApi(BaseApi):
    """Rate a marketplace skill 1-5 (one rating per person; rating again replaces it)."""

    @extend_schema(request=SkillRateInput, responses=SkillOutput, operation_id="skill_rate")
    def post(self, request: Request, skill_id: Any) -> Response:
        data = SkillRateInput(data=request.data)
        data.is_valid(raise_exception=True)
        skill = self.get_or_404(selectors.skill_list(), pk=skill_id)
        skill = services.skill_rate(skill=skill, user=self.user, stars=data.validated_data["stars"])
        return Response(SkillOutput(skill).data)


def _filter_id(value: str, name: str) -> Any:
    """A query parameter that names a row by id: not an id at all is a 400 naming it."""
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise serializers.ValidationError({name: ["Not a valid id."]}, code="invalid") from exc


# --- Platform staff: writes --------------------------------------------------------------------


class AgentTemplateInput(Input):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=50)
    role = serializers.ChoiceField(choices=AgentRole.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    default_model_tier = serializers.ChoiceField(choices=ModelTier.choices, required=False)
    default_thinking_mode = serializers.ChoiceField(choices=ThinkingMode.choices, required=False)
    default_tool_policy = serializers.JSONField(required=False, validators=[validate_tool_policy])
    avatar_icon = serializers.CharField(required=False, allow_blank=True, max_length=64)
    is_published = serializers.BooleanField(required=False)


class PlatformTemplateCreateApi(PlatformApi):
    permission_map = {"POST": PLATFORM_STAFF}

    @extend_schema(
        request=AgentTemplateInput,
        responses={201: AgentTemplateOutput},
        operation_id="platform_agent_template_create",
    )
    def post(self, request: Request) -> Response:
        data = AgentTemplateInput(data=request.data)
        data.is_valid(raise_exception=True)
        template = services.template_create(actor=self.user, data=dict(data.validated_data))
        return Response(AgentTemplateOutput(template).data, status=status.HTTP_201_CREATED)


class PlatformTemplateDetailApi(PlatformApi):
    permission_map = {"PATCH": PLATFORM_STAFF}

    @extend_schema(
        request=AgentTemplateInput(partial=True),
        responses=AgentTemplateOutput,
        operation_id="platform_agent_template_update",
    )
    def patch(self, request: Request, template_id: Any) -> Response:
        template = self.get_or_404(AgentTemplate.objects.all(), pk=template_id)
        data = AgentTemplateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        template = services.template_update(
            template=template, actor=self.user, data=dict(data.validated_data)
        )
        return Response(AgentTemplateOutput(template).data)


class CookbookWriteInput(Input):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    capabilities = serializers.JSONField(required=False, validators=[validate_string_list])


class PlatformCookbookCreateApi(PlatformApi):
    permission_map = {"POST": PLATFORM_STAFF}

    @extend_schema(
        request=CookbookWriteInput, responses={201: CookbookOutput}, operation_id="platform_cookbook_create"
    )
    def post(self, request: Request, template_id: Any) -> Response:
        template = self.get_or_404(AgentTemplate.objects.all(), pk=template_id)
        data = CookbookWriteInput(data=request.data)
        data.is_valid(raise_exception=True)
        cookbook = services.cookbook_create(
            template=template, actor=self.user, data=dict(data.validated_data)
        )
        return Response(CookbookOutput(cookbook).data, status=status.HTTP_201_CREATED)


class RecipeWriteInput(Input):
    name = serializers.CharField(max_length=200)
    version = serializers.CharField(max_length=64, required=False)
    definition = serializers.CharField(max_length=100_000, help_text="The recipe in YAML (agents.recipes).")
    input_schema = serializers.JSONField(required=False)
    is_active = serializers.BooleanField(required=False)


class PlatformRecipeCreateApi(PlatformApi):
    permission_map = {"POST": PLATFORM_STAFF}

    @extend_schema(
        request=RecipeWriteInput, responses={201: RecipeOutput}, operation_id="platform_recipe_create"
    )
    def post(self, request: Request, cookbook_id: Any) -> Response:
        cookbook = self.get_or_404(Cookbook.objects.all(), pk=cookbook_id)
        data = RecipeWriteInput(data=request.data)
        data.is_valid(raise_exception=True)
        recipe = services.recipe_create(cookbook=cookbook, actor=self.user, **data.validated_data)
        return Response(RecipeOutput(recipe).data, status=status.HTTP_201_CREATED)


class SkillWriteInput(Input):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=50)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    category = serializers.ChoiceField(choices=SkillCategory.choices)
    version = serializers.CharField(max_length=64)
    compatible_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=AgentRole.choices), required=False, max_length=10
    )
    permissions = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=50
    )
    status = serializers.ChoiceField(choices=SkillStatus.choices, required=False)


class PlatformSkillCreateApi(PlatformApi):
    permission_map = {"POST": PLATFORM_STAFF}

    @extend_schema(
        request=SkillWriteInput, responses={201: SkillOutput}, operation_id="platform_skill_create"
    )
    def post(self, request: Request) -> Response:
        data = SkillWriteInput(data=request.data)
        data.is_valid(raise_exception=True)
        skill = services.skill_create(actor=self.user, data=dict(data.validated_data))
        return Response(SkillOutput(skill).data, status=status.HTTP_201_CREATED)


class PlatformSkillDetailApi(PlatformApi):
    permission_map = {"PATCH": PLATFORM_STAFF}

    @extend_schema(
        request=SkillWriteInput(partial=True), responses=SkillOutput, operation_id="platform_skill_update"
    )
    def patch(self, request: Request, skill_id: Any) -> Response:
        skill = self.get_or_404(Skill.objects.all(), pk=skill_id)
        data = SkillWriteInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "slug" in data.validated_data and data.validated_data["slug"] != skill.slug:
            data.validated_data.pop("slug")  # a skill's slug is its identity: never renamed
        skill = services.skill_update(skill=skill, actor=self.user, data=dict(data.validated_data))
        return Response(SkillOutput(skill).data)
