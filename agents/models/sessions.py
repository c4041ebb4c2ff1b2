"""Sessions (one run of an agent; sessions spawn sessions) and the task queue."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper, F, Q
from django.db.models.functions import Cast, Extract
from django.utils import timezone

from agents.models.catalogue import Recipe
from agents.models.common import SessionStatus, TaskStatus
from agents.models.workforce import Agent
from core.tenancy import TenantScopedModel


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
    # How long the run took, recorded beside its tokens and cost: computed by PostgreSQL from
    # started_at and ended_at (a stored generated column), so every way a session ends (complete,
    # fail, the one-statement cancel of a subtree) records it, and it can never disagree with them.
    duration_ms = models.GeneratedField(
        expression=Cast(
            Extract(
                ExpressionWrapper(F("ended_at") - F("started_at"), output_field=models.DurationField()),
                "epoch",
            )
            * 1000,
            models.BigIntegerField(),
        ),
        output_field=models.BigIntegerField(null=True, blank=True),
        db_persist=True,
    )
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
            # The hourly metrics roll-up: sessions by the hour they started, and those that ended
            # since its last run (agents.services.telemetry).
            models.Index(fields=["started_at"], name="agent_session_started_idx"),
            models.Index(fields=["ended_at"], name="agent_session_ended_idx"),
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
