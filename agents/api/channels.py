"""An agent's channels over HTTP (slack, email, web): list, add, read, change, remove.

Reading needs agents:read and the agent's visibility; writes agents:write and the agent's
change_agent. A body's `secret_id` is resolved in the caller's tenant and secret visibility
(tenants.selectors.secret_get): another tenant's secret, another team's or a missing one are the
same 400 on secret_id. The config is checked per type, and a credential inline is refused
(agents.services.channels)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents import selectors
from agents.api.common import Input
from agents.errors import invalid
from agents.models import Agent, AgentChannel, ChannelType
from agents.services.channels import channel_create, channel_delete, channel_update
from core.api import TenantScopedApi
from core.errors import NotFound
from tenants import selectors as tenant_selectors
from tenants.models import Secret


class ChannelOutput(serializers.ModelSerializer[AgentChannel]):
    secret_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = AgentChannel
        fields = ["id", "agent", "type", "config", "secret_id", "is_active", "created_at", "updated_at"]


class ChannelCreateInput(Input):
    type = serializers.ChoiceField(choices=ChannelType.choices)
    config = serializers.DictField(
        help_text="slack: {channel}; email: {address}; web: {allowed_origins: [...]}. No credentials."
    )
    secret_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A secret of the tenant's locker (slack: the bot token)."
    )
    is_active = serializers.BooleanField(default=True)


class ChannelUpdateInput(Input):
    config = serializers.DictField(required=False)
    secret_id = serializers.UUIDField(required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)


class ChannelMixin:
    access: Any
    tenant: Any

    def _agent(self, agent_id: Any, codename: str = "view_agent") -> Agent:
        agent = selectors.agent_get(access=self.access, agent_id=agent_id, codename=codename)
        if agent is None:
            raise NotFound()
        return agent

    def _channel(self, agent_id: Any, channel_id: Any, codename: str = "view_agent") -> AgentChannel:
        channel = selectors.channel_list(agent=self._agent(agent_id, codename)).filter(pk=channel_id).first()
        if channel is None:
            raise NotFound()
        return channel

    def _secret(self, secret_id: Any) -> Secret | None:
        """The tenant's secret the caller may see; any other id is a 400 on secret_id."""
        if secret_id is None:
            return None
        visibility = tenant_selectors.secret_visibility(
            user=self.access.user,
            membership=self.access.membership,
            via_api_key=self.access.api_key is not None,
        )
        try:
            return tenant_selectors.secret_get(tenant=self.tenant, visibility=visibility, secret_id=secret_id)
        except NotFound as exc:
            raise invalid("secret_id", "No such secret in this tenant.", code="not_found") from exc


class AgentChannelListApi(ChannelMixin, TenantScopedApi):
    permission_map = {"GET": "agents:read", "POST": "agents:write"}

    @extend_schema(responses=ChannelOutput(many=True), operation_id="agent_channels_list")
    def get(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        return self.paginated(selectors.channel_list(agent=self._agent(agent_id)), ChannelOutput)

    @extend_schema(
        request=ChannelCreateInput, responses={201: ChannelOutput}, operation_id="agent_channel_create"
    )
    def post(self, request: Request, tenant_id: Any, agent_id: Any) -> Response:
        agent = self._agent(agent_id, "change_agent")
        data = ChannelCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        channel = channel_create(
            agent=agent,
            actor=self.user,
            type=values["type"],
            config=values["config"],
            secret=self._secret(values.get("secret_id")),
            is_active=values["is_active"],
        )
        return Response(ChannelOutput(channel).data, status=status.HTTP_201_CREATED)


class AgentChannelDetailApi(ChannelMixin, TenantScopedApi):
    permission_map = {"GET": "agents:read", "PATCH": "agents:write", "DELETE": "agents:write"}

    @extend_schema(responses=ChannelOutput, operation_id="agent_channel_get")
    def get(self, request: Request, tenant_id: Any, agent_id: Any, channel_id: Any) -> Response:
        return Response(ChannelOutput(self._channel(agent_id, channel_id)).data)

    @extend_schema(request=ChannelUpdateInput, responses=ChannelOutput, operation_id="agent_channel_update")
    def patch(self, request: Request, tenant_id: Any, agent_id: Any, channel_id: Any) -> Response:
        channel = self._channel(agent_id, channel_id, "change_agent")
        data = ChannelUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        changes: dict[str, Any] = {}
        if "config" in values:
            changes["config"] = values["config"]
        if "secret_id" in values:
            changes["secret"] = self._secret(values["secret_id"])
        channel = channel_update(
            channel=channel, actor=self.user, is_active=values.get("is_active"), **changes
        )
        return Response(ChannelOutput(channel).data)

    @extend_schema(responses={204: None}, operation_id="agent_channel_delete")
    def delete(self, request: Request, tenant_id: Any, agent_id: Any, channel_id: Any) -> Response:
        channel_delete(channel=self._channel(agent_id, channel_id, "change_agent"), actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
