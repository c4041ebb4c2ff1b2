"""Completing a batch of tasks (`POST .../tasks/complete`): each task exactly once under 8
concurrent workers, each item answered as the single complete would (done, already done, lease
lost, not found), one statement when every task is held, another tenant's tasks untouched."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents import services
from agents.models import AgentTask, TaskStatus
from agents.services.tasks import MAX_COMPLETE_BATCH, tasks_complete_batch
from agents.stream import events
from agents.tests.factories import AgentFactory, TaskFactory, fill_queue
from billing.tests.test_concurrency import in_threads
from core.tenancy import platform_bypass, tenant_context
from tenants.tests.factories import TenantFactory

WORKERS = 8
TASKS_PER_WORKER = 500
CLAIM_LIMIT = 25


def _url(tenant: Any) -> str:
    return f"/api/v1/tenants/{tenant.pk}/tasks/complete"


def _held(tenant: Any, worker: str = "w", **values: Any) -> AgentTask:
    agent = AgentFactory.create(tenant=tenant)
    values = {
        "status": "running",
        "claimed_by": worker,
        "lease_expires_at": timezone.now() + timedelta(minutes=5),
        "attempts": 1,
        **values,
    }
    return TaskFactory.create(agent=agent, **values)


@pytest.fixture
def published(monkeypatch: Any) -> list[tuple[Any, str, dict[str, Any]]]:
    """What the agents app publishes on the live stream during the test."""
    sent: list[tuple[Any, str, dict[str, Any]]] = []
    monkeypatch.setattr(
        events.stream,
        "publish_many",
        lambda tenant, items: sent.extend((tenant, kind, data) for kind, data in items),
    )
    return sent


@pytest.mark.django_db(transaction=True)
def test_tasks_complete_batch__8_workers_x_500_tasks_claim_n__each_task_completed_exactly_once():
    agent = fill_queue(WORKERS * TASKS_PER_WORKER)
    tenant = agent.tenant

    def work(i: int) -> list[Any]:
        done: list[Any] = []
        worker = f"worker-{i}"
        while True:
            with tenant_context(tenant.pk):
                claimed = services.task_claim(tenant=tenant, worker_id=worker, limit=CLAIM_LIMIT)
                if not claimed:
                    return done
                outcomes = tasks_complete_batch(
                    tenant=tenant, worker_id=worker, items=[(t.pk, {"by": i}) for t in claimed]
                )
            assert [o for _, o in outcomes] == ["done"] * len(claimed)
            done += [task_id for task_id, _ in outcomes]

    results = in_threads(WORKERS, work)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    runs = Counter(task_id for done in results for task_id in done)
    with platform_bypass(reason="test: check", log=False):
        rows = list(
            AgentTask.objects.filter(tenant=tenant).values_list("status", "attempts", "result", "claimed_by")
        )
    assert len(runs) == WORKERS * TASKS_PER_WORKER == len(rows)
    assert set(runs.values()) == {1}  # none twice
    assert {(status, attempts) for status, attempts, _, _ in rows} == {(TaskStatus.COMPLETED, 1)}
    # Each task's result is the one its own worker sent.
    assert all(result == {"by": int(by.removeprefix("worker-"))} for _, _, result, by in rows)
    assert sum(1 for done in results if done) == WORKERS


def test_tasks_complete_batch__mixed_items__each_answered_in_order_one_event_per_completion(
    tenant, owner, as_user, published
):
    held, also_held = _held(tenant), _held(tenant)
    before = _held(tenant)
    with tenant_context(tenant):
        services.task_complete(task=before, worker_id="w", result={"first": True})
    published.clear()
    others = _held(tenant, worker="someone-else")
    expired = _held(tenant, status="pending", lease_expires_at=None)
    missing = uuid.uuid4()
    body = {
        "worker_id": "w",
        "items": [
            {"task_id": str(held.pk), "result": {"rows": [1, 2]}},
            {"task_id": str(before.pk), "result": {"first": False}},
            {"task_id": str(others.pk)},
            {"task_id": str(expired.pk), "result": None},
            {"task_id": str(missing)},
            {"task_id": str(also_held.pk)},
        ],
    }

    response = as_user(owner).post(_url(tenant), body, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "results": [
            {"task_id": str(held.pk), "outcome": "done"},
            {"task_id": str(before.pk), "outcome": "already_done"},
            {"task_id": str(others.pk), "outcome": "lease_lost"},
            {"task_id": str(expired.pk), "outcome": "lease_lost"},
            {"task_id": str(missing), "outcome": "not_found"},
            {"task_id": str(also_held.pk), "outcome": "done"},
        ]
    }
    with tenant_context(tenant):
        state = {t.pk: (t.status, t.result, t.lease_expires_at) for t in AgentTask.objects.all()}
    assert state[held.pk] == (TaskStatus.COMPLETED, {"rows": [1, 2]}, None)
    assert state[also_held.pk] == (TaskStatus.COMPLETED, None, None)
    assert state[before.pk][:2] == (TaskStatus.COMPLETED, {"first": True})  # the replay changed nothing
    assert state[others.pk][0] == TaskStatus.RUNNING
    assert state[expired.pk][0] == TaskStatus.PENDING
    assert published == [
        (
            tenant.pk,
            "task.status",
            {"task_id": str(task.pk), "agent_id": str(task.agent_id), "status": "completed", "attempts": 1},
        )
        for task in (held, also_held)
    ]


def test_tasks_complete_batch__repeated_request__same_tasks_already_done_nothing_changed(
    tenant, owner, as_user, published
):
    tasks = [_held(tenant) for _ in range(3)]
    body: dict[str, Any] = {
        "worker_id": "w",
        "items": [{"task_id": str(t.pk), "result": {"n": n}} for n, t in enumerate(tasks)],
    }
    first = as_user(owner).post(_url(tenant), body, format="json")
    with tenant_context(tenant):
        finished = dict(AgentTask.objects.values_list("id", "finished_at"))
    replay = {**body, "items": [{**item, "result": "changed"} for item in body["items"]]}

    again = as_user(owner).post(_url(tenant), replay, format="json")

    assert (first.status_code, again.status_code) == (200, 200), again.content
    assert [r["outcome"] for r in first.json()["results"]] == ["done"] * 3
    assert [r["outcome"] for r in again.json()["results"]] == ["already_done"] * 3
    with tenant_context(tenant):
        after = {t.pk: (t.result, t.finished_at) for t in AgentTask.objects.all()}
    assert after == {t.pk: ({"n": n}, finished[t.pk]) for n, t in enumerate(tasks)}
    assert len(published) == 3  # the replay published nothing


def test_tasks_complete_batch__another_tenants_task__not_found_and_untouched(
    tenant, owner, as_user, published
):
    other_tenant = TenantFactory.create()
    theirs = _held(other_tenant, worker="w")
    mine = _held(tenant, worker="w")
    body = {"worker_id": "w", "items": [{"task_id": str(theirs.pk)}, {"task_id": str(mine.pk)}]}

    response = as_user(owner).post(_url(tenant), body, format="json")
    into_theirs = as_user(owner).post(_url(other_tenant), body, format="json")

    assert response.status_code == 200, response.content
    assert [r["outcome"] for r in response.json()["results"]] == ["not_found", "done"]
    assert into_theirs.status_code in (403, 404)
    with platform_bypass(reason="test: check", log=False):
        theirs_now = AgentTask.objects.get(pk=theirs.pk)
    assert (theirs_now.status, theirs_now.finished_at, theirs_now.updated_at) == (
        TaskStatus.RUNNING,
        None,
        theirs.updated_at,
    )
    assert [data["task_id"] for _, _, data in published] == [str(mine.pk)]


def test_tasks_complete_batch__every_task_held__one_statement(tenant, published):
    tasks = [_held(tenant) for _ in range(10)]
    with tenant_context(tenant), CaptureQueriesContext(connection) as queries:
        outcomes = tasks_complete_batch(
            tenant=tenant, worker_id="w", items=[(t.pk, {"ok": 1}) for t in tasks]
        )
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert [o for _, o in outcomes] == ["done"] * 10
    assert len(statements) == 1, statements
    assert statements[0].lstrip().startswith("UPDATE agents_agenttask")


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "items"),
        ([{"task_id": "0000000a-0000-4000-8000-0000000000aa"}] * 2, "items"),
        ([{"task_id": str(uuid.uuid4())} for _ in range(MAX_COMPLETE_BATCH + 1)], "items"),
        ([{"task_id": "not-an-id"}], "items"),
        ([{"task_id": str(uuid.uuid4()), "status": "completed"}], "items"),
        ("nope", "items"),
    ],
    ids=["empty", "duplicate", "over-100", "bad-id", "unknown-field", "not-a-list"],
)
def test_tasks_complete_batch__bad_items__400_with_field_nothing_changed(
    tenant, owner, as_user, items, field
):
    task = _held(tenant)
    response = as_user(owner).post(_url(tenant), {"worker_id": "w", "items": items}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("invalid", "validation_error", "unknown_field"), response.json()
    assert field in str(response.json())
    with tenant_context(tenant):
        assert AgentTask.objects.get(pk=task.pk).status == TaskStatus.RUNNING


def test_tasks_complete_batch__100_items__accepted(tenant, owner, as_user, published):
    items = [{"task_id": str(uuid.uuid4())} for _ in range(MAX_COMPLETE_BATCH)]
    response = as_user(owner).post(_url(tenant), {"worker_id": "w", "items": items}, format="json")
    assert response.status_code == 200, response.content
    assert [r["outcome"] for r in response.json()["results"]] == ["not_found"] * MAX_COMPLETE_BATCH


def test_tasks_complete_batch__viewer_without_tasks_write__403(tenant, viewer, as_user):
    task = _held(tenant)
    response = as_user(viewer).post(
        _url(tenant), {"worker_id": "w", "items": [{"task_id": str(task.pk)}]}, format="json"
    )
    assert response.status_code == 403, response.content
    with tenant_context(tenant):
        assert AgentTask.objects.get(pk=task.pk).status == TaskStatus.RUNNING
