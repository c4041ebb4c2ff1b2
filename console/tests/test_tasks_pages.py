"""The console's task queue page (issue 13): tabs by status with counters, the agent filter, retry
a failed task and cancel a pending one (the state machine's 409 said in place), guards, other
tenants' ids, query counts independent of the queue's size."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.models import Agent, AgentTask
from agents.tests.factories import AgentFactory, TaskFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from tenants.tests.factories import TeamFactory, member

pytestmark = pytest.mark.django_db


def _page(tenant: Any) -> str:
    return f"/t/{tenant.pk}/tasks/"


def _status(task: Any) -> tuple[str, int]:
    with platform_bypass(reason="test", log=False):
        found = AgentTask.objects.get(pk=task.pk)
    return found.status, found.attempts


def _audit(tenant: Any, action: str) -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(tenant=tenant, action=action))


def _statements(client: Client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]])


def _queue(tenant: Any) -> dict[str, Any]:
    agent = AgentFactory.create(tenant=tenant, name="Bugsy")
    return {
        "pending": TaskFactory.create(agent=agent, status="pending"),
        "failed": TaskFactory.create(agent=agent, status="failed", attempts=3, error="Boom: out of cheese"),
        "completed": TaskFactory.create(agent=agent, status="completed", attempts=1),
    }


def test_tasks_page__owner__tabs_with_counts_pending_listed_first(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    tasks = _queue(tenant)
    TaskFactory.create(agent=tasks["pending"].agent, status="pending")
    body = signed_in(owner).get(_page(tenant)).content.decode()
    assert '<span data-testid="count-pending">2</span>' in body
    assert '<span data-testid="count-failed">1</span>' in body
    assert '<span data-testid="count-running">0</span>' in body
    assert f'data-testid="task-{tasks["pending"].pk}"' in body
    assert f'data-testid="task-{tasks["failed"].pk}"' not in body
    assert ">Cancel</button>" in body
    assert f'href="{_page(tenant)}" aria-current="page"' in body  # the nav's Tasks section


def test_tasks_page__failed_tab__error_and_retry_button(signed_in: Any, tenant: Any, owner: Any) -> None:
    tasks = _queue(tenant)
    body = signed_in(owner).get(_page(tenant), {"status": "failed"}).content.decode()
    assert f'data-testid="task-{tasks["failed"].pk}"' in body
    assert "Boom: out of cheese" in body
    assert ">Retry</button>" in body
    assert ">Cancel</button>" not in body


def test_tasks_page__agent_filter__only_that_agents_tasks_and_counts(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    tasks = _queue(tenant)
    scribe = AgentFactory.create(tenant=tenant, name="Scribe")
    theirs = TaskFactory.create(agent=scribe, status="pending")
    body = signed_in(owner).get(_page(tenant), {"agent": str(scribe.pk)}).content.decode()
    assert f'data-testid="task-{theirs.pk}"' in body
    assert f'data-testid="task-{tasks["pending"].pk}"' not in body
    assert '<span data-testid="count-failed">0</span>' in body


def test_tasks_page__bad_agent_filter__400_in_place(signed_in: Any, tenant: Any, owner: Any) -> None:
    response = signed_in(owner).get(_page(tenant), {"agent": "nope"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_task_retry__failed__pending_again_with_fresh_attempts_audited(
    signed_in: Any, tenant: Any, owner: Any
) -> None:
    failed = _queue(tenant)["failed"]
    response = signed_in(owner).post(f"{_page(tenant)}{failed.pk}/retry/", {"back": "?status=failed"})
    assert (response.status_code, response["Location"]) == (302, f"{_page(tenant)}?status=failed")
    assert _status(failed) == ("pending", 0)
    assert [e.target_id for e in _audit(tenant, "task.retried")] == [str(failed.pk)]


def test_task_cancel__pending__cancelled_audited(signed_in: Any, tenant: Any, owner: Any) -> None:
    pending = _queue(tenant)["pending"]
    response = signed_in(owner).post(f"{_page(tenant)}{pending.pk}/cancel/", {"back": "https://evil.example"})
    assert (response.status_code, response["Location"]) == (302, _page(tenant))  # no open redirect
    assert _status(pending)[0] == "cancelled"
    assert len(_audit(tenant, "task.cancelled")) == 1


@pytest.mark.parametrize(
    ("which", "action", "expected"),
    [
        ("completed", "retry", "completed"),
        ("pending", "retry", "pending"),
        ("completed", "cancel", "completed"),
        ("failed", "cancel", "failed"),
    ],
)
def test_task_action__illegal_state__409_said_in_place_nothing_changed(
    signed_in: Any, tenant: Any, owner: Any, which: str, action: str, expected: str
) -> None:
    task = _queue(tenant)[which]
    response = signed_in(owner).post(f"{_page(tenant)}{task.pk}/{action}/")
    assert response.status_code == 409
    assert 'role="alert"' in response.content.decode()
    assert _status(task)[0] == expected
    assert _audit(tenant, f"task.{'retried' if action == 'retry' else 'cancelled'}") == []


def test_tasks_page__viewer__no_buttons_and_post_403(signed_in: Any, tenant: Any) -> None:
    tasks = _queue(tenant)
    team = TeamFactory.create(tenant=tenant)
    with platform_bypass(reason="test", log=False):
        Agent.objects.filter(pk=tasks["pending"].agent_id).update(team=team)
    client = signed_in(member(tenant, "viewer", team=team))  # a viewer sees their team's tasks
    body = client.get(_page(tenant)).content.decode()
    assert f'data-testid="task-{tasks["pending"].pk}"' in body
    assert ">Cancel</button>" not in body
    assert client.post(f"{_page(tenant)}{tasks['pending'].pk}/cancel/").status_code == 403
    assert client.post(f"{_page(tenant)}{tasks['failed'].pk}/retry/").status_code == 403
    assert _status(tasks["pending"])[0] == "pending"


def test_task_actions__another_tenants_task__404_nothing_changed(
    signed_in: Any, tenant: Any, owner: Any, other_tenant: Any
) -> None:
    theirs = _queue(other_tenant)
    client = signed_in(owner)
    assert client.post(f"{_page(tenant)}{theirs['pending'].pk}/cancel/").status_code == 404
    assert client.post(f"{_page(tenant)}{theirs['failed'].pk}/retry/").status_code == 404
    assert _status(theirs["pending"])[0] == "pending"
    assert _status(theirs["failed"])[0] == "failed"
    assert client.get(_page(other_tenant)).status_code == 403


def test_tasks_page__query_count__same_for_one_task_and_many(signed_in: Any, tenant: Any, owner: Any) -> None:
    agent = AgentFactory.create(tenant=tenant)
    TaskFactory.create(agent=agent, status="pending")
    client = signed_in(owner)
    few = _statements(client, _page(tenant))
    for status in ("pending", "failed", "running", "completed"):
        TaskFactory.create_batch(
            4,
            agent=AgentFactory.create(tenant=tenant),
            status=status,
            lease_expires_at="2030-01-01T00:00:00Z",
        )
    assert _statements(client, _page(tenant)) == few
