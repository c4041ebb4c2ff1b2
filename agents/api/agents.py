"""Agents and their skills over HTTP: list, create (from a template or from scratch), read,
update, pause, resume, a runtime's status report, share, delete; install, configure, uninstall
and rate skills. Members see their team's agents and those shared with them; owners and admins
all (agents.selectors.agent_visibility): an agent one may not see answers 404."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents import selectors, services
from agents.api.common import AgentOutput, Input, InstallationOutput, filters_of
from agents.errors import invalid
from agents.models import Agent, AgentRole, ThinkingMode, validate_tool_policy
from agents.selectors import AGENT_OBJECT_PERMISSIONS
from billing.models import ModelTier
from core.api import TenantScopedApi
from core.errors import NotFound
from tenants import selectors as tenant_selectors

AGENT_FILTERS = ("status", "role", "team", "q")


class AgentWriteInput(Input):
    name = serializers.CharField(max_length=200)
    template_id = serializers.UUIDField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    avatar_icon = serializers.CharField(required=False, allow_blank=True, max_length=64)
    role = serializers.ChoiceField(choices=AgentRole.choices, required=False)
    team_id = serializers.UUIDField(required=False, allow_null=True)
    model_tier = serializers.ChoiceField(choices=ModelTier.choices, required=False)
    thinking_mode = serializers.ChoiceField(choices=ThinkingMode.choices, required=False)
    tool_policy = serializers.JSONField(required=False, validators=[validate_tool_policy])
    assisted_user_id = serializers.UUIDField(required=False, allow_null=True)
    configuration = serializers.DictField(required=False)


class AgentApiMixin:
    """Resolves agents and the ids a body names, inside the caller's tenant and visibility."""

    access: Any
    tenant: Any

    def _agent(self, agent_id: Any, codename: str = "view_agent") -> Agent:
        agent = selectors.agent_get(access=self.access, agent_id=agent_id, codename=codename)
        if agent is None:
            raise NotFound()
        return agent

    def _resolve(self, data: dict[str, Any]) -> dict[str, Any]:
        """Body ids → this tenant's rows: a team of the tenant, a member to assist."""
        team_id, user_id = data.get("team_id"), data.get("assisted_user_id")
        if team_id is not None and tenant_selectors.team_get(tenant=self.tenant, team_id=team_id) is None:
            raise invalid("team_id", "No such team in this tenant.")
        member = user_id is None or tenant_selectors.membership_for(user=user_id, tenant=self.tenant.pk)
        if not member:
            raise invalid("assisted_user_id", "Not a member of this tenant.")
        return data


