"""Choices, validators and the tool policy shared by the agents app's records."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
SEMVER_VALIDATOR = RegexValidator(SEMVER, "A semantic version such as 1.4.2 (semver.org).")
SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$", "Lower-case letters, digits and '-'."
)


def semver_key(version: str) -> tuple[int, int, int]:
    """The (major, minor, patch) of a semantic version, for comparisons."""
    match = SEMVER.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not a semantic version")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


# --- Choices -----------------------------------------------------------------------------------


class AgentRole(models.TextChoices):
    PM = "pm", "Product management"
    ENGINEERING = "engineering", "Engineering"
    OPERATIONS = "operations", "Operations"
    CUSTOM = "custom", "Custom"


class ThinkingMode(models.TextChoices):
    OFF = "off", "Off"
    LOW = "low", "Low"
    HIGH = "high", "High"


class AgentStatus(models.TextChoices):
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    IDLE = "idle", "Idle"
    PAUSED = "paused", "Paused"
    ERROR = "error", "Error"


# The agent's status machine: status → the statuses it may move to. Anything else is a 409.
AGENT_TRANSITIONS: dict[str, frozenset[str]] = {
    AgentStatus.PROVISIONING: frozenset({AgentStatus.ACTIVE, AgentStatus.IDLE, AgentStatus.ERROR}),
    AgentStatus.ACTIVE: frozenset({AgentStatus.IDLE, AgentStatus.PAUSED, AgentStatus.ERROR}),
    AgentStatus.IDLE: frozenset({AgentStatus.ACTIVE, AgentStatus.PAUSED, AgentStatus.ERROR}),
    AgentStatus.PAUSED: frozenset({AgentStatus.IDLE}),  # resume: idle until it works again
    AgentStatus.ERROR: frozenset({AgentStatus.IDLE, AgentStatus.PAUSED}),
}
# Agents that count as running work (billing's "active agents").
RUNNING_AGENT_STATUSES = (AgentStatus.ACTIVE, AgentStatus.IDLE)


class SkillCategory(models.TextChoices):
    PRODUCTIVITY = "productivity", "Productivity"
    ANALYTICS = "analytics", "Analytics"
    ENGINEERING = "engineering", "Engineering"
    COMMUNICATION = "communication", "Communication"


class SkillStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    DEPRECATED = "deprecated", "Deprecated"
    REMOVED = "removed", "Removed"


class ChannelType(models.TextChoices):
    SLACK = "slack", "Slack"
    EMAIL = "email", "E-mail"
    WEB = "web", "Web"


class SessionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_SESSION_STATUSES = (SessionStatus.PENDING, SessionStatus.RUNNING)


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# --- Tool policy -------------------------------------------------------------------------------

TOOL_NAME = re.compile(r"^[a-z0-9_.*:-]{1,64}$")


def default_tool_policy() -> dict[str, Any]:
    return {"allow": [], "deny": []}


def validate_tool_policy(value: Any) -> None:
    """A tool policy is {"allow": [...], "deny": [...]} of tool names (`*` wildcards), no overlap."""
    if not isinstance(value, dict) or set(value) - {"allow", "deny"}:
        raise ValidationError('A tool policy is an object with "allow" and "deny" lists only.')
    lists: dict[str, list[str]] = {}
    for side in ("allow", "deny"):
        names = value.get(side, [])
        if not isinstance(names, list) or len(names) > 200:
            raise ValidationError(f'"{side}" must be a list of at most 200 tool names.')
        for name in names:
            if not isinstance(name, str) or not TOOL_NAME.match(name):
                raise ValidationError(f'"{side}": {name!r} is not a tool name ([a-z0-9_.*:-], 1-64).')
        lists[side] = names
    both = sorted(set(lists.get("allow", [])) & set(lists.get("deny", [])))
    if both:
        raise ValidationError(f"Tools both allowed and denied: {', '.join(both)}.")


def validate_string_list(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in value):
        raise ValidationError("Must be a list of short strings.")
