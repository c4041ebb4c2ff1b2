"""Insights: what acts on every other app. Interventions (an operator's corrective action, and its
reversal), recommendations (rules over segments suggesting one), daily analytics (a roll-up of
the ledger and the people, per tenant and for the whole platform). Segments are queries, never
stored (`insights/segments.py`).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from billing.models import credit_field, usd_field
from core.models import BaseModel
from core.tenancy import TenantScopedModel


class InterventionType(models.TextChoices):
    SUSPEND_TENANT = "suspend_tenant", "Suspend tenant"
    REACTIVATE_TENANT = "reactivate_tenant", "Reactivate tenant"
    GRANT_CREDITS = "grant_credits", "Grant credits"
    REVOKE_API_KEY = ("revoke_api_key", "Revoke API key")
    DISABLE_FLAG = "disable_flag", "Disable feature flag"
    PAUSE_AGENT = "pause_agent", "Pause agent"
    RESUME_AGENT = "resume_agent", "Resume agent"
    LOCK_USER = "lock_user", "Lock user"
    UNLOCK_USER = "unlock_user", "Unlock user"


class InterventionScope(models.TextChoices):
    SINGLE = "single", "Single"
    BULK = "bulk", "Bulk"


class Intervention(TenantScopedModel):
    """An operator's corrective action on one or many targets of a tenant, applied through the
    owning app's service in one transaction with this row. `previous_state` and `new_state` map
    each target id to its state before and after; reversal restores `previous_state` if every
    target is still in `new_state`."""

    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    operator_role = models.CharField(max_length=50, help_text="The operator's role when they acted.")
    type = models.CharField(max_length=32, choices=InterventionType.choices)
    scope = models.CharField(
        max_length=8, choices=InterventionScope.choices, default=InterventionScope.SINGLE
    )
    target_type = models.CharField(max_length=64)
    target_ids = ArrayField(models.CharField(max_length=64))
    reason = models.TextField()
    params = models.JSONField(default=dict, blank=True)
    previous_state = models.JSONField(default=dict)
    new_state = models.JSONField(default=dict)
    recommendation = models.ForeignKey(
        "insights.Recommendation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reversal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="intervention_reason_required"),
            models.CheckConstraint(
                condition=Q(type__in=InterventionType.values), name="intervention_type_valid"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="intervention_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.type} {', '.join(self.target_ids)}"


class RecommendationStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"
    EXPIRED = "expired", "Expired"


class Recommendation(TenantScopedModel):
    """A suggested intervention, produced by a rule over a segment; at most one open per
    (tenant, target, action)."""

    rule = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=255, blank=True)
    suggested_action = models.CharField(max_length=32, choices=InterventionType.choices)
    params = models.JSONField(default=dict, blank=True)
    reason = models.TextField()
    confidence = models.DecimalField(max_digits=3, decimal_places=2)
    status = models.CharField(
        max_length=16, choices=RecommendationStatus.choices, default=RecommendationStatus.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "target_type", "target_id", "suggested_action"],
                condition=Q(status="open"),
                name="recommendation_one_open",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0, confidence__lte=1), name="recommendation_confidence_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.suggested_action} {self.target_label or self.target_id}"


class DailyAnalytics(BaseModel):
    """One day's figures of a tenant, or (tenant NULL) of the whole platform; written only by the
    roll-up (`insights.services.analytics_rollup`), which recomputes a day from scratch."""

    date = models.DateField()
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    active_users = models.PositiveIntegerField(default=0)
    new_users = models.PositiveIntegerField(default=0)
    sessions_started = models.PositiveIntegerField(default=0)
    sessions_completed = models.PositiveIntegerField(default=0)
    sessions_failed = models.PositiveIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    provider_cost_usd = usd_field(default=Decimal(0))
    credits_charged = credit_field(default=Decimal(0))
    credits_granted = credit_field(default=Decimal(0))
    errors = models.PositiveIntegerField(default=0)
    avg_session_seconds = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "daily analytics"
        constraints = [
            models.UniqueConstraint(
                fields=["date", "tenant"], name="daily_analytics_unique", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.tenant_id or 'platform'}"

    @property
    def margin_usd(self) -> Decimal:
        """Credits charged minus what the providers cost (a credit is priced in US dollars)."""
        return self.credits_charged - self.provider_cost_usd


# --- The participant graph (insights.services.graph keeps it in step) --------------------------


class ParticipantKind(models.TextChoices):
    MEMBER = "member", "Member"
    INVITEE = "invitee", "Invitee"
    AGENT = "agent", "Agent"


class ParticipantOrigin(models.TextChoices):
    INVITED = "invited", "Invited"
    SIGNUP = "signup", "Sign-up"
    IMPORT = "import", "Import"
    AGENT = "agent", "Agent"


class LifecycleStage(models.TextChoices):
    INVITED = "invited", "Invited"
    ONBOARDING = "onboarding", "Onboarding"
    ACTIVE = "active", "Active"
    DORMANT = "dormant", "Dormant"
    CHURNED = "churned", "Churned"


class Participant(TenantScopedModel):
    """Anyone acting in a tenant: a member (user), an invitee not yet in (e-mail only) or an
    agent. Written only by `insights.services.graph`, from memberships, invites and agents; the
    lifecycle stage follows the rules documented there (`lifecycle_stage`)."""

    kind = models.CharField(max_length=8, choices=ParticipantKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agent = models.ForeignKey(
        "agents.Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.EmailField(blank=True)
    display_name = models.CharField(max_length=255)
    role = models.CharField(max_length=64, blank=True)
    team_id = models.UUIDField(null=True, blank=True)
    origin = models.CharField(max_length=8, choices=ParticipantOrigin.choices)
    lifecycle_stage = models.CharField(max_length=12, choices=LifecycleStage.choices)
    joined_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "id"], name="participant_tenant_id_unique"),
            models.UniqueConstraint(
                fields=["tenant", "user"], condition=Q(user__isnull=False), name="participant_one_per_user"
            ),
            models.UniqueConstraint(
                fields=["tenant", "agent"], condition=Q(agent__isnull=False), name="participant_one_per_agent"
            ),
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=Q(kind="invitee"),
                name="participant_one_per_invitee",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ParticipantKind.values), name="participant_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "lifecycle_stage"], name="participant_stage_idx")]

    def __str__(self) -> str:
        return self.display_name


class RelationshipType(models.TextChoices):
    INVITED = "invited", "Invited"
    MANAGES = "manages", "Manages"
    ASSISTS = "assists", "Assists"
    SPAWNED = "spawned", "Spawned"
    COLLABORATES = "collaborates", "Collaborates"


class RelationshipSource(models.TextChoices):
    SYSTEM = "system", "System"
    INFERRED = "inferred", "Inferred"
    MANUAL = "manual", "Manual"


class Relationship(TenantScopedModel):
    """A directed edge of the tenant's graph (`collaborates` is symmetric: stored once)."""

    from_participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="edges_out")
    to_participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="edges_in")
    type = models.CharField(max_length=16, choices=RelationshipType.choices)
    source = models.CharField(max_length=8, choices=RelationshipSource.choices)
    confidence_score = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal(1))

    class Meta:
        ordering = ["type", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "from_participant", "to_participant", "type"], name="relationship_unique"
            ),
            models.CheckConstraint(
                condition=Q(confidence_score__gte=0, confidence_score__lte=1),
                name="relationship_confidence_range",
            ),
            models.CheckConstraint(
                condition=~Q(from_participant=models.F("to_participant")), name="relationship_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_participant_id} {self.type} {self.to_participant_id}"
