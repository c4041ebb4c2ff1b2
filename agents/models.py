"""The agents app's records (DOMAIN.md, agents): the platform's catalogue (templates, cookbooks,
recipes, skills) and each tenant's workforce (agents, their channels and skills, sessions, tasks).

The catalogue is platform-wide (no tenant, no row-level security). Everything a tenant owns is a
`TenantScopedModel`: a django-scopes manager, a row-level-security policy (migration 0001), and
foreign keys between tenant-scoped rows that are tenant-consistent in the database: a composite
FOREIGN KEY (tenant_id, x_id) → (tenant_id, id) beside Django's own, so no write, raw or not, can
hang tenant A's session on tenant B's agent.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models import ModelTier
from core.models import BaseModel
from core.tenancy import TenantScopedModel

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


# --- The catalogue (platform-wide) -------------------------------------------------------------


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


# --- A tenant's workforce ----------------------------------------------------------------------


class Agent(TenantScopedModel):
    """An agent a tenant runs. Status changes only along AGENT_TRANSITIONS (services)."""

    team = models.ForeignKey(
        "tenants.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    template = models.ForeignKey(
        AgentTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="agents"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    avatar_icon = models.CharField(max_length=64, blank=True)
    role = models.CharField(max_length=16, choices=AgentRole.choices, default=AgentRole.CUSTOM)
    status = models.CharField(max_length=16, choices=AgentStatus.choices, default=AgentStatus.PROVISIONING)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    model_tier = models.CharField(max_length=8, choices=ModelTier.choices, default=ModelTier.SONNET)
    thinking_mode = models.CharField(max_length=8, choices=ThinkingMode.choices, default=ThinkingMode.OFF)
    tool_policy = models.JSONField(default=default_tool_policy, validators=[validate_tool_policy])
    assisted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    configuration = models.JSONField(default=dict, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(TenantScopedModel.Meta):
        permissions = [("run_agent", "Can run the agent")]
        constraints = [
            # The target of the composite (tenant-consistent) foreign keys.
            models.UniqueConstraint(fields=["tenant", "id"], name="agent_tenant_id_unique"),
            models.UniqueConstraint(fields=["tenant", "name"], name="agent_name_unique_per_tenant"),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="agent_tenant_status_idx")]

    def __str__(self) -> str:
        return self.name


class AgentChannel(TenantScopedModel):
    """Where an agent talks: slack, email, web. Credentials are a reference to the tenant's secret
    locker (`secret`), never part of `config` (agents.services refuses secret-looking keys)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="channels")
    type = models.CharField(max_length=8, choices=ChannelType.choices)
    config = models.JSONField(default=dict, blank=True)
    secret = models.ForeignKey(
        "tenants.Secret", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_active = models.BooleanField(default=True)

    class Meta(TenantScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["agent", "type"], name="agent_channel_one_per_type")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} channel"


class SkillInstallation(TenantScopedModel):
    """A skill installed on an agent, pinned to the version it was installed at."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="skill_installations")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="installations")
    version = models.CharField(max_length=64, validators=[SEMVER_VALIDATOR])
    config = models.JSONField(default=dict, blank=True)
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    installed_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["agent", "skill"], name="skill_installed_once_per_agent")
        ]

    def __str__(self) -> str:
        skill = self.skill.name if SkillInstallation.skill.is_cached(self) else self.skill_id
        return f"{skill} @ {self.version}"


class AgentSession(TenantScopedModel):
    """One run of an agent. Sessions spawn sessions: `root` is the tree's root (itself for a
    root), so a whole tree is one index range; `depth` is 0 at the root.

    Costs: input/output tokens, provider_cost_usd and credits_charged are this session's own, each
    a sum of its ledger entries (written with the charge). A root also keeps `tree_credits_charged`,
    the whole tree's, updated under the root's row lock: what its `credit_budget` is checked against.
    """

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="sessions")
    initiated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    # A root is its own root (its id is set before the insert): a tree is `root_id = X`.
    root = models.ForeignKey("self", on_delete=models.CASCADE, related_name="+")
    depth = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default=SessionStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    provider_cost_usd = models.DecimalField(default=Decimal("0"), max_digits=20, decimal_places=8)
    credits_charged = models.DecimalField(default=Decimal("0"), max_digits=20, decimal_places=6)
    credit_budget = models.DecimalField(null=True, blank=True, max_digits=20, decimal_places=6)
    tree_credits_charged = models.DecimalField(default=Decimal("0"), max_digits=20, decimal_places=6)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta(TenantScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="agent_session_tenant_id_unique"),
            models.CheckConstraint(
                condition=Q(parent__isnull=True, depth=0) | Q(parent__isnull=False, depth__gt=0),
                name="agent_session_depth_matches_parent",
            ),
            models.CheckConstraint(
                condition=Q(credit_budget__isnull=True) | Q(parent__isnull=True, credit_budget__gte=0),
                name="agent_session_budget_on_roots",
            ),
            models.CheckConstraint(
                condition=Q(input_tokens__gte=0, output_tokens__gte=0),
                name="agent_session_tokens_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["root", "depth"], name="agent_session_root_idx"),
            models.Index(fields=["parent"], name="agent_session_parent_idx"),
            models.Index(fields=["tenant", "-created_at"], name="agent_session_tenant_time_idx"),
            # max_concurrent_sessions counts the open ones.
            models.Index(
                fields=["tenant"],
                condition=Q(status__in=["pending", "running"]),
                name="agent_session_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {str(self.pk)[:8]} ({self.status}, depth {self.depth})"

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class AgentTask(TenantScopedModel):
    """Work for agent runtimes. Claimed with FOR UPDATE SKIP LOCKED (agents.services.tasks), by
    (platform_priority, priority) descending then age; a claim holds a lease that heartbeats extend."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks")
    recipe = models.ForeignKey(Recipe, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    session = models.ForeignKey(
        AgentSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    priority = models.SmallIntegerField(default=0)
    # Work enqueued by a platform admin goes first (DOMAIN.md: the platform role's priority).
    platform_priority = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    run_after = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(TenantScopedModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=-100, priority__lte=100), name="agent_task_priority_range"
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=50), name="agent_task_max_attempts_range"
            ),
            models.CheckConstraint(
                condition=~Q(status="running") | Q(lease_expires_at__isnull=False),
                name="agent_task_running_has_lease",
            ),
        ]
        indexes = [
            # The claim's scan: pending work of a tenant in the order it is handed out.
            models.Index(
                "tenant",
                models.F("platform_priority").desc(),
                models.F("priority").desc(),
                "created_at",
                condition=Q(status="pending"),
                name="agent_task_claim_idx",
            ),
            # The lease reaper's scan.
            models.Index(
                fields=["lease_expires_at"], condition=Q(status="running"), name="agent_task_lease_idx"
            ),
            models.Index(fields=["tenant", "status", "-created_at"], name="agent_task_tenant_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Task {str(self.pk)[:8]} ({self.status})"
