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
    REVOKE_API_KEY = "revoke_api_key", "Revoke API key"
    DISABLE_FLAG = "disable_flag", "Disable feature flag"


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
