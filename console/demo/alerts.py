"""The demo's container health and alerts (issue 13): the last day of health reports from the
containers of Northwind's and Hoshi's working agents, through the health service as their
runtimes would post them, each at the moment it was reported (`core.clock`), so the alerts it
raises and resolves carry their real times too.

- Northwind: the pager buddy's container degrades in the evening and turns unhealthy in the last
  hours (a critical alert, open); the release captain's ran out of memory overnight (a critical
  alert that Jonas resolved by hand, with a reason, while it was still degraded).
- Hoshi: the customs clerk's container was unhealthy for an hour in the night and reported
  healthy again (its alert resolved by the system); the invoice reader's is unhealthy now, and
  Haruto acknowledged its alert (someone is on it).
- Then the health housekeeping runs, as its periodic task would: the complete hours become hourly
  rows, so the admin and the API have both the detail and the aggregates.

Paused agents' containers are stopped: they report nothing. Billing's low-balance crossings raise
their own alerts (billing step); this step adds the agents' ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from agents.models import Agent, HealthStatus
from agents.services.health import health_alert_key, health_housekeeping, health_report
from alerts import services as alerts
from alerts.models import Alert
from console.demo.hoshi import HARUTO
from console.demo.northwind import JONAS
from console.demo.scenario import HOSHI, NORTHWIND, DemoScenario, Step
from core import clock
from core.tenancy import platform_bypass

HOURS = 24
EVERY = timedelta(minutes=30)  # each container reports every half hour

H, D, U = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY


@dataclass(frozen=True)
class Container:
    agent: str  # the demo agent's name (console.demo.agents.WORKFORCE)
    container_id: str
    cpu: float  # its usual load, percent
    memory_mb: int
    # (from, to) hours ago -> status; healthy elsewhere
    trouble: tuple[tuple[float, float, str], ...] = ()

    def status(self, hours_ago: float) -> str:
        for start, end, status in self.trouble:
            if end < hours_ago <= start:
                return status
        return H


@dataclass(frozen=True)
class Person:
    """Someone acting on a container's alert, so many hours ago."""

    hours_ago: float
    email: str
    act: str  # "acknowledge" | "resolve"
    reason: str = ""


@dataclass(frozen=True)
class Fleet:
    containers: tuple[Container, ...]
    people: dict[str, Person] = field(default_factory=dict)  # container id -> what a person did


FLEETS: dict[str, Fleet] = {
    NORTHWIND: Fleet(
        containers=(
            Container("Release captain", "nw-release-captain-7f9c", 38, 900, ((16, 14.5, U), (14.5, 11, D))),
            Container("PR reviewer", "nw-pr-reviewer-2b41", 22, 640),
            Container("Pager buddy", "nw-pager-buddy-c03d", 30, 720, ((7, 2.5, D), (2.5, 0, U))),
        ),
        people={
            "nw-release-captain-7f9c": Person(
                14,
                JONAS,
                "resolve",
                "Raised the memory limit to 2 GB and restarted it; degraded while it warms up.",
            ),
        },
    ),
    HOSHI: Fleet(
        containers=(
            Container("Route planner", "tk-route-planner-5e12", 55, 1400, ((10, 9, D),)),
            Container("Customs clerk", "tk-customs-clerk-91aa", 18, 512, ((20, 19, U),)),
            Container("Invoice reader", "tk-invoice-reader-44f0", 41, 1024, ((5, 3.5, D), (3.5, 0, U))),
        ),
        people={"tk-invoice-reader-44f0": Person(2, HARUTO, "acknowledge")},
    ),
}


def steps(s: DemoScenario) -> list[Step]:
    return [
        *[(f"Container health: {slug}", s.within(slug, reports, slug)) for slug in FLEETS],
        ("Container health: hourly aggregates", lambda: housekeeping(s)),
    ]


def _figures(spec: Container, k: int, status: str) -> tuple[Decimal, int, int]:
    """Cpu, memory and restarts of report k: its usual load, varying a little; trouble shows."""
    cpu = spec.cpu + (k * 7) % 13
    memory = spec.memory_mb + (k * 37) % 120
    restarts = 0
    if status == D:
        cpu, memory = cpu * 1.6, int(memory * 1.3)
    elif status == U:
        cpu, memory, restarts = 97.5, int(memory * 1.9), 1 + k % 4
    return Decimal(str(round(min(cpu, 100.0), 2))), memory, restarts


def reports(s: DemoScenario, slug: str) -> None:
    """A day of half-hourly reports of each container, oldest first; people act on the alerts at
    their moments in between."""
    fleet = FLEETS[slug]
    tenant = s.tenants[slug]
    agents = {a.name: a for a in Agent.objects.filter(tenant=tenant)}
    steps_count = int(timedelta(hours=HOURS) / EVERY)
    pending = dict(fleet.people)
    for k in range(steps_count, 0, -1):
        moment = s.now - EVERY * k
        hours_ago = (s.now - moment) / timedelta(hours=1)
        for n, spec in enumerate(fleet.containers):
            status = spec.status(hours_ago)
            cpu, memory, restarts = _figures(spec, k, status)
            at = moment + timedelta(seconds=7 * n)  # the runtimes do not report in lockstep
            with clock.as_of(at):
                health_report(
                    tenant=tenant,
                    agent=agents.get(spec.agent),
                    container_id=spec.container_id,
                    status=status,
                    cpu_percent=cpu,
                    memory_mb=memory,
                    restarts=restarts,
                    reported_at=at,
                )
        for container_id, person in list(pending.items()):
            if hours_ago <= person.hours_ago:
                _act(s, slug, container_id, person, moment + timedelta(minutes=4))
                del pending[container_id]


def _act(s: DemoScenario, slug: str, container_id: str, person: Person, at: datetime) -> None:
    alert = (
        Alert.objects.filter(
            tenant=s.tenants[slug], dedupe_key=health_alert_key(container_id), resolved_at__isnull=True
        )
        .order_by("-created_at")
        .first()
    )
    if alert is None:  # the story's container was healthy then: nothing to act on
        return
    actor = s.users[person.email]
    acts: dict[str, Callable[[], object]] = {
        "acknowledge": lambda: alerts.alert_acknowledge(alert=alert, actor=actor),
        "resolve": lambda: alerts.alert_resolve(alert=alert, actor=actor, reason=person.reason),
    }
    with clock.as_of(at):
        acts[person.act]()


def housekeeping(s: DemoScenario) -> None:
    """What the periodic task does: the complete hours aggregated, older detail dropped."""
    with platform_bypass(reason="seed_demo: container health housekeeping", log=False):
        health_housekeeping(now=s.now)
