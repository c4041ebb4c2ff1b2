"""What the agents API's views share: a strict input base, the outputs, the idempotency key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request

from agents.models import (
    Agent,
    AgentSession,
    AgentTask,
    AgentTemplate,
    Cookbook,
    Recipe,
    Skill,
    SkillInstallation,
)
from agents.selectors import TreeNode
from core.hygiene import DecimalField

IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"


class Input(serializers.Serializer):
    """A body serializer that refuses fields it does not take (400, code unknown_field), so a
    mass-assignment attempt (`"status"`, `"tenant"`) cannot pass silently."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            refused = sorted(str(key) for key in data if key not in writable)
            if refused:
                raise ValidationError(
                    {key: [ErrorDetail("Unknown field.", code="unknown_field")] for key in refused}
                )
        return super().to_internal_value(data)


def idempotency_key_of(request: Request, body: Mapping[str, Any]) -> str | None:
    """The Idempotency-Key header, else the body's `idempotency_key`."""
    return request.META.get(IDEMPOTENCY_HEADER) or body.get("idempotency_key") or None


def filters_of(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    return {name: request.query_params[name] for name in names if request.query_params.get(name)}


# --- Outputs (render only) ---------------------------------------------------------------------


class AgentTemplateOutput(serializers.ModelSerializer[AgentTemplate]):
    class Meta:
        model = AgentTemplate
        fields = [
            "id",
            "name",
            "slug",
            "role",
            "description",
            "default_model_tier",
            "default_thinking_mode",
            "default_tool_policy",
            "avatar_icon",
            "is_published",
            "created_at",
            "updated_at",
        ]


class CookbookOutput(serializers.ModelSerializer[Cookbook]):
    class Meta:
        model = Cookbook
        fields = ["id", "template", "name", "description", "capabilities", "created_at"]


class RecipeOutput(serializers.ModelSerializer[Recipe]):
    class Meta:
        model = Recipe
        fields = [
            "id",
            "cookbook",
            "name",
            "version",
            "definition",
            "input_schema",
            "is_active",
            "created_at",
        ]


class SkillOutput(serializers.ModelSerializer[Skill]):
    class Meta:
        model = Skill
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "category",
            "version",
            "compatible_roles",
            "permissions",
            "status",
            "rating",
            "rating_count",
            "install_count",
            "created_at",
            "updated_at",
        ]


class AgentOutput(serializers.ModelSerializer[Agent]):
    class Meta:
        model = Agent
        fields = [
            "id",
            "name",
            "description",
            "avatar_icon",
            "role",
            "status",
            "status_reason",
            "status_changed_at",
            "team",
            "template",
            "model_tier",
            "thinking_mode",
            "tool_policy",
            "assisted_user",
            "configuration",
            "last_active_at",
            "created_by",
            "created_at",
            "updated_at",
        ]


class InstallationOutput(serializers.ModelSerializer[SkillInstallation]):
    skill_slug = serializers.CharField(source="skill.slug", read_only=True)
    skill_name = serializers.CharField(source="skill.name", read_only=True)

    class Meta:
        model = SkillInstallation
        fields = [
            "id",
            "agent",
            "skill",
            "skill_slug",
            "skill_name",
            "version",
            "config",
            "installed_by",
            "installed_at",
        ]


class AgentSessionOutput(serializers.ModelSerializer[AgentSession]):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = AgentSession
        fields = [
            "id",
            "agent",
            "initiated_by",
            "parent",
            "root",
            "depth",
            "status",
            "started_at",
            "ended_at",
            "duration_seconds",
            "input_tokens",
            "output_tokens",
            "provider_cost_usd",
            "credits_charged",
            "credit_budget",
            "tree_credits_charged",
            "result",
            "error",
            "created_at",
        ]


class TreeNodeOutput(serializers.Serializer):
    id = serializers.UUIDField()
    parent_id = serializers.UUIDField(allow_null=True)
    agent_id = serializers.UUIDField()
    depth = serializers.IntegerField()
    status = serializers.CharField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    provider_cost_usd = DecimalField(max_digits=20, decimal_places=8)
    credits_charged = DecimalField(max_digits=20, decimal_places=6)
    total_input_tokens = serializers.IntegerField()
    total_output_tokens = serializers.IntegerField()
    total_provider_cost_usd = DecimalField(max_digits=20, decimal_places=8)
    total_credits_charged = DecimalField(max_digits=20, decimal_places=6)
    descendants = serializers.IntegerField()


def tree_body(nodes: list[TreeNode]) -> dict[str, Any]:
    root = nodes[0]
    return {
        "root": str(root.id),
        "nodes": TreeNodeOutput(nodes, many=True).data,
        "total_credits_charged": f"{root.total_credits_charged:.6f}",
        "total_provider_cost_usd": f"{root.total_provider_cost_usd:.8f}",
        "size": len(nodes),
    }


class TaskOutput(serializers.ModelSerializer[AgentTask]):
    class Meta:
        model = AgentTask
        fields = [
            "id",
            "agent",
            "recipe",
            "session",
            "payload",
            "status",
            "priority",
            "platform_priority",
            "attempts",
            "max_attempts",
            "run_after",
            "lease_expires_at",
            "claimed_by",
            "started_at",
            "finished_at",
            "result",
            "error",
            "created_at",
        ]
