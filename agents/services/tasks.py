"""The task queue agent runtimes pull from.

Claiming is one statement: the next pending tasks of the tenant (platform-admin work first, then
by priority, then oldest) locked with FOR UPDATE SKIP LOCKED, so concurrent workers each take
different rows and none waits for another, and marked running with a lease. Heartbeats extend the
lease; a lease that runs out puts the task back to pending (`tasks_expire_leases`, periodic).
Complete and fail are idempotent for the worker that holds the task; a failure retries after an
exponential backoff until max_attempts, then the task is failed for good. A worker completes the
tasks of a claim in one batch (`tasks_complete_batch`, one statement when it holds them all).

Runtime traffic (enqueue, claim, heartbeat, complete, fail) is recorded by the task's row; a
cancel, an operator's act, is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from agents.models import Agent, AgentSession, AgentTask, Recipe, TaskStatus
from agents.stream import events
from audit.services import audit_record
from core.errors import Conflict

DEFAULT_LEASE_SECONDS = 300
MAX_LEASE_SECONDS = 3600
MAX_CLAIM = 100
BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 3600


def backoff_seconds(attempts: int) -> int:
    """The wait before retry number `attempts` (1, 2, ...): 2, 4, 8, ... seconds, at most an hour."""
    return int(min(BACKOFF_BASE_SECONDS ** max(attempts, 1), BACKOFF_MAX_SECONDS))


@transaction.atomic
def task_enqueue(
    *,
    tenant: Any,
    actor: User | None,
    payload: dict[str, Any] | None = None,
    agent: Agent | None = None,
    recipe: Recipe | None = None,
    session: AgentSession | None = None,
    priority: int = 0,
    max_attempts: int = 3,
    run_after: datetime | None = None,
) -> AgentTask:
    """Queue a task; a platform admin's goes ahead of everyone's (platform_priority)."""
    return AgentTask.objects.create(
        tenant=tenant,
        agent=agent or (session.agent if session is not None else None),
        recipe=recipe,
        session=session,
        payload=payload or {},
        priority=priority,
        max_attempts=max_attempts,
        run_after=run_after or timezone.now(),
        platform_priority=bool(getattr(actor, "is_platform_admin", False)),
        created_by=actor if getattr(actor, "pk", None) else None,
    )


# The rows are picked in a CTE: PostgreSQL runs a locking CTE exactly once. As `WHERE id IN
# (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)` the planner may rescan the subquery for every row
# it updates (a nested-loop semi-join), and each rescan skips the rows just locked and takes the
# next ones: one claim of LIMIT 1 took a whole 60-task queue.
_CLAIM_SQL = """
WITH picked AS (
    SELECT id FROM agents_agenttask
    WHERE tenant_id = %(tenant)s AND status = 'pending' AND run_after <= %(now)s {agent}
    ORDER BY platform_priority DESC, priority DESC, created_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE agents_agenttask t
SET status = 'running', claimed_by = %(worker)s, attempts = t.attempts + 1,
    lease_expires_at = %(lease)s, started_at = %(now)s, updated_at = %(now)s
FROM picked
WHERE t.id = picked.id
RETURNING t.*
"""


def task_claim(
    *,
    tenant: Any,
    worker_id: str,
    limit: int = 1,
    agent: Agent | None = None,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
) -> list[AgentTask]:
    """Hand up to `limit` pending tasks to `worker_id`, each to exactly one worker, highest
    priority first, leased for `lease_seconds`. One statement (its own transaction, or a part of
    the caller's): the claimed rows come back whole from it."""
    now = timezone.now()
    params = {
        "worker": worker_id,
        "lease": now + timedelta(seconds=lease_seconds),
        "now": now,
        "tenant": tenant.pk,
        "limit": limit,
        "agent": agent.pk if agent is not None else None,
    }
    sql = _CLAIM_SQL.format(agent="AND agent_id = %(agent)s" if agent is not None else "")
    tasks = list(AgentTask.objects.raw(sql, params))
    tasks.sort(key=lambda t: (not t.platform_priority, -t.priority, t.created_at, t.pk))
    return tasks


def _held(task: AgentTask, worker_id: str, *, locked: bool = False) -> AgentTask:
    """The task, locked, if `worker_id` holds it (running, its claim); else 409 lease_lost.
    `locked`: the caller has just read it with select_for_update (no second read)."""
    if not locked:
        task = AgentTask.objects.select_for_update().get(pk=task.pk)
    if task.status != TaskStatus.RUNNING or task.claimed_by != worker_id:
        raise Conflict(
            "This worker does not hold the task (its lease ran out or it was cancelled).", code="lease_lost"
        )
    return task


@transaction.atomic
def task_heartbeat(
    *, task: AgentTask, worker_id: str, lease_seconds: int = DEFAULT_LEASE_SECONDS
) -> AgentTask:
    """Extend the lease of a task the worker holds."""
    task = _held(task, worker_id)
    task.lease_expires_at = timezone.now() + timedelta(seconds=lease_seconds)
    task.save(update_fields=["lease_expires_at", "updated_at"])
    return task


# The common case in one statement (no read, then write): the worker holds the task, so it is
# completed and returned whole. Anything else (a retried completion, a lost lease) takes the
# slow path below.
_COMPLETE_SQL = """
UPDATE agents_agenttask
SET status = 'completed', result = %(result)s::jsonb, finished_at = %(now)s, lease_expires_at = NULL,
    updated_at = %(now)s
WHERE id = %(id)s AND tenant_id = %(tenant)s AND status = 'running' AND claimed_by = %(worker)s
RETURNING *
"""


def task_complete(*, task: AgentTask, worker_id: str, result: Any = None) -> AgentTask:
    """Complete a task the worker holds; completing it again (a retried request) answers the same.

    The common case is one statement (its own transaction, or a part of the caller's: no
    savepoint on the runtimes' hot path); the rest reads the task under its lock."""
    params = {
        "id": task.pk,
        "tenant": task.tenant_id,
        "worker": worker_id,
        "now": timezone.now(),
        "result": None if result is None else json.dumps(result, cls=DjangoJSONEncoder),
    }
    done = list(AgentTask.objects.raw(_COMPLETE_SQL, params))
    if done:
        events.task_status(done[0])
        return done[0]
    with transaction.atomic():
        current = AgentTask.objects.select_for_update().get(pk=task.pk)
        if current.status == TaskStatus.COMPLETED and current.claimed_by == worker_id:
            return current
        _held(current, worker_id, locked=True)  # raises: the worker does not hold it
    raise AssertionError("unreachable: a held task is completed by the statement above")


# A batch of completions in one statement: the items (id, result) as one JSON array, each task
# completed if this worker holds it, the completed ones returned (only what the event needs).
_COMPLETE_BATCH_SQL = """
UPDATE agents_agenttask t
SET status = 'completed', result = i.result, finished_at = %(now)s, lease_expires_at = NULL,
    updated_at = %(now)s
FROM jsonb_to_recordset(%(items)s::jsonb) AS i(task_id uuid, result jsonb)
WHERE t.id = i.task_id AND t.tenant_id = %(tenant)s AND t.status = 'running' AND t.claimed_by = %(worker)s
RETURNING t.id, t.tenant_id, t.agent_id, t.status, t.attempts
"""
# The tasks the statement above left alone, read under their lock: what each one's answer is.
_COMPLETE_BATCH_REST_SQL = """
SELECT id, status, claimed_by FROM agents_agenttask
WHERE tenant_id = %(tenant)s AND id = ANY(%(ids)s)
FOR UPDATE
"""

MAX_COMPLETE_BATCH = 100
DONE, ALREADY_DONE, LEASE_LOST, NOT_FOUND = "done", "already_done", "lease_lost", "not_found"


@dataclass(frozen=True)
class _Completed:
    """A task the batch completed: what `events.task_status` publishes."""

    pk: UUID
    tenant_id: UUID
    agent_id: UUID | None
    status: str
    attempts: int


@transaction.atomic
def tasks_complete_batch(
    *, tenant: Any, worker_id: str, items: list[tuple[Any, Any]]
) -> list[tuple[Any, str]]:
    """Complete the tasks of `items` ((task id, result), ids distinct) that `worker_id` holds, in
    one transaction; answer each item's outcome, in order: `done`, `already_done` (this worker
    completed it before: a retried request, nothing changes), `lease_lost` (the worker does not
    hold it: its lease ran out, it was cancelled, another worker has it) or `not_found` (no such
    task in the tenant). Exactly as the single `task_complete` per item, and as it, one statement
    when every task is held (the common case); the others are read under their lock after it."""
    payload = [{"task_id": str(task_id), "result": result} for task_id, result in items]
    params = {
        "items": json.dumps(payload, cls=DjangoJSONEncoder),
        "tenant": tenant.pk,
        "worker": worker_id,
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_COMPLETE_BATCH_SQL, params)
        completed = {row[0]: _Completed(*row) for row in cursor.fetchall()}
        rest = [task_id for task_id, _ in items if _uuid(task_id) not in completed]
        current: dict[UUID, tuple[str, str]] = {}
        if rest:
            cursor.execute(_COMPLETE_BATCH_REST_SQL, {"tenant": tenant.pk, "ids": [_uuid(t) for t in rest]})
            current = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    events.task_statuses(
        tenant.pk, [completed[_uuid(task_id)] for task_id, _ in items if _uuid(task_id) in completed]
    )
    outcomes: list[tuple[Any, str]] = []
    for task_id, _result in items:
        key = _uuid(task_id)
        if key in completed:
            outcome = DONE
        elif key not in current:
            outcome = NOT_FOUND
        elif current[key] == (TaskStatus.COMPLETED, worker_id):
            outcome = ALREADY_DONE
        else:
            outcome = LEASE_LOST
        outcomes.append((task_id, outcome))
    return outcomes


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


@transaction.atomic
def task_fail(*, task: AgentTask, worker_id: str, error: str, retry: bool = True) -> AgentTask:
    """Record a worker's failure: back to pending after a backoff while attempts remain (and
    `retry`), else failed. Idempotent: the same worker's repeated report changes nothing."""
    current = AgentTask.objects.select_for_update().get(pk=task.pk)
    if current.claimed_by == worker_id and current.status in (TaskStatus.FAILED, TaskStatus.PENDING):
        return current  # already reported by this worker (a pending task keeps its last claimer)
    task = _held(current, worker_id, locked=True)
    now = timezone.now()
    task.error, task.lease_expires_at = error, None
    if retry and task.attempts < task.max_attempts:
        task.status, task.run_after = (
            TaskStatus.PENDING,
            now + timedelta(seconds=backoff_seconds(task.attempts)),
        )
    else:
        task.status, task.finished_at = TaskStatus.FAILED, now
    task.save(update_fields=["status", "error", "lease_expires_at", "run_after", "finished_at", "updated_at"])
    events.task_status(task)
    return task


@transaction.atomic
def task_cancel(*, task: AgentTask, actor: User | None, reason: str = "") -> AgentTask:
    """Cancel a pending or running task (its worker's next heartbeat gets 409 lease_lost)."""
    task = AgentTask.objects.select_for_update().get(pk=task.pk)
    if task.status not in (TaskStatus.PENDING, TaskStatus.RUNNING):
        raise Conflict(f"The task is already {task.status}.", code="task_closed")
    before = task.status
    task.status, task.finished_at, task.lease_expires_at = TaskStatus.CANCELLED, timezone.now(), None
    task.save(update_fields=["status", "finished_at", "lease_expires_at", "updated_at"])
    events.task_status(task)
    audit_record(
        action="task.cancelled",
        tenant=task.tenant_id,
        target=task,
        details={"changes": {"status": {"old": before, "new": task.status}}, "reason": reason},
        actor=actor,
    )
    return task


@transaction.atomic
def task_retry(*, task: AgentTask, actor: User | None) -> AgentTask:
    """Put a failed or cancelled task back in the queue with a fresh set of attempts."""
    task = AgentTask.objects.select_for_update().get(pk=task.pk)
    if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        raise Conflict(
            f"Only failed or cancelled tasks are retried; this one is {task.status}.", code="task_open"
        )
    before = task.status
    task.status, task.attempts, task.run_after, task.finished_at = TaskStatus.PENDING, 0, timezone.now(), None
    task.claimed_by, task.error = "", ""
    task.save(
        update_fields=["status", "attempts", "run_after", "finished_at", "claimed_by", "error", "updated_at"]
    )
    audit_record(
        action="task.retried",
        tenant=task.tenant_id,
        target=task,
        details={"changes": {"status": {"old": before, "new": task.status}}},
        actor=actor,
    )
    return task


# Every tenant's expired leases in one statement: back to pending while attempts remain, else
# failed. The caller runs it under the platform bypass (it is platform-wide housekeeping).
_EXPIRE_SQL = """
UPDATE agents_agenttask
SET status = CASE WHEN attempts < max_attempts THEN 'pending' ELSE 'failed' END,
    finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE %(now)s END,
    run_after = %(now)s, lease_expires_at = NULL, updated_at = %(now)s,
    error = 'The lease expired: the worker stopped sending heartbeats.'
WHERE status = 'running' AND lease_expires_at < %(now)s
"""


@transaction.atomic
def tasks_expire_leases(*, now: datetime | None = None) -> int:
    """Return every running task whose lease ran out to pending (or fail it, attempts spent)."""
    with connection.cursor() as cursor:
        cursor.execute(_EXPIRE_SQL, {"now": now or timezone.now()})
        return cursor.rowcount
