"""Container health: reports over HTTP (an API key), alerts raised and resolved, the latest per
container, the hourly aggregates and the retention task (24 h / 30 d, idempotent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import ContainerHealth, ContainerHealthHourly
from agents.services.health import health_housekeeping, health_report
from agents.tasks import health_housekeeping as housekeeping_task
from agents.tests.factories import AgentFactory
from alerts.models import Alert, AlertStatus
from audit.models import AuditLogEntry
from billing.tests.factories import with_key
from core.tenancy import platform_bypass, tenant_context

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)


def _url(tenant: Any, rest: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/health{rest}"


def _report(tenant: Any, container: str, status: str, at: datetime, **values: Any) -> None:
    with tenant_context(tenant):
        health_report(tenant=tenant, container_id=container, status=status, reported_at=at, **values)


def _alerts(tenant: Any) -> list[Alert]:
    with tenant_context(tenant):
        return list(Alert.objects.filter(tenant=tenant, source="agents.health").order_by("created_at"))


def test_health_report__api_key_with_agents_write__201_and_listed_latest(
    tenant: Any, owner: Any, as_user: Any
) -> None:
    agent = AgentFactory.create(tenant=tenant)
    client = with_key(tenant, owner, scopes=["agents:write", "agents:read"])
    body = {"container_id": "c-1", "status": "healthy", "agent_id": str(agent.pk), "cpu_percent": "12.5"}

    first = client.post(_url(tenant), {**body, "memory_mb": 100}, format="json")
    second = client.post(_url(tenant), {**body, "memory_mb": 300}, format="json")
    client.post(_url(tenant), {"container_id": "c-2", "status": "degraded"}, format="json")
    latest = as_user(owner).get(_url(tenant))

    assert first.status_code == 201, first.json()
    assert second.status_code == 201
    rows = latest.json()["results"]
    assert [(r["container_id"], r["memory_mb"]) for r in rows] == [("c-1", 300), ("c-2", 0)]
    assert rows[0]["agent_id"] == str(agent.pk)
    assert rows[0]["cpu_percent"] == "12.50"


def test_health_report__key_without_agents_write__403(tenant: Any, owner: Any) -> None:
    client = with_key(tenant, owner, scopes=["agents:read"])

    response = client.post(_url(tenant), {"container_id": "c-1", "status": "healthy"}, format="json")

    assert response.status_code == 403


def test_health_report__bad_input__400(tenant: Any, owner: Any, as_user: Any) -> None:
    client = as_user(owner)
    for body in (
        {"container_id": "c-1", "status": "dead"},
        {"container_id": "", "status": "healthy"},
        {"container_id": "c-1", "status": "healthy", "cpu_percent": "lots"},
        {"container_id": "c-1", "status": "healthy", "tenant": str(tenant.pk)},
        {"container_id": "c-1", "status": "healthy", "memory_mb": -1},
    ):
        assert client.post(_url(tenant), body, format="json").status_code == 400, body


def test_health_report__other_tenants_agent__400_nothing_stored(
    tenant: Any, other_tenant: Any, owner: Any, as_user: Any
) -> None:
    theirs = AgentFactory.create(tenant=other_tenant)

    response = as_user(owner).post(
        _url(tenant), {"container_id": "c-1", "status": "healthy", "agent_id": str(theirs.pk)}, format="json"
    )

    assert response.status_code == 400
    assert "agent_id" in response.json()["errors"]
    with tenant_context(tenant):
        assert not ContainerHealth.objects.exists()


def test_health_latest__other_tenants_reports__not_listed(
    tenant: Any, other_tenant: Any, owner: Any, as_user: Any
) -> None:
    _report(other_tenant, "theirs", "healthy", NOW)

    assert as_user(owner).get(_url(tenant)).json()["results"] == []


def test_health_report__unhealthy_twice_then_healthy__one_alert_resolved(tenant: Any) -> None:
    _report(tenant, "c-1", "unhealthy", NOW, restarts=3)
    _report(tenant, "c-1", "unhealthy", NOW + timedelta(minutes=1))
    open_alerts = _alerts(tenant)
    _report(tenant, "c-1", "degraded", NOW + timedelta(minutes=2))
    still_open = _alerts(tenant)[0].status
    _report(tenant, "c-1", "healthy", NOW + timedelta(minutes=3))
    _report(tenant, "c-1", "unhealthy", NOW + timedelta(minutes=4))

    alerts = _alerts(tenant)
    assert len(open_alerts) == 1
    assert open_alerts[0].severity == "critical"
    assert "c-1" in open_alerts[0].title
    assert still_open == AlertStatus.OPEN
    assert [a.status for a in alerts] == [AlertStatus.RESOLVED, AlertStatus.OPEN]


def test_health_latest__many_containers__query_count_constant(tenant: Any, owner: Any, as_user: Any) -> None:
    client = as_user(owner)
    _report(tenant, "c-0", "healthy", NOW)
    client.get(_url(tenant))
    with CaptureQueriesContext(connection) as few:
        client.get(_url(tenant))
    for i in range(1, 8):
        _report(tenant, f"c-{i}", "degraded", NOW, agent=AgentFactory.create(tenant=tenant))
    with CaptureQueriesContext(connection) as many:
        response = client.get(_url(tenant))

    assert response.json()["count"] == 8
    assert len(many) == len(few)


# --- Retention and aggregates ---------------------------------------------------------------------


def _rows(model: Any) -> list[Any]:
    with platform_bypass(reason="test", log=False):
        return list(
            model.objects.order_by(
                "tenant_id", "container_id", "-reported_at" if model is ContainerHealth else "hour"
            )
        )


def _state() -> tuple[list[str], list[tuple[str, int]]]:
    return (
        [r.container_id for r in _rows(ContainerHealth)],
        [(r.container_id, r.reports) for r in _rows(ContainerHealthHourly)],
    )


def test_housekeeping__reports_of_an_hour__aggregated_correctly(tenant: Any) -> None:
    hour = NOW.replace(minute=0) - timedelta(hours=2)
    _report(tenant, "c-1", "healthy", hour + timedelta(minutes=5), cpu_percent=Decimal("10"), memory_mb=100)
    _report(
        tenant,
        "c-1",
        "unhealthy",
        hour + timedelta(minutes=25),
        cpu_percent=Decimal("30"),
        memory_mb=300,
        restarts=2,
    )
    _report(
        tenant,
        "c-1",
        "degraded",
        hour + timedelta(minutes=45),
        cpu_percent=Decimal("20"),
        memory_mb=200,
        restarts=1,
    )
    _report(tenant, "c-1", "healthy", NOW - timedelta(minutes=5))  # the current hour: not yet

    with platform_bypass(reason="test", log=False):
        result = health_housekeeping(now=NOW)

    (row,) = _rows(ContainerHealthHourly)
    assert result.aggregated == 1
    assert row.hour == hour
    assert row.reports == 3
    assert row.worst_status == "unhealthy"
    assert row.avg_cpu_percent == Decimal("20.00")
    assert row.max_cpu_percent == Decimal("30.00")
    assert (row.avg_memory_mb, row.max_memory_mb, row.restarts_max) == (200, 300, 2)


def test_housekeeping__24h_and_30d__old_rows_deleted_recent_kept_idempotent(tenant: Any) -> None:
    current_hour = NOW.replace(minute=0)
    _report(tenant, "old", "healthy", current_hour - timedelta(hours=25))
    _report(tenant, "recent", "healthy", current_hour - timedelta(hours=23))
    with platform_bypass(reason="test", log=False):
        ContainerHealthHourly.objects.create(
            tenant=tenant,
            container_id="ancient",
            hour=current_hour - timedelta(days=31),
            reports=1,
            worst_status="healthy",
            avg_cpu_percent=0,
            max_cpu_percent=0,
            avg_memory_mb=0,
            max_memory_mb=0,
            restarts_max=0,
        )
        first = health_housekeeping(now=NOW)
        after_first = (
            [r.container_id for r in _rows(ContainerHealth)],
            [(r.container_id, r.reports) for r in _rows(ContainerHealthHourly)],
        )
        second = health_housekeeping(now=NOW)
        after_second = (
            [r.container_id for r in _rows(ContainerHealth)],
            [(r.container_id, r.reports) for r in _rows(ContainerHealthHourly)],
        )

    # The 25-hour-old report was aggregated before it went; its hour stays 30 days.
    assert after_first == (["recent"], [("old", 1), ("recent", 1)])
    assert (first.deleted_reports, first.deleted_hours) == (1, 1)
    assert after_second == after_first
    assert (second.deleted_reports, second.deleted_hours) == (0, 0)


def test_housekeeping_task__one_audit_entry_per_run(tenant: Any) -> None:
    for i in range(5):
        _report(tenant, f"c-{i}", "healthy", datetime.now(UTC) - timedelta(hours=30))

    result = housekeeping_task.delay().get()

    with platform_bypass(reason="test", log=False):
        entries = list(AuditLogEntry.objects.filter(action="agents.health_housekeeping"))
    assert result["deleted_reports"] == 5
    assert len(entries) == 1
    assert entries[0].tenant_id is None
    assert entries[0].details["deleted_reports"] == 5


def test_health_hourly__api__tenants_own_rows_newest_first(
    tenant: Any, other_tenant: Any, owner: Any, as_user: Any
) -> None:
    hour = NOW.replace(minute=0)
    _report(tenant, "c-1", "healthy", hour - timedelta(hours=3))
    _report(tenant, "c-1", "degraded", hour - timedelta(hours=2))
    _report(other_tenant, "theirs", "healthy", hour - timedelta(hours=2))
    with platform_bypass(reason="test", log=False):
        health_housekeeping(now=NOW)

    response = as_user(owner).get(_url(tenant, "/hourly"))
    filtered = as_user(owner).get(_url(tenant, "/hourly"), {"container_id": "nope"})

    assert response.status_code == 200
    assert [r["worst_status"] for r in response.json()["results"]] == ["degraded", "healthy"]
    assert filtered.json()["results"] == []
