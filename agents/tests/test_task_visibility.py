"""Who sees which tasks (issue 13): owners, admins and platform staff every task of the tenant;
other members the tasks of the agents they see (their team's, those shared with them), never
another team's nor a task of no agent; over the API (list, detail, cancel, retry) and the
console's queue. Workers' heartbeat/complete/fail stay on the task they claimed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from guardian.shortcuts import assign_perm

from agents.models import AgentTask, TaskStatus
from agents.tests.factories import AgentFactory, TaskFactory
from console.tests.conftest import sign_in
from core.tenancy import platform_bypass
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(tenant: Any, team: Any) -> dict[str, Any]:
    ours = AgentFactory.create(tenant=tenant, team=team, name="Team agent")
    theirs = AgentFactory.create(tenant=tenant, name="Other team's agent")
    shared = AgentFactory.create(tenant=tenant, name="Shared agent")
    return {
        "ours": TaskFactory.create(agent=ours, payload={"n": "ours"}),
        "theirs": TaskFactory.create(agent=theirs, payload={"n": "theirs"}),
        "shared": TaskFactory.create(agent=shared, payload={"n": "shared"}),
        "none": TaskFactory.create(agent=None, tenant=tenant, payload={"n": "none"}),
        "shared_agent": shared,
    }


def _listed(client: Any, tenant: Any) -> set[str]:
    response = client.get(f"/api/v1/tenants/{tenant.pk}/tasks/")
    assert response.status_code == 200, response.content
    return {row["payload"]["n"] for row in response.json()["results"]}


def test_tasks_list__owner_admin_staff__every_task(
    as_user: Any, tenant: Any, owner: Any, admin: Any, platform_admin: Any, queue: Any
) -> None:
    for user in (owner, admin, platform_admin):
        assert _listed(as_user(user), tenant) == {"ours", "theirs", "shared", "none"}


def test_tasks_list__member__their_teams_and_shared_agents_tasks_only(
    as_user: Any, tenant: Any, teammate: Any, queue: Any
) -> None:
    client = as_user(teammate)
    assert _listed(client, tenant) == {"ours"}
    with platform_bypass(reason="test", log=False):
        assign_perm("view_agent", teammate, queue["shared_agent"])
    assert _listed(client, tenant) == {"ours", "shared"}


def test_tasks_list__member_without_a_team__none(as_user: Any, tenant: Any, queue: Any) -> None:
    assert _listed(as_user(member(tenant, "member")), tenant) == set()


def test_task_detail_cancel_retry__invisible_task__404_nothing_changed(
    as_user: Any, tenant: Any, teammate: Any, queue: Any
) -> None:
    client = as_user(teammate)
    base = f"/api/v1/tenants/{tenant.pk}/tasks"
    for key in ("theirs", "none"):
        task = queue[key]
        assert client.get(f"{base}/{task.pk}/").status_code == 404
        assert client.post(f"{base}/{task.pk}/cancel", {}, format="json").status_code == 404
    assert client.get(f"{base}/{queue['ours'].pk}/").status_code == 200
    assert client.post(f"{base}/{queue['ours'].pk}/cancel", {}, format="json").status_code == 200
    with platform_bypass(reason="test", log=False):
        AgentTask.objects.filter(pk=queue["theirs"].pk).update(status=TaskStatus.FAILED)
        assert client.post(f"{base}/{queue['theirs'].pk}/retry", format="json").status_code == 404
        statuses = dict(AgentTask.objects.values_list("payload__n", "status"))
    assert statuses == {"ours": "cancelled", "theirs": "failed", "shared": "pending", "none": "pending"}


def test_task_worker_calls__claimed_task_of_an_unseen_agent__still_completed(
    as_user: Any, tenant: Any, teammate: Any, queue: Any
) -> None:
    """A worker acting for a member completes what it claimed: claims are tenant-wide."""
    client = as_user(teammate)
    base = f"/api/v1/tenants/{tenant.pk}/tasks"
    claimed = client.post(f"{base}/claim", {"worker_id": "w-1", "limit": 10}, format="json").json()
    theirs = next(row for row in claimed if row["payload"]["n"] == "theirs")
    done = client.post(f"{base}/{theirs['id']}/complete", {"worker_id": "w-1"}, format="json")
    assert (done.status_code, done.json()["status"]) == (200, "completed")


def test_console_tasks_page__member__only_visible_tasks_counted_and_listed(
    tenant: Any, teammate: Any, queue: Any
) -> None:
    client = Client()
    assert sign_in(client, teammate).status_code == 302
    body = client.get(f"/t/{tenant.pk}/tasks/").content.decode()
    assert f'data-testid="task-{queue["ours"].pk}"' in body
    for key in ("theirs", "shared", "none"):
        assert f'data-testid="task-{queue[key].pk}"' not in body
    assert '<span data-testid="count-pending">1</span>' in body
    assert client.post(f"/t/{tenant.pk}/tasks/{queue['theirs'].pk}/cancel/").status_code == 404
