"""Members and roles over HTTP: a member's role and team, within the caller's rank; custom roles.
Views parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from core.api import TenantScopedApi
from core.serializers import StrictSerializer
from tenants import selectors, services
from tenants.api.common import body_role, body_team
from tenants.models import Membership

# --- Members ----------------------------------------------------------------------------------


class MemberOutput(serializers.ModelSerializer[Membership]):
    user = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "team", "joined_at", "role_assigned_at", "role_assigned_by"]

    def get_user(self, obj: Membership) -> dict[str, Any]:
        return {"id": str(obj.user.pk), "email": obj.user.email, "full_name": obj.user.full_name}

    def get_role(self, obj: Membership) -> dict[str, Any]:
        return {"id": str(obj.role.pk), "slug": obj.role.slug, "name": obj.role.name, "rank": obj.role.rank}

    def get_team(self, obj: Membership) -> dict[str, Any] | None:
        return {"id": str(obj.team.pk), "slug": obj.team.slug, "name": obj.team.name} if obj.team else None


class MemberListApi(TenantScopedApi):
    permission_map = {"GET": "members:read"}

    @extend_schema(
        responses=MemberOutput(many=True),
        parameters=[
            OpenApiParameter("role", str, OpenApiParameter.QUERY, description="A role's slug."),
            OpenApiParameter("team", OpenApiTypes.UUID, OpenApiParameter.QUERY, description="A team's id."),
            OpenApiParameter("q", str, OpenApiParameter.QUERY, description="Part of an e-mail or name."),
        ],
        operation_id="members_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        filters = {k: request.query_params.get(k) for k in ("role", "team", "q")}
        return self.paginated(selectors.member_list(tenant=self.tenant, filters=filters), MemberOutput)


class MemberDetailApi(TenantScopedApi):
    permission_map = {"GET": "members:read", "PATCH": "members:write", "DELETE": "members:delete"}

    class MemberUpdateInput(StrictSerializer):
        role_id = serializers.UUIDField(required=False)
        team_id = serializers.UUIDField(required=False, allow_null=True)

    def _member(self, membership_id: Any) -> Membership:
        return self.get_or_404(selectors.member_list(tenant=self.tenant), pk=membership_id)

    @extend_schema(responses=MemberOutput, operation_id="member_get")
    def get(self, request: Request, tenant_id: Any, membership_id: Any) -> Response:
        return Response(MemberOutput(self._member(membership_id)).data)

    @extend_schema(request=MemberUpdateInput, responses=MemberOutput, operation_id="member_update")
    def patch(self, request: Request, tenant_id: Any, membership_id: Any) -> Response:
        membership = self._member(membership_id)
        data = self.MemberUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # Ids from the body are resolved within this tenant only: another tenant's id is "unknown".
        role = body_role(self.tenant, values["role_id"]) if "role_id" in values else None
        team = body_team(self.tenant, values["team_id"]) if values.get("team_id") else None
        membership = services.member_update(
            membership=membership,
            actor=self.user,
            role=role,
            team=team,
            clear_team="team_id" in values and values["team_id"] is None,
        )
        return Response(MemberOutput(self._member(membership.pk)).data)

    @extend_schema(responses={204: None}, operation_id="member_remove")
    def delete(self, request: Request, tenant_id: Any, membership_id: Any) -> Response:
        services.member_remove(membership=self._member(membership_id), actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Roles ------------------------------------------------------------------------------------


class RoleOutput(serializers.ModelSerializer[Role]):
    is_system = serializers.BooleanField(read_only=True)

    class Meta:
        model = Role
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "permissions",
            "rank",
            "is_system",
            "created_at",
            "updated_at",
        ]


class RoleInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.CharField(max_length=50, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    permissions = serializers.ListField(child=serializers.CharField(max_length=64), allow_empty=True)
    rank = serializers.IntegerField(min_value=1, max_value=40)


class RoleListCreateApi(TenantScopedApi):
    permission_map = {"GET": "roles:read", "POST": "roles:write"}

    @extend_schema(responses=RoleOutput(many=True), operation_id="roles_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return self.paginated(selectors.role_list(tenant=self.tenant), RoleOutput)

    @extend_schema(request=RoleInput, responses={201: RoleOutput}, operation_id="roles_create")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = RoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        role = services.role_create(tenant=self.tenant, actor=self.user, **data.validated_data)
        return Response(RoleOutput(role).data, status=status.HTTP_201_CREATED)


class RoleDetailApi(TenantScopedApi):
    permission_map = {"GET": "roles:read", "PATCH": "roles:write", "DELETE": "roles:delete"}

    def _role(self, role_id: Any) -> Role:
        return self.get_or_404(selectors.role_list(tenant=self.tenant), pk=role_id)

    @extend_schema(responses=RoleOutput, operation_id="role_get")
    def get(self, request: Request, tenant_id: Any, role_id: Any) -> Response:
        return Response(RoleOutput(self._role(role_id)).data)

    @extend_schema(request=RoleInput(partial=True), responses=RoleOutput, operation_id="role_update")
    def patch(self, request: Request, tenant_id: Any, role_id: Any) -> Response:
        role = self._role(role_id)
        data = RoleInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        role = services.role_update(role=role, actor=self.user, data=dict(data.validated_data))
        return Response(RoleOutput(role).data)

    @extend_schema(responses={204: None}, operation_id="role_delete")
    def delete(self, request: Request, tenant_id: Any, role_id: Any) -> Response:
        services.role_delete(role=self._role(role_id), actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
