"""Tenant settings over HTTP: every setting with the value in force and where it comes from; set,
reset, roll back and (audited) reveal the tenant's own value. Views parse, call a service or
selector, render.

Secret values never appear in a response except the one of an explicit reveal, which is audited
and marked `Cache-Control: no-store`. The platform's defaults are in `tenants.api.platform`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import TenantScopedApi
from core.serializers import StrictSerializer
from tenants import selectors, services
from tenants.api.common import ENVIRONMENT_PARAM, NO_STORE, REASON_PARAM, environment_of
from tenants.models import SettingVersion, Tenant
from tenants.settings_registry import KIND_VALUES


class SettingUserOutput(StrictSerializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()


class SettingOutput(StrictSerializer):
    key = serializers.CharField(source="definition.key")
    category = serializers.CharField(source="definition.category")
    type = serializers.ChoiceField(choices=KIND_VALUES, source="definition.kind")
    description = serializers.CharField(source="definition.description")
    is_secret = serializers.BooleanField(source="definition.is_secret")
    platform_managed = serializers.BooleanField(
        source="definition.platform_managed", help_text="Only platform admins change it."
    )
    environment = serializers.CharField()
    value = serializers.JSONField(
        source="display_value", read_only=True, help_text="The value in force; secrets masked, null if unset."
    )
    default = serializers.JSONField(
        source="default_display", read_only=True, help_text="The code default (null for secrets)."
    )
    # A declared field named like a Field attribute: DRF's metaclass moves it off the class.
    source = serializers.ChoiceField(choices=["tenant", "platform", "default"])  # type: ignore[assignment]
    version = serializers.SerializerMethodField(help_text="Changes at this level so far (0: never set).")
    updated_at = serializers.SerializerMethodField()
    updated_by = serializers.SerializerMethodField()

    def get_version(self, obj: selectors.SettingView) -> int:
        return obj.own.version if obj.own is not None else 0

    # Null for a setting never set at this level (version 0).
    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_updated_at(self, obj: selectors.SettingView) -> Any:
        return obj.own.updated_at if obj.own is not None else None

    @extend_schema_field(SettingUserOutput(allow_null=True))
    def get_updated_by(self, obj: selectors.SettingView) -> Any:
        user = obj.own.updated_by if obj.own is not None else None
        return {"id": str(user.pk), "email": user.email} if user is not None else None


class SettingVersionOutput(serializers.ModelSerializer[SettingVersion]):
    old_value = serializers.SerializerMethodField(help_text="Masked for secrets; null: not set.")
    new_value = serializers.SerializerMethodField(help_text="Masked for secrets; null: not set.")
    changed_at = serializers.DateTimeField(source="created_at")
    changed_by = serializers.UUIDField(source="changed_by_id", allow_null=True)

    class Meta:
        model = SettingVersion
        fields = [
            "id",
            "key",
            "environment",
            "version",
            "action",
            "is_secret",
            "old_value",
            "new_value",
            "rolled_back_to",
            "reason",
            "changed_by",
            "changed_by_label",
            "changed_at",
        ]

    @extend_schema_field(OpenApiTypes.ANY)
    def get_old_value(self, obj: SettingVersion) -> Any:
        if obj.is_secret:
            return selectors.MASK if obj.old_value_encrypted else None
        return obj.old_value

    @extend_schema_field(OpenApiTypes.ANY)
    def get_new_value(self, obj: SettingVersion) -> Any:
        if obj.is_secret:
            return selectors.MASK if obj.new_value_encrypted else None
        return obj.new_value


class SettingSetInput(StrictSerializer):
    value = serializers.JSONField(help_text="Of the setting's type; decimals as strings.")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SettingRollbackInput(StrictSerializer):
    version = serializers.IntegerField(min_value=1, help_text="The version whose value to restore.")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SettingRevealOutput(StrictSerializer):
    key = serializers.CharField()
    environment = serializers.CharField()
    value = serializers.JSONField()


def setting_body(tenant: Tenant | None, key: str, environment: str) -> Any:
    """One setting as the API renders it, resolved for `tenant` (None: the platform level)."""
    return SettingOutput(selectors.setting_view(tenant=tenant, key=key, environment=environment)).data


class SettingListApi(TenantScopedApi):
    """Every setting with the value in force for this tenant and where it comes from."""

    permission_map = {"GET": "settings:read"}

    @extend_schema(
        responses=SettingOutput(many=True), parameters=[ENVIRONMENT_PARAM], operation_id="settings_list"
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        views = selectors.setting_list(tenant=self.tenant, environment=environment_of(request))
        return self.paginated(views, SettingOutput)


class SettingDetailApi(TenantScopedApi):
    """One setting: read it, set the tenant's value, or reset it (the platform's applies again)."""

    permission_map = {"GET": "settings:read", "PUT": "settings:write", "DELETE": "settings:write"}

    @extend_schema(responses=SettingOutput, parameters=[ENVIRONMENT_PARAM], operation_id="setting_get")
    def get(self, request: Request, tenant_id: Any, key: str) -> Response:
        return Response(setting_body(self.tenant, key, environment_of(request)))

    @extend_schema(
        request=SettingSetInput,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM],
        operation_id="setting_set",
    )
    def put(self, request: Request, tenant_id: Any, key: str) -> Response:
        environment = environment_of(request)
        data = SettingSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.setting_set(
            tenant=self.tenant, key=key, actor=self.user, environment=environment, **data.validated_data
        )
        return Response(setting_body(self.tenant, key, environment))

    @extend_schema(
        request=None,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM, REASON_PARAM],
        operation_id="setting_reset",
    )
    def delete(self, request: Request, tenant_id: Any, key: str) -> Response:
        environment = environment_of(request)
        services.setting_reset(
            tenant=self.tenant,
            key=key,
            actor=self.user,
            environment=environment,
            reason=request.query_params.get("reason", "")[:2000],
        )
        return Response(setting_body(self.tenant, key, environment))


class SettingVersionListApi(TenantScopedApi):
    """The tenant's history of one setting, newest first (secret values masked)."""

    permission_map = {"GET": "settings:read"}

    @extend_schema(
        responses=SettingVersionOutput(many=True),
        parameters=[ENVIRONMENT_PARAM],
        operation_id="setting_versions_list",
    )
    def get(self, request: Request, tenant_id: Any, key: str) -> Response:
        qs = selectors.setting_version_list(tenant=self.tenant, key=key, environment=environment_of(request))
        return self.paginated(qs, SettingVersionOutput)


class SettingRollbackApi(TenantScopedApi):
    """Restore the value of a version, as a new version."""

    permission_map = {"POST": "settings:write"}

    @extend_schema(
        request=SettingRollbackInput,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM],
        operation_id="setting_rollback",
    )
    def post(self, request: Request, tenant_id: Any, key: str) -> Response:
        environment = environment_of(request)
        data = SettingRollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.setting_rollback(
            tenant=self.tenant, key=key, actor=self.user, environment=environment, **data.validated_data
        )
        return Response(setting_body(self.tenant, key, environment))


class SettingRevealApi(TenantScopedApi):
    """The tenant's own value of a secret setting, in this response only; audited every time."""

    permission_map = {"POST": "settings:admin"}

    @extend_schema(
        request=None,
        responses=SettingRevealOutput,
        parameters=[ENVIRONMENT_PARAM],
        operation_id="setting_reveal",
    )
    def post(self, request: Request, tenant_id: Any, key: str) -> Response:
        environment = environment_of(request)
        value = services.setting_reveal(tenant=self.tenant, key=key, actor=self.user, environment=environment)
        body = SettingRevealOutput({"key": key, "environment": environment, "value": value}).data
        return Response(body, headers=NO_STORE)
