"""A tenant's task queue (issue 13): tabs by status with their counters (pending, running,
completed, failed, cancelled), an agent filter; retry a failed (or cancelled) task, cancel a
pending (or running) one, through agents.services (task_retry, task_cancel: audited, 409 on a
task that moved on meanwhile, shown in place).

Guards are the API's: tasks:read to see the queue, tasks:write to retry and cancel. Another
tenant's task id answers 404.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import urlencode

from accounts.models import User
from agents import selectors, services
from agents.models import AgentTask, TaskStatus
from console.access import refusal_page, render_page, tenant_page
from console.forms_agents_work import CancelForm, TaskFilterForm
from core.access import TenantAccess
from core.errors import DomainError

TASKS = "console/tasks/tasks.html"
PAGE_SIZE = 100
RETRYABLE = (TaskStatus.FAILED, TaskStatus.CANCELLED)
CANCELLABLE = (TaskStatus.PENDING, TaskStatus.RUNNING)


def _may_write(access: TenantAccess) -> bool:
    return access.allows("tasks:write") and not access.tenant.is_suspended


def tasks_context(access: TenantAccess, request: HttpRequest, **extra: Any) -> dict[str, Any]:
    status = request.GET.get("status") or TaskStatus.PENDING
    if status not in TaskStatus.values:
        status = TaskStatus.PENDING
    agents = list(selectors.agent_list(access=access))
    filters = TaskFilterForm(request.GET or None, agents=agents)
    agent = filters.cleaned_data["agent"] if filters.is_bound and filters.is_valid() else ""
    queue = selectors.task_list(tenant=access.tenant.pk, filters={"agent": agent}, access=access)
    counts = dict(queue.order_by().values_list("status").annotate(n=Count("id")))
    query = {"agent": agent} if agent else {}
    tabs = [
        {
            "status": value,
            "label": label,
            "count": counts.get(value, 0),
            "url": f"?{urlencode({**query, 'status': value})}",
            "current": value == status,
        }
        for value, label in TaskStatus.choices
    ]
    rows = list(queue.filter(status=status).select_related("agent", "recipe")[: PAGE_SIZE + 1])
    return {
        "tasks": rows[:PAGE_SIZE],
        "more": len(rows) > PAGE_SIZE,
        "status": status,
        "status_label": TaskStatus(status).label,
        "tabs": tabs,
        "filters": filters,
        "agent": agent,
        "may_write": _may_write(access),
        "retryable": RETRYABLE,
        "cancellable": CANCELLABLE,
        "back": f"?{urlencode({**query, 'status': status})}",
        **extra,
    }


@tenant_page("tasks:read")
def tasks(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The queue, one status at a time, with every status's count."""
    context = tasks_context(access, request)
    status = 400 if context["filters"].is_bound and not context["filters"].is_valid() else 200
    return render_page(request, TASKS, context, access=access, status=status)


def _task(access: TenantAccess, task_id: UUID) -> AgentTask | None:
    return selectors.task_get(tenant=access.tenant.pk, task_id=task_id, access=access)


def _back(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    url = reverse("console:tasks", kwargs={"tenant_id": access.tenant.pk})
    back = request.POST.get("back", "")
    # Only our own query string (?status=...&agent=...) goes back into the redirect.
    return redirect(url + back if back.startswith("?") and "//" not in back else url)


def _act(request: HttpRequest, access: TenantAccess, task_id: UUID, action: str) -> HttpResponse:
    found = _task(access, task_id)
    if found is None:
        return refusal_page(request, status=404, detail="There is no such task in this tenant.")
    actor = cast(User, request.user)
    try:
        if action == "retry":
            services.task_retry(task=found, actor=actor)
            messages.success(request, "The task is back in the queue, pending, with fresh attempts.")
        else:
            form = CancelForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            services.task_cancel(task=found, actor=actor, reason=reason)
            messages.success(request, "Cancelled the task.")
    except DomainError as exc:  # the task moved on meanwhile (409): said on the queue's page
        context = tasks_context(access, request, error=exc.detail)
        return render_page(request, TASKS, context, access=access, status=exc.status_code)
    return _back(request, access)


@tenant_page("tasks:write", methods=("POST",))
def task_retry(request: HttpRequest, access: TenantAccess, task_id: UUID) -> HttpResponse:
    return _act(request, access, task_id, "retry")


@tenant_page("tasks:write", methods=("POST",))
def task_cancel(request: HttpRequest, access: TenantAccess, task_id: UUID) -> HttpResponse:
    return _act(request, access, task_id, "cancel")


TENANT = "t/<uuid:tenant_id>/"
urlpatterns = [
    path(f"{TENANT}tasks/", tasks, name="tasks"),
    path(f"{TENANT}tasks/<uuid:task_id>/retry/", task_retry, name="task_retry"),
    path(f"{TENANT}tasks/<uuid:task_id>/cancel/", task_cancel, name="task_cancel"),
]
