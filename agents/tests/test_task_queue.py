"""The task queue: each task to exactly one worker under concurrent claims, priority order,
retries with backoff, and the periodic lease expiry (agents.tasks)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from agents import services
from agents.models import AgentTask, TaskStatus
from agents.services.tasks import backoff_seconds
from agents.tasks import expire_task_leases
from agents.tests.factories import AgentFactory, TaskFactory, fill_queue
from billing.tests.test_concurrency import in_threads
from config.celery import app
from core.errors import Conflict
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory

WORKERS = 8
TASKS_PER_WORKER = 500
CLAIM_LIMIT = 25


@pytest.mark.django_db(transaction=True)
def test_task_claim__8_workers_x_500_tasks__each_task_run_exactly_once():
    agent = fill_queue(WORKERS * TASKS_PER_WORKER)
    tenant = agent.tenant

    def work(i: int) -> list[Any]:
        done: list[Any] = []
        while True:
            with tenant_context(tenant.pk):
                claimed = services.task_claim(tenant=tenant, worker_id=f"worker-{i}", limit=CLAIM_LIMIT)
                if not claimed:
                    return done
                for task in claimed:
                    services.task_complete(task=task, worker_id=f"worker-{i}", result={"by": i})
                    done.append(task.pk)

    started = time.monotonic()
    results = in_threads(WORKERS, work)
    elapsed = time.monotonic() - started
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    runs = Counter(task_id for done in results for task_id in done)
    with platform_bypass(reason="test: check", log=False):
        rows = list(AgentTask.objects.filter(tenant=tenant).values_list("id", "status", "attempts", "result"))
    assert len(runs) == WORKERS * TASKS_PER_WORKER == len(rows)
    assert set(runs.values()) == {1}  # none twice
    assert {status for _, status, _, _ in rows} == {TaskStatus.COMPLETED}
    assert {attempts for _, _, attempts, _ in rows} == {1}
    # Every worker got work (SKIP LOCKED: none waited for the others' rows).
    assert sum(1 for done in results if done) == WORKERS
    print(f"\n{WORKERS} workers claimed and completed {len(runs)} tasks in {elapsed:.1f} s")
    assert elapsed < 45  # ~20 s on two cores shared with other suites


def test_task_claim__priorities__platform_admin_work_then_priority_then_age(tenant):
    agent = AgentFactory.create(tenant=tenant)
    old_low = TaskFactory.create(agent=agent, priority=0)
    high = TaskFactory.create(agent=agent, priority=50)
    platform = TaskFactory.create(agent=agent, priority=-10, platform_priority=True)
    new_low = TaskFactory.create(agent=agent, priority=0)
    with tenant_context(tenant):
        claimed = services.task_claim(tenant=tenant, worker_id="w", limit=10)
    assert [t.pk for t in claimed] == [platform.pk, high.pk, old_low.pk, new_low.pk]
    assert all(t.status == TaskStatus.RUNNING and t.lease_expires_at is not None for t in claimed)


def test_task_fail__attempts_left__pending_after_backoff_then_failed_for_good(tenant):
    agent = AgentFactory.create(tenant=tenant)
    TaskFactory.create(agent=agent, max_attempts=2)
    with tenant_context(tenant):
        (task,) = services.task_claim(tenant=tenant, worker_id="w")
        before = timezone.now()
        task = services.task_fail(task=task, worker_id="w", error="boom")
        assert task.status == TaskStatus.PENDING
        assert task.run_after >= before + timedelta(seconds=backoff_seconds(1))
        # Not claimable before its backoff ends.
        assert services.task_claim(tenant=tenant, worker_id="w") == []
        AgentTask.objects.filter(pk=task.pk).update(run_after=timezone.now())
        (task,) = services.task_claim(tenant=tenant, worker_id="w")
        task = services.task_fail(task=task, worker_id="w", error="boom again")
        again = services.task_fail(task=task, worker_id="w", error="boom again")  # idempotent
    assert (task.status, task.attempts, again.status) == (TaskStatus.FAILED, 2, TaskStatus.FAILED)
    assert [backoff_seconds(n) for n in (1, 2, 3, 30)] == [2, 4, 8, 3600]


def test_expire_task_leases__periodic_task__expired_back_to_pending_spent_failed_live_kept(tenant):
    agent = AgentFactory.create(tenant=tenant)
    past, future = timezone.now() - timedelta(seconds=1), timezone.now() + timedelta(minutes=5)
    retry = TaskFactory.create(
        agent=agent, status="running", claimed_by="w", lease_expires_at=past, attempts=1
    )
    spent = TaskFactory.create(
        agent=agent, status="running", claimed_by="w", lease_expires_at=past, attempts=3, max_attempts=3
    )
    live = TaskFactory.create(agent=agent, status="running", claimed_by="w", lease_expires_at=future)
    other = TaskFactory.create(
        agent=AgentFactory.create(tenant=TenantFactory.create()),
        status="running",
        claimed_by="w",
        lease_expires_at=past,
    )

    assert expire_task_leases.delay().get() == 3  # every tenant's, one statement

    with platform_bypass(reason="test: check", log=False):
        status = dict(AgentTask.objects.values_list("id", "status"))
    assert status == {
        retry.pk: TaskStatus.PENDING,
        spent.pk: TaskStatus.FAILED,
        live.pk: TaskStatus.RUNNING,
        other.pk: TaskStatus.PENDING,
    }
    with tenant_context(tenant), pytest.raises(Conflict, match="does not hold"):
        services.task_heartbeat(task=retry, worker_id="w")  # the old worker lost it


def test_beat_schedule__lease_expiry__every_30_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["agents-expire-task-leases"]
    assert entry == {"task": "agents.expire_task_leases", "schedule": 30.0}
    assert "agents.expire_task_leases" in app.tasks


def _tasks_url(tenant: Any, rest: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/tasks/{rest}"


def test_task_enqueue__platform_admin_over_http__claimed_before_the_tenants_higher_priorities(
    tenant, owner, platform_admin, as_user
):
    agent = AgentFactory.create(tenant=tenant)
    body = {"agent_id": str(agent.pk), "payload": {}}
    urgent = as_user(owner).post(_tasks_url(tenant), {**body, "priority": 100}, format="json")
    staff = as_user(platform_admin).post(_tasks_url(tenant), {**body, "priority": -5}, format="json")
    assert (urgent.status_code, staff.status_code) == (201, 201), (urgent.content, staff.content)

    claimed = as_user(owner).post(_tasks_url(tenant, "claim"), {"worker_id": "w", "limit": 10}, format="json")

    assert claimed.status_code == 200, claimed.content
    assert [t["id"] for t in claimed.json()] == [staff.json()["id"], urgent.json()["id"]]
    with platform_bypass(reason="test: check", log=False):
        flags = dict(AgentTask.objects.values_list("id", "platform_priority"))
    assert sorted(flags.values()) == [False, True]


def test_task_complete__repeated_by_its_worker_same_answer__another_worker_409(tenant):
    agent = AgentFactory.create(tenant=tenant)
    TaskFactory.create(agent=agent)
    with tenant_context(tenant):
        (task,) = services.task_claim(tenant=tenant, worker_id="w")
        done = services.task_complete(task=task, worker_id="w", result={"rows": [1, 2]})
        again = services.task_complete(task=task, worker_id="w", result={"rows": "ignored"})
        with pytest.raises(Conflict, match="does not hold"):
            services.task_complete(task=task, worker_id="intruder")
    assert (done.status, done.result, done.finished_at) == (
        TaskStatus.COMPLETED,
        {"rows": [1, 2]},
        again.finished_at,
    )
    assert (again.result, again.lease_expires_at, again.claimed_by) == ({"rows": [1, 2]}, None, "w")


def test_task_claim__limit__exactly_that_many_whatever_the_plan(tenant):
    """A claim takes `limit` tasks, never more: the rows are picked once (a locking CTE), not by
    a subquery the planner may rescan for every row it updates."""
    agent = AgentFactory.create(tenant=tenant)
    for _ in range(60):
        TaskFactory.create(agent=agent)
    with tenant_context(tenant):
        one = services.task_claim(tenant=tenant, worker_id="w", limit=1)
        ten = services.task_claim(tenant=tenant, worker_id="w", limit=10)
        pending = AgentTask.objects.filter(tenant=tenant, status=TaskStatus.PENDING).count()
    assert (len(one), len(ten), pending) == (1, 10, 49)
