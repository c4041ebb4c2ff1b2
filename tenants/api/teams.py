"""Teams over HTTP. Views parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import TenantScopedApi
from core.serializers import StrictSerializer
from tenants import selectors, services
from tenants.models import Team


class TeamOutput(serializers.ModelSerializer[Team]):
    # Every answer carries the count, so a team has one shape whether listed, read, created or
    # updated. Reads annotate it (selectors.team_list: no query per row); a team straight from
    # a write (create, update) is counted by a selector, one query for that one team.
    member_count = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "description", "member_count", "created_at", "updated_at"]

    def get_member_count(self, team: Team) -> int:
        count = getattr(team, "member_count", None)
        return int(count) if count is not None else selectors.team_member_count(team=team)


class TeamInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=50, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)


class TeamListCreateApi(TenantScopedApi):
    permission_map = {"GET": "teams:read", "POST": "teams:write"}

    @extend_schema(responses=TeamOutput(many=True), operation_id="teams_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return self.paginated(selectors.team_list(tenant=self.tenant), TeamOutput)

    @extend_schema(request=TeamInput, responses={201: TeamOutput}, operation_id="teams_create")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = TeamInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.team_create(tenant=self.tenant, actor=self.user, **data.validated_data)
        return Response(TeamOutput(team).data, status=status.HTTP_201_CREATED)


class TeamDetailApi(TenantScopedApi):
    permission_map = {"GET": "teams:read", "PATCH": "teams:write", "DELETE": "teams:delete"}

    def _team(self, team_id: Any) -> Team:
        return self.get_or_404(selectors.team_list(tenant=self.tenant), pk=team_id)

    @extend_schema(responses=TeamOutput, operation_id="team_get")
    def get(self, request: Request, tenant_id: Any, team_id: Any) -> Response:
        return Response(TeamOutput(self._team(team_id)).data)

    @extend_schema(request=TeamInput(partial=True), responses=TeamOutput, operation_id="team_update")
    def patch(self, request: Request, tenant_id: Any, team_id: Any) -> Response:
        team = self._team(team_id)
        data = TeamInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        team = services.team_update(team=team, actor=self.user, data=dict(data.validated_data))
        return Response(TeamOutput(team).data)

    @extend_schema(responses={204: None}, operation_id="team_delete")
    def delete(self, request: Request, tenant_id: Any, team_id: Any) -> Response:
        services.team_delete(team=self._team(team_id), actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