class AgentListCreateApi(AgentApiMixin, TenantScopedApi):
    permission_map = {"GET": "agents:read", "POST": "agents:write"}

    @extend_schema(
        responses=AgentOutput(many=True),
        parameters=[OpenApiParameter(name, str, OpenApiParameter.QUERY) for name in AGENT_FILTERS],
        operation_id="agents_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        if request.query_params.get("team"):
            try:
                filters = filters_of(request, AGENT_FILTERS)
                filters["team"] = str(serializers.UUIDField().to_internal_value(filters["team"]))
            except serializers.ValidationError as exc:
                raise invalid("team", "Not a team id.") from exc
        else:
            filters = filters_of(request, AGENT_FILTERS)
        return self.paginated(selectors.agent_list(access=self.access, filters=filters), AgentOutput)

    @extend_schema(request=AgentWriteInput, responses={201: AgentOutput}, operation_id="agents_create")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = AgentWriteInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = self._resolve(dict(data.validated_data))
        template = None
        template_id = values.pop("template_id", None)
        if template_id is not None:
            template = (
                selectors.template_list(published_only=not self.access.staff).filter(pk=template_id).first()
            )
            if template is None:
                raise invalid("template_id", "No such published template.")
        agent = services.agent_create(tenant=self.tenant, actor=self.user, template=template, data=values)
        return Response(AgentOutput(agent).data, status=status.HTTP_201_CREATED)


class AgentDetailApi(AgentApiMixin, TenantScopedApi):
    permission_map = {"GET": "agents:read", "PATCH": "agents:write", "DELETE": "agents:delete"}

    @extend_schema(responses=AgentOutput, operation_id="agent_get")
    def get(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        return Response(AgentOutput(self._agent(agent_id)).data)

    @extend_schema(request=AgentWriteInput(partial=True), responses=AgentOutput, operation_id="agent_update")
    def patch(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        agent = self._agent(agent_id, "change_agent")
        data = AgentWriteInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = self._resolve(dict(data.validated_data))
        if "template_id" in values:
            raise invalid("template_id", "An agent's template is chosen at creation.")
        agent = services.agent_update(agent=agent, actor=self.user, data=values)
        return Response(AgentOutput(agent).data)

    @extend_schema(responses={204: None}, operation_id="agent_delete")
    def delete(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        services.agent_delete(agent=self._agent(agent_id, "change_agent"), actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentReasonInput(Input):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AgentPauseApi(AgentApiMixin, TenantScopedApi):
    permission_map = {"POST": "agents:write"}

    @extend_schema(request=AgentReasonInput, responses=AgentOutput, operation_id="agent_pause")
    def post(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        data = AgentReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        agent = self._agent(agent_id, "change_agent")
        agent = services.agent_pause(
            agent=agent, actor=self.user, reason=data.validated_data.get("reason", "")
        )
        return Response(AgentOutput(agent).data)


class AgentResumeApi(AgentApiMixin, TenantScopedApi):
    permission_map = {"POST": "agents:write"}

    @extend_schema(request=AgentReasonInput, responses=AgentOutput, operation_id="agent_resume")
    def post(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        data = AgentReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        agent = self._agent(agent_id, "change_agent")
        agent = services.agent_resume(
            agent=agent, actor=self.user, reason=data.validated_data.get("reason", "")
        )
        return Response(AgentOutput(agent).data)


class AgentStatusInput(Input):
    status = serializers.RegexField(r"^(active|idle|error)$", help_text="active, idle or error.")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AgentStatusApi(AgentApiMixin, TenantScopedApi):
    """A runtime reports its agent active, idle or in error (along the status machine; the
    status it already has is a no-op, `active` moving last_active_at)."""

    permission_map = {"POST": "agents:write"}

    @extend_schema(request=AgentStatusInput, responses=AgentOutput, operation_id="agent_report_status")
    def post(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        data = AgentStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        agent = self._agent(agent_id, "run_agent")
        agent = services.agent_report_status(
            agent=agent,
            actor=self.user,
            to=data.validated_data["status"],
            reason=data.validated_data.get("reason", ""),
        )
        return Response(AgentOutput(agent).data)


class AgentShareInput(Input):
    user_id = serializers.UUIDField()
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=list(AGENT_OBJECT_PERMISSIONS)), max_length=3
    )


class AgentShareApi(AgentApiMixin, TenantScopedApi):
    """Share one agent with a member (view_agent, change_agent, run_agent); an empty list unshares."""

    permission_map = {"POST": "agents:admin"}

    @extend_schema(request=AgentShareInput, responses=AgentShareInput, operation_id="agent_share")
    def post(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        data = AgentShareInput(data=request.data)
        data.is_valid(raise_exception=True)
        agent = self._agent(agent_id)
        membership = tenant_selectors.membership_for(
            user=data.validated_data["user_id"], tenant=self.tenant.pk
        )
        if membership is None:
            raise invalid("user_id", "Not a member of this tenant.")
        held = services.agent_share(
            agent=agent, actor=self.user, user=membership.user, permissions=data.validated_data["permissions"]
        )
        return Response({"user_id": str(membership.user_id), "permissions": held})


# --- Skills on agents --------------------------------------------------------------------------


class SkillInstallInput(Input):
    skill_id = serializers.UUIDField()
    version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    config = serializers.DictField(required=False)


class AgentSkillListApi(AgentApiMixin, TenantScopedApi):
    permission_map = {"GET": "skills:read", "POST": "skills:write"}

    @extend_schema(responses=InstallationOutput(many=True), operation_id="agent_skills_list")
    def get(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        agent = self._agent(agent_id)
        # Paginated as every tenant list is (the schema says so for a list with this base).
        return self.paginated(selectors.installation_list(agent=agent), InstallationOutput)

    @extend_schema(
        request=SkillInstallInput, responses={201: InstallationOutput}, operation_id="agent_skill_install"
    )
    def post(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        agent = self._agent(agent_id, "change_agent")
        data = SkillInstallInput(data=request.data)
        data.is_valid(raise_exception=True)
        skill = selectors.skill_list(visible_only=False).filter(pk=data.validated_data["skill_id"]).first()
        if skill is None:
            raise invalid("skill_id", "No such skill.")
        installation = services.skill_install(
            agent=agent,
            skill=skill,
            actor=self.user,
            config=data.validated_data.get("config"),
            version=data.validated_data.get("version", ""),
        )
        return Response(InstallationOutput(installation).data, status=status.HTTP_201_CREATED)


class SkillConfigInput(Input):
    config = serializers.DictField()


class InstallationDetailApi(TenantScopedApi):
    """One skill installation: read, configure, uninstall (on an agent the caller may change)."""

    permission_map = {"GET": "skills:read", "PATCH": "skills:write", "DELETE": "skills:write"}

    def _installation(self, installation_id: Any, codename: str = "view_agent") -> Any:
        installation = selectors.installation_get(
            access=self.access, installation_id=installation_id, codename=codename
        )
        if installation is None:
            raise NotFound()
        return installation

    @extend_schema(responses=InstallationOutput, operation_id="skill_installation_get")
    def get(self, request: Request, tenant_id: Any, installation_id: Any) -> Response:
        return Response(InstallationOutput(self._installation(installation_id)).data)

    @extend_schema(
        request=SkillConfigInput, responses=InstallationOutput, operation_id="skill_installation_configure"
    )
    def patch(self, request: Request, tenant_id: Any, installation_id: Any) -> Response:
        installation = self._installation(installation_id, "change_agent")
        data = SkillConfigInput(data=request.data)
        data.is_valid(raise_exception=True)
        installation = services.skill_configure(
            installation=installation, actor=self.user, config=data.validated_data["config"]
        )
        return Response(InstallationOutput(installation).data)

    @extend_schema(responses={204: None}, operation_id="skill_installation_uninstall")
    def delete(self, request: Request, tenant_id: Any, installation_id: Any) -> Response:
        services.skill_uninstall(
            installation=self._installation(installation_id, "change_agent"), actor=self.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
