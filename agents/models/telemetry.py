"""What agents leave behind as they work (DOMAIN.md, agents): the activity feed, the hourly metrics
rolled up from sessions, and A/B test results of the catalogue's recipes.

- `AgentActivity` and `AgentMetricsHourly` are a tenant's (row-level security, composite
  (tenant_id, x_id) foreign keys, migration 0003).
- `AbTestResult` is platform-wide, like the recipes it measures: DOMAIN.md gives it no tenant, a
  recipe belongs to the catalogue, and a result is an aggregate over every tenant's runs of a
  variant, written by platform staff (or their tooling) and compared by them. No tenant's row
  can be read through it: it holds counts and moments, not sessions.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from agents.models.catalogue import Recipe
from agents.models.sessions import AgentSession
from agents.models.workforce import Agent
from core.models import BaseModel
from core.tenancy import TenantScopedModel


class ActivityType(models.TextChoices):
    MESSAGE = "message", "Message"
    ACTION = "action", "Action"
    ERROR = "error", "Error"


class AgentActivity(TenantScopedModel):
    """One item of an agent's feed, pushed live to the tenant's stream (`activity` events)."""

    # When it happened: a runtime may report a little late; the feed is ordered by it.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="activity")
    session = models.ForeignKey(
        AgentSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="activity"
    )
    type = models.CharField(max_length=16, choices=ActivityType.choices)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)

    class Meta(TenantScopedModel.Meta):
        verbose_name = "agent activity"
        verbose_name_plural = "agent activity"
        indexes = [
            # The latest of one agent (the console's feed, the per-agent API).
            models.Index(
                models.F("agent"),
                models.F("created_at").desc(),
                models.F("id").desc(),
                name="agent_activity_agent_time_idx",
            ),
            # The tenant's feed (cursor by created_at, id).
            models.Index(
                models.F("tenant"),
                models.F("created_at").desc(),
                models.F("id").desc(),
                name="agent_activity_tenant_time_idx",
            ),
            models.Index(fields=["session"], name="agent_activity_session_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()}: {self.summary[:60]}"


class AgentMetricsHourly(TenantScopedModel):
    """One agent's sessions in one UTC hour (by the hour they started), rolled up from the
    sessions table by one SQL aggregate (agents.services.telemetry.metrics_rollup); re-running an
    hour rewrites the same row. `avg_duration_ms` is the mean duration of the hour's finished
    sessions (the latency of a run); tokens and cost are all of the hour's sessions'."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="metrics")
    hour = models.DateTimeField()
    sessions = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    avg_duration_ms = models.BigIntegerField(null=True, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    provider_cost_usd = models.DecimalField(default=Decimal("0"), max_digits=20, decimal_places=8)
    credits_charged = models.DecimalField(default=Decimal("0"), max_digits=20, decimal_places=6)

    class Meta(TenantScopedModel.Meta):
        ordering = ["agent", "hour"]
        verbose_name = "agent metrics (hourly)"
        verbose_name_plural = "agent metrics (hourly)"
        constraints = [
            models.UniqueConstraint(fields=["agent", "hour"], name="agent_metrics_one_row_per_hour"),
            models.CheckConstraint(
                condition=Q(successes__lte=models.F("sessions"), failures__lte=models.F("sessions")),
                name="agent_metrics_outcomes_within_sessions",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "hour"], name="agent_metrics_tenant_hour_idx")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00}: {self.sessions} sessions"


class AbTestResult(BaseModel):
    """A variant's result on one metric of a recipe over a period. A rate metric (success rate)
    gives `successes` of `sample_size`; a continuous one (duration, cost) gives `mean` and
    `variance` (the sample variance) over `sample_size` runs. agents.services.ab compares them."""

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="ab_results")
    variant = models.CharField(max_length=64)
    metric = models.CharField(max_length=64)
    sample_size = models.PositiveBigIntegerField()
    successes = models.PositiveBigIntegerField(null=True, blank=True)
    mean = models.FloatField(null=True, blank=True)
    variance = models.FloatField(null=True, blank=True)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(BaseModel.Meta):
        verbose_name = "A/B test result"
        constraints = [
            models.UniqueConstraint(
                fields=["recipe", "metric", "variant", "period_start", "period_end"],
                name="ab_result_one_per_period",
            ),
            # Exactly one kind: a count of successes, or a mean with its variance.
            models.CheckConstraint(
                condition=(
                    Q(successes__isnull=False, mean__isnull=True, variance__isnull=True)
                    | Q(successes__isnull=True, mean__isnull=False, variance__isnull=False)
                ),
                name="ab_result_rate_or_mean",
            ),
            models.CheckConstraint(
                condition=Q(successes__isnull=True) | Q(successes__lte=models.F("sample_size")),
                name="ab_result_successes_within_sample",
            ),
            models.CheckConstraint(
                condition=Q(variance__isnull=True) | Q(variance__gte=0),
                name="ab_result_variance_not_negative",
            ),
            models.CheckConstraint(condition=Q(sample_size__gte=1), name="ab_result_sample_not_empty"),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")), name="ab_result_period_ordered"
            ),
        ]
        indexes = [models.Index(fields=["recipe", "metric", "variant"], name="ab_result_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.variant} / {self.metric} (n={self.sample_size})"

    @property
    def kind(self) -> str:
        return "rate" if self.successes is not None else "mean"
