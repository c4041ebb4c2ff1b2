"""The task queue over HTTP: enqueue, list, claim (each task to exactly one worker), heartbeat,
complete (one task, or a batch of them), fail (idempotent for the worker that holds the task),
cancel and retry."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents import selectors, services
from agents.api.common import Input, TaskOutput, filters_of
from agents.errors import invalid
from agents.models import AgentTask, TaskStatus
from agents.services.tasks import (
    ALREADY_DONE,
    DEFAULT_LEASE_SECONDS,
    DONE,
    LEASE_LOST,
    MAX_CLAIM,
    MAX_COMPLETE_BATCH,
    MAX_LEASE_SECONDS,
    NOT_FOUND,
    tasks_complete_batch,
)
from core.api import TenantScopedApi
from core.errors import NotFound

TASK_FILTERS = ("status", "agent", "session", "claimed_by")


def _worker() -> serializers.RegexField:
    return serializers.RegexField(r"^[A-Za-z0-9_.:@/-]{1,200}$", help_text="The worker's own stable id.")


def _lease() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=5, max_value=MAX_LEASE_SECONDS, default=DEFAULT_LEASE_SECONDS)


class TaskMixin:
    access: Any
    tenant: Any

    def _task(self, task_id: Any, *, narrowed: bool = True) -> AgentTask:
        # A person's reads and their cancel/retry see the tasks of the agents they see; a
        # worker's heartbeat/complete/fail act on the task it claimed (the claim is tenant-wide).
        access = self.access if narrowed else None
        task = selectors.task_get(tenant=self.tenant.pk, task_id=task_id, access=access)
        if task is None:
            raise NotFound()
        return task

    def _agent(self, agent_id: Any) -> Any:
        agent = selectors.agent_get(access=self.access, agent_id=agent_id, codename="run_agent")
        if agent is None:
            raise invalid("agent_id", "No such agent (or not one you may run).")
        return agent


class TaskEnqueueInput(Input):
    agent_id = serializers.UUIDField(required=False, allow_null=True)
    recipe_id = serializers.UUIDField(required=False, allow_null=True)
    session_id = serializers.UUIDField(required=False, allow_null=True)
    payload = serializers.DictField(required=False)
    priority = serializers.IntegerField(min_value=-100, max_value=100, required=False)
    max_attempts = serializers.IntegerField(min_value=1, max_value=50, required=False)
    run_after = serializers.DateTimeField(required=False)


class TaskListCreateApi(TaskMixin, TenantScopedApi):
    permission_map = {"GET": "tasks:read", "POST": "tasks:write"}

    @extend_schema(
        responses=TaskOutput(many=True),
        parameters=[OpenApiParameter(name, str, OpenApiParameter.QUERY) for name in TASK_FILTERS],
        operation_id="tasks_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        filters: dict[str, Any] = filters_of(request, TASK_FILTERS)
        if filters.get("status") and filters["status"] not in TaskStatus.values:
            raise invalid("status", "Not a task status.")
        for name in ("agent", "session"):
            if name in filters:
                try:
                    filters[name] = serializers.UUIDField().to_internal_value(filters[name])
                except serializers.ValidationError as exc:
                    raise invalid(name, "Not an id.") from exc
        return self.paginated(
            selectors.task_list(tenant=self.tenant.pk, filters=filters, access=self.access), TaskOutput
        )

    @extend_schema(request=TaskEnqueueInput, responses={201: TaskOutput}, operation_id="task_enqueue")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = TaskEnqueueInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        agent_id, recipe_id, session_id = (
            values.pop(k, None) for k in ("agent_id", "recipe_id", "session_id")
        )
        agent = self._agent(agent_id) if agent_id else None
        recipe = None
        if recipe_id:
            recipe = selectors.recipe_list().filter(pk=recipe_id).first()
            if recipe is None:
                raise invalid("recipe_id", "No such active recipe.")
        session = None
        if session_id:
            session = selectors.session_get(access=self.access, session_id=session_id, codename="run_agent")
            if session is None:
                raise invalid("session_id", "No such session.")
        task = services.task_enqueue(
            tenant=self.tenant, actor=self.user, agent=agent, recipe=recipe, session=session, **values
        )
        return Response(TaskOutput(task).data, status=status.HTTP_201_CREATED)


class TaskClaimInput(Input):
    worker_id = _worker()
    agent_id = serializers.UUIDField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_CLAIM, default=1)
    lease_seconds = _lease()


class TaskClaimApi(TaskMixin, TenantScopedApi):
    """Claim up to `limit` pending tasks for a worker (FOR UPDATE SKIP LOCKED): each task goes to
    exactly one worker, platform-admin work first, then by priority, then oldest."""

    permission_map = {"POST": "tasks:write"}
    # The claimed tasks are the answer, all of them (at most `limit`): a bare array, not a page.
    pagination_class = None

    @extend_schema(request=TaskClaimInput, responses=TaskOutput(many=True), operation_id="tasks_claim")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = TaskClaimInput(data=request.data)
        data.is_valid(raise_exception=True)
        agent_id = data.validated_data.get("agent_id")
        tasks = services.task_claim(
            tenant=self.tenant,
            worker_id=data.validated_data["worker_id"],
            limit=data.validated_data["limit"],
            agent=self._agent(agent_id) if agent_id else None,
            lease_seconds=data.validated_data["lease_seconds"],
        )
        return Response(TaskOutput(tasks, many=True).data)


class TaskDetailApi(TaskMixin, TenantScopedApi):
    permission_map = {"GET": "tasks:read"}

    @extend_schema(responses=TaskOutput, operation_id="task_get")
    def get(self, request: Request, tenant_id: Any, task_id: Any) -> Response:
        return Response(TaskOutput(self._task(task_id)).data)


class TaskHeartbeatInput(Input):
    worker_id = _worker()
    lease_seconds = _lease()


class TaskHeartbeatApi(TaskMixin, TenantScopedApi):
    permission_map = {"POST": "tasks:write"}

    @extend_schema(request=TaskHeartbeatInput, responses=TaskOutput, operation_id="task_heartbeat")
    def post(self, request: Request, tenant_id: Any, task_id: Any) -> Response:
        data = TaskHeartbeatInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_heartbeat(task=self._task(task_id, narrowed=False), **data.validated_data)
        return Response(TaskOutput(task).data)


class TaskCompleteInput(Input):
    worker_id = _worker()
    result = serializers.JSONField(required=False, allow_null=True)


class TaskCompleteApi(TaskMixin, TenantScopedApi):
    permission_map = {"POST": "tasks:write"}

    @extend_schema(request=TaskCompleteInput, responses=TaskOutput, operation_id="task_complete")
    def post(self, request: Request, tenant_id: Any, task_id: Any) -> Response:
        data = TaskCompleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_complete(task=self._task(task_id, narrowed=False), **data.validated_data)
        return Response(TaskOutput(task).data)


class TaskBatchItemInput(Input):
    task_id = serializers.UUIDField()
    result = serializers.JSONField(required=False, allow_null=True)


class TaskCompleteBatchInput(Input):
    worker_id = _worker()
    items: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=TaskBatchItemInput(), allow_empty=False, max_length=MAX_COMPLETE_BATCH
    )

    def validate_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [item["task_id"] for item in items]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("A task is named twice.", code="duplicate")
        return items


class TaskBatchOutcomeOutput(serializers.Serializer):
    task_id = serializers.UUIDField()
    outcome = serializers.ChoiceField(choices=[DONE, ALREADY_DONE, LEASE_LOST, NOT_FOUND])


class TaskCompleteBatchOutput(serializers.Serializer):
    results = TaskBatchOutcomeOutput(many=True)


class TaskCompleteBatchApi(TaskMixin, TenantScopedApi):
    """Complete up to 100 tasks the worker holds in one request: each item answered as the
    single complete would (`done`; `already_done`, a retried completion, changes nothing;
    `lease_lost`; `not_found`, no such task in the tenant), in order, with a 200. Failures are
    reported one by one (`.../{task_id}/fail`: each has its own retry and backoff)."""

    permission_map = {"POST": "tasks:write"}

    @extend_schema(
        request=TaskCompleteBatchInput, responses=TaskCompleteBatchOutput, operation_id="tasks_complete_batch"
    )
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = TaskCompleteBatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        outcomes = tasks_complete_batch(
            tenant=self.tenant,
            worker_id=data.validated_data["worker_id"],
            items=[(item["task_id"], item.get("result")) for item in data.validated_data["items"]],
        )
        return Response({"results": [{"task_id": str(t), "outcome": o} for t, o in outcomes]})


class TaskFailInput(Input):
    worker_id = _worker()
    error = serializers.CharField(max_length=10_000)
    retry = serializers.BooleanField(default=True)


class TaskFailApi(TaskMixin, TenantScopedApi):
    permission_map = {"POST": "tasks:write"}

    @extend_schema(request=TaskFailInput, responses=TaskOutput, operation_id="task_fail")
    def post(self, request: Request, tenant_id: Any, task_id: Any) -> Response:
        data = TaskFailInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_fail(task=self._task(task_id, narrowed=False), **data.validated_data)
        return Response(TaskOutput(task).data)


class TaskReasonInput(Input):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class TaskCancelApi(TaskMixin, TenantScopedApi):
    permission_map = {"POST": "tasks:write"}

    @extend_schema(request=TaskReasonInput, responses=TaskOutput, operation_id="task_cancel")
    def post(self, request: Request, tenant_id: Any, task_id: Any) -> Response:
        data = TaskReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_cancel(
            task=self._task(task_id), actor=self.user, reason=data.validated_data.get("reason", "")
        )
        return Response(TaskOutput(task).data)


class TaskRetryApi(TaskMixin, TenantScopedApi):
    permission_map = {"POST": "tasks:write"}

    @extend_schema(request=None, responses=TaskOutput, operation_id="task_retry")
    def post(self, request: Request, tenant_id: Any, task_id: Any) -> Response:
        return Response(TaskOutput(services.task_retry(task=self._task(task_id), actor=self.user)).data)
