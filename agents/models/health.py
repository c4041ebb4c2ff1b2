"""Container health (DOMAIN.md, agents): what agent runtimes report about their containers.

Detailed reports are kept 24 hours, hourly aggregates 30 days (`agents.services.health`, a
periodic task). Both are a tenant's rows (row-level security, migration `*_health`); an unhealthy
report raises an alert (alerts app), a healthy one resolves it.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from agents.models.workforce import Agent
from core.tenancy import TenantScopedModel


class HealthStatus(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    UNHEALTHY = "unhealthy", "Unhealthy"


# Worse is higher: the hourly aggregate keeps the worst status of its hour.
HEALTH_RANK = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}

CONTAINER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$"


class ContainerHealth(TenantScopedModel):
    """One report of one container."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    container_id = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=HealthStatus.choices)
    cpu_percent = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(10000))],
    )
    memory_mb = models.PositiveIntegerField(default=0)
    restarts = models.PositiveIntegerField(default=0)
    reported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = "container health report"
        indexes = [
            models.Index(fields=["tenant", "container_id", "-reported_at"], name="health_container_time_idx"),
            models.Index(fields=["reported_at"], name="health_reported_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=HealthStatus.values), name="health_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.container_id} {self.status}"


class ContainerHealthHourly(TenantScopedModel):
    """One container's hour: how many reports, the worst status, cpu and memory average and peak,
    the most restarts reported."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    container_id = models.CharField(max_length=128)
    hour = models.DateTimeField(help_text="The hour's start (UTC).")
    reports = models.PositiveIntegerField()
    worst_status = models.CharField(max_length=16, choices=HealthStatus.choices)
    avg_cpu_percent = models.DecimalField(max_digits=6, decimal_places=2)
    max_cpu_percent = models.DecimalField(max_digits=6, decimal_places=2)
    avg_memory_mb = models.PositiveIntegerField()
    max_memory_mb = models.PositiveIntegerField()
    restarts_max = models.PositiveIntegerField()

    class Meta:
        ordering = ["-hour", "container_id"]
        verbose_name = "container health hour"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "container_id", "hour"], name="health_hourly_unique"),
        ]
        indexes = [models.Index(fields=["hour"], name="health_hourly_hour_idx")]

    def __str__(self) -> str:
        return f"{self.container_id} {self.hour:%Y-%m-%d %H:00}"
