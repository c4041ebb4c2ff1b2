"""Tenants, teams, members and roles over HTTP. Views parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role, User
from core.api import PLATFORM_STAFF, BaseApi, TenantScopedApi
from core.errors import InvalidInput, PermissionDeniedError
from tenants import selectors, services
from tenants.models import Membership, PlanCode, Team, Tenant


class TenantOutput(serializers.ModelSerializer[Tenant]):
    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "slug",
            "admin_email",
            "status",
            "plan",
            "timezone",
            "model_defaults",
            "resource_limits",
            "require_2fa",
            "suspended_at",
            "suspension_reason",
            "created_at",
            "updated_at",
        ]


class TenantListCreateApi(BaseApi):
    """The caller's tenants (every tenant for platform staff); platform admins create tenants."""

    class TenantCreateInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        slug = serializers.CharField(max_length=50, required=False, allow_blank=True)
        admin_email = serializers.EmailField()
        plan = serializers.ChoiceField(choices=PlanCode.choices, required=False)
        timezone = serializers.CharField(max_length=64, required=False)
        owner_id = serializers.UUIDField(required=False, help_text="An existing user who becomes the owner.")

    @extend_schema(responses=TenantOutput(many=True), operation_id="tenants_list")
    def get(self, request: Request) -> Response:
        qs = selectors.tenant_list_for_user(user=self.user)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(TenantOutput(page, many=True).data)

    pagination_class = TenantScopedApi.pagination_class

    @extend_schema(request=TenantCreateInput, responses={201: TenantOutput}, operation_id="tenants_create")
    def post(self, request: Request) -> Response:
        if not request.user.is_platform_admin:  # type: ignore[union-attr]
            raise PermissionDeniedError("Only platform admins create tenants.", code="platform_admin_only")
        data = self.TenantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        owner = None
        if owner_id := fields.pop("owner_id", None):
            owner = User.objects.filter(pk=owner_id, is_active=True).first()
            if owner is None:
                raise InvalidInput(
                    "Some fields are invalid.",
                    code="validation_error",
                    errors={"owner_id": ["No such user."]},
                )
        tenant = services.tenant_create(actor=self.user, owner=owner, **fields)
        return Response(TenantOutput(tenant).data, status=status.HTTP_201_CREATED)


class TenantDetailApi(TenantScopedApi):
    permission_map = {"GET": "tenant:read", "PATCH": "tenant:write"}

    class TenantUpdateInput(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        admin_email = serializers.EmailField(required=False)
        timezone = serializers.CharField(max_length=64, required=False)
        model_defaults = serializers.JSONField(required=False)
        resource_limits = serializers.JSONField(required=False, help_text="Platform staff only.")
        require_2fa = serializers.BooleanField(required=False, help_text="Needs tenant:admin.")

    @extend_schema(responses=TenantOutput, operation_id="tenant_get")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return Response(TenantOutput(self.tenant).data)

    @extend_schema(request=TenantUpdateInput, responses=TenantOutput, operation_id="tenant_update")
    def patch(self, request: Request, tenant_id: Any) -> Response:
        if isinstance(request.data, dict) and "plan" in request.data:
            # Billing owns the plan (it is what it charges by): one place changes it.
            raise InvalidInput(
                "Some fields are invalid.",
                code="validation_error",
                errors={
                    "plan": [f"Change the plan with PATCH /api/v1/tenants/{self.tenant.pk}/subscription."]
                },
            )
        data = self.TenantUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        tenant = services.tenant_update(tenant=self.tenant, actor=self.user, data=dict(data.validated_data))
        return Response(TenantOutput(tenant).data)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class TenantSuspendApi(TenantScopedApi):
    """Platform staff: suspend a tenant (its members keep reading, cannot write)."""

    permission_map = {"POST": PLATFORM_STAFF}

    @extend_schema(request=ReasonInput, responses=TenantOutput, operation_id="tenant_suspend")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.tenant_suspend(
            tenant=self.tenant, actor=self.user, reason=data.validated_data["reason"]
        )
        return Response(TenantOutput(tenant).data)


class TenantReactivateApi(TenantScopedApi):
    """Platform staff: lift a suspension."""

    permission_map = {"POST": PLATFORM_STAFF}

    @extend_schema(request=ReasonInput, responses=TenantOutput, operation_id="tenant_reactivate")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.tenant_reactivate(
            tenant=self.tenant, actor=self.user, reason=data.validated_data["reason"]
        )
        return Response(TenantOutput(tenant).data)


# --- Teams ------------------------------------------------------------------------------------


class TeamOutput(serializers.ModelSerializer[Team]):
    # Every answer carries the count, so a team has one shape whether listed, read, created or
    # updated. Reads annotate it (selectors.team_list: no query per row); a team straight from
    # a write (create, update) is counted here, one query for that one team.
    member_count = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "description", "member_count", "created_at", "updated_at"]

    def get_member_count(self, team: Team) -> int:
        count = getattr(team, "member_count", None)
        return int(count) if count is not None else team.memberships.count()


class TeamInput(serializers.Serializer):
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


class RoleInput(serializers.Serializer):
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

    class MemberUpdateInput(serializers.Serializer):
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
        role = team = None
        # Ids from the body are resolved within this tenant only: another tenant's id is "unknown".
        if "role_id" in values:
            role = selectors.role_list(tenant=self.tenant).filter(pk=values["role_id"]).first()
            if role is None:
                raise InvalidInput(
                    "Some fields are invalid.", code="validation_error", errors={"role_id": ["No such role."]}
                )
        if values.get("team_id"):
            team = selectors.team_list(tenant=self.tenant).filter(pk=values["team_id"]).first()
            if team is None:
                raise InvalidInput(
                    "Some fields are invalid.", code="validation_error", errors={"team_id": ["No such team."]}
                )
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
