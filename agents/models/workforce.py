"""A tenant's workforce: agents, their channels and installed skills."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from agents.models.catalogue import AgentTemplate, Skill
from agents.models.common import (
    SEMVER_VALIDATOR,
    AgentRole,
    AgentStatus,
    ChannelType,
    ThinkingMode,
    default_tool_policy,
    validate_tool_policy,
)
from billing.models import ModelTier
from core.tenancy import TenantScopedModel


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
