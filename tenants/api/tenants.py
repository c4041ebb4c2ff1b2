"""Tenants over HTTP: the caller's tenants, creation (platform admins), the profile, suspension
and reactivation (platform staff). Views parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import PLATFORM_STAFF, BaseApi, TenantScopedApi
from core.errors import InvalidInput, PermissionDeniedError
from core.serializers import StrictSerializer
from tenants import selectors, services
from tenants.models import PlanCode, Tenant


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

    class TenantCreateInput(StrictSerializer):
        name = serializers.CharField(max_length=200)
        slug = serializers.CharField(max_length=50, required=False, allow_blank=True)
        admin_email = serializers.EmailField()
        plan = serializers.ChoiceField(choices=PlanCode.choices, required=False)
        timezone = serializers.CharField(max_length=64, required=False)
        owner_id = serializers.UUIDField(required=False, help_text="An existing user who becomes the owner.")

    pagination_class = TenantScopedApi.pagination_class

    @extend_schema(responses=TenantOutput(many=True), operation_id="tenants_list")
    def get(self, request: Request) -> Response:
        return self.paginated(selectors.tenant_list_for_user(user=self.user), TenantOutput)

    @extend_schema(request=TenantCreateInput, responses={201: TenantOutput}, operation_id="tenants_create")
    def post(self, request: Request) -> Response:
        if not self.user.is_platform_admin:
            raise PermissionDeniedError("Only platform admins create tenants.", code="platform_admin_only")
        data = self.TenantCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        owner = None
        if owner_id := fields.pop("owner_id", None):
            owner = selectors.tenant_owner_candidate(user_id=owner_id)
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

    class TenantUpdateInput(StrictSerializer):
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


class ReasonInput(StrictSerializer):
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
