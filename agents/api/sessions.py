"""Agent sessions over HTTP: start a root, spawn children, report usage (charged through billing),
complete, fail, cancel a subtree, read one and its tree with costs computed in the database."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents import selectors, services
from agents.api.common import AgentSessionOutput, Input, filters_of, idempotency_key_of, tree_body
from agents.errors import invalid
from agents.models import AgentSession, SessionStatus
from billing import services as billing
from core.api import TenantScopedApi
from core.errors import NotFound
from core.hygiene import DecimalField

SESSION_FILTERS = ("status", "agent", "root")


class SessionMixin:
    access: Any

    def _session(self, session_id: Any, codename: str = "view_agent") -> AgentSession:
        session = selectors.session_get(access=self.access, session_id=session_id, codename=codename)
        if session is None:
            raise NotFound()
        return session

    def _agent(self, agent_id: Any) -> Any:
        agent = selectors.agent_get(access=self.access, agent_id=agent_id, codename="run_agent")
        if agent is None:
            raise invalid("agent_id", "No such agent (or not one you may run).")
        return agent


class SessionStartInput(Input):
    agent_id = serializers.UUIDField()
    credit_budget = DecimalField(
        max_digits=20, decimal_places=6, min_value=0, required=False, allow_null=True
    )


class SessionListCreateApi(SessionMixin, TenantScopedApi):
    permission_map = {"GET": "sessions:read", "POST": "sessions:write"}

    @extend_schema(
        responses=AgentSessionOutput(many=True),
        parameters=[
            *(OpenApiParameter(name, str, OpenApiParameter.QUERY) for name in SESSION_FILTERS),
            OpenApiParameter("roots_only", bool, OpenApiParameter.QUERY),
        ],
        operation_id="sessions_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        filters: dict[str, Any] = filters_of(request, SESSION_FILTERS)
        if filters.get("status") and filters["status"] not in SessionStatus.values:
            raise invalid("status", "Not a session status.")
        for name in ("agent", "root"):
            if name in filters:
                try:
                    filters[name] = serializers.UUIDField().to_internal_value(filters[name])
                except serializers.ValidationError as exc:
                    raise invalid(name, "Not an id.") from exc
        filters["roots_only"] = request.query_params.get("roots_only") in ("1", "true")
        return self.paginated(selectors.session_list(access=self.access, filters=filters), AgentSessionOutput)

    @extend_schema(
        request=SessionStartInput, responses={201: AgentSessionOutput}, operation_id="session_start"
    )
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = SessionStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_start(
            tenant=self.tenant,
            agent=self._agent(data.validated_data["agent_id"]),
            actor=self.user,
            credit_budget=data.validated_data.get("credit_budget"),
        )
        return Response(AgentSessionOutput(session).data, status=status.HTTP_201_CREATED)


class SessionDetailApi(SessionMixin, TenantScopedApi):
    permission_map = {"GET": "sessions:read"}

    @extend_schema(responses=AgentSessionOutput, operation_id="session_get")
    def get(self, request: Request, tenant_id: Any, session_id: Any) -> Response:
        return Response(AgentSessionOutput(self._session(session_id)).data)


class SessionTreeApi(SessionMixin, TenantScopedApi):
    """The subtree under a session, each node with its own and its subtree's cost."""

    permission_map = {"GET": "sessions:read"}

    @extend_schema(responses=dict, operation_id="session_tree")
    def get(self, request: Request, tenant_id: Any, session_id: Any) -> Response:
        return Response(tree_body(selectors.session_tree(session=self._session(session_id))))


class SessionSpawnInput(Input):
    agent_id = serializers.UUIDField(required=False, allow_null=True)


class SessionSpawnApi(SessionMixin, TenantScopedApi):
    permission_map = {"POST": "sessions:write"}

    @extend_schema(
        request=SessionSpawnInput, responses={201: AgentSessionOutput}, operation_id="session_spawn"
    )
    def post(self, request: Request, tenant_id: Any, session_id: Any) -> Response:
        data = SessionSpawnInput(data=request.data)
        data.is_valid(raise_exception=True)
        parent = self._session(session_id, "run_agent")
        agent_id = data.validated_data.get("agent_id")
        child = services.session_spawn(
            tenant=self.tenant,
            parent=parent,
            actor=self.user,
            agent=self._agent(agent_id) if agent_id else None,
        )
        return Response(AgentSessionOutput(child).data, status=status.HTTP_201_CREATED)


class SessionUsageInput(Input):
    model = serializers.CharField(max_length=100)
    input_tokens = serializers.IntegerField(min_value=0, max_value=10**12, required=False)
    output_tokens = serializers.IntegerField(min_value=0, max_value=10**12, required=False)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    metadata = serializers.DictField(required=False)
    idempotency_key = serializers.CharField(max_length=255, required=False)


class SessionUsageApi(SessionMixin, TenantScopedApi):
    """Report model usage of a session: charged to the tenant's credits (the ledger entry names the
    agent and the session). Needs an Idempotency-Key (header or body)."""

    permission_map = {"POST": "sessions:write"}

    @extend_schema(request=SessionUsageInput, responses={201: dict}, operation_id="session_usage")
    def post(self, request: Request, tenant_id: Any, session_id: Any) -> HttpResponse:
        data = SessionUsageInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = self._session(session_id, "run_agent")
        values = dict(data.validated_data)
        key = idempotency_key_of(request, values)
        values.pop("idempotency_key", None)
        event = billing.usage_event(**values)
        result = services.session_report_usage(
            session=session, event=event, idempotency_key=key, actor=self.user, api_key=self.access.api_key
        )
        return HttpResponse(result.body, status=result.status_code, content_type="application/json")


class SessionCompleteInput(Input):
    result = serializers.JSONField(required=False, allow_null=True)


class SessionCompleteApi(SessionMixin, TenantScopedApi):
    permission_map = {"POST": "sessions:write"}

    @extend_schema(
        request=SessionCompleteInput, responses=AgentSessionOutput, operation_id="session_complete"
    )
    def post(self, request: Request, tenant_id: Any, session_id: Any) -> Response:
        data = SessionCompleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_complete(
            session=self._session(session_id, "run_agent"), result=data.validated_data.get("result")
        )
        return Response(AgentSessionOutput(session).data)


class SessionFailInput(Input):
    error = serializers.CharField(max_length=10_000)


class SessionFailApi(SessionMixin, TenantScopedApi):
    permission_map = {"POST": "sessions:write"}

    @extend_schema(request=SessionFailInput, responses=AgentSessionOutput, operation_id="session_fail")
    def post(self, request: Request, tenant_id: Any, session_id: Any) -> Response:
        data = SessionFailInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_fail(
            session=self._session(session_id, "run_agent"), error=data.validated_data["error"]
        )
        return Response(AgentSessionOutput(session).data)


class SessionCancelInput(Input):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class SessionCancelApi(SessionMixin, TenantScopedApi):
    """Cancel a session and its whole subtree (and their open tasks), in one statement."""

    permission_map = {"POST": "sessions:write"}

    @extend_schema(request=SessionCancelInput, responses=dict, operation_id="session_cancel")
    def post(self, request: Request, tenant_id: Any, session_id: Any) -> Response:
        data = SessionCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        sessions, tasks = services.session_cancel(
            session=self._session(session_id, "run_agent"),
            actor=self.user,
            reason=data.validated_data.get("reason", ""),
        )
        return Response({"sessions_cancelled": sessions, "tasks_cancelled": tasks})
