"""A tenant's API keys over HTTP. Views parse, call a service or selector, render.

The raw key appears in exactly one response: the 201 of its creation. Lists and details never
carry it, nor its hash.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions as registry
from accounts import selectors
from accounts.models import ApiKey
from accounts.services import api_keys as services
from core.api import TenantScopedApi
from core.serializers import StrictSerializer


class ApiKeyCreatorOutput(StrictSerializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()


class ApiKeyOutput(serializers.ModelSerializer[ApiKey]):
    created_by = ApiKeyCreatorOutput(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "allowed_ips",
            "rate_limit_per_minute",
            "expires_at",
            "last_used_at",
            "last_used_ip",
            "revoked_at",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.SerializerMethodField(
        help_text="The full key. Shown in this response only: store it now, it cannot be shown again."
    )

    class Meta(ApiKeyOutput.Meta):
        fields = [*ApiKeyOutput.Meta.fields, "key"]
        read_only_fields = fields

    def get_key(self, obj: ApiKey) -> str:
        return str(self.context["raw_key"])


class ApiKeyListCreateApi(TenantScopedApi):
    """The tenant's API keys; create one (scopes within your own permissions)."""

    permission_map = {"GET": "api_keys:read", "POST": "api_keys:write"}

    class ApiKeyCreateInput(StrictSerializer):
        name = serializers.CharField(max_length=services.NAME_MAX_LENGTH)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=sorted(registry.ALL)),
            allow_empty=False,
            help_text="Permissions (`resource:action`) the key may use; each one you hold yourself.",
        )
        allowed_ips = serializers.ListField(
            child=serializers.CharField(max_length=64),
            required=False,
            max_length=services.MAX_ALLOWED_IPS,
            help_text="IPv4/IPv6 addresses or CIDR ranges the key may be used from; empty: any.",
        )
        rate_limit_per_minute = serializers.IntegerField(
            min_value=1, max_value=services.MAX_RATE_LIMIT_PER_MINUTE, required=False
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(responses=ApiKeyOutput(many=True), operation_id="api_keys_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return self.paginated(selectors.api_key_list(tenant=self.tenant), ApiKeyOutput)

    @extend_schema(
        request=ApiKeyCreateInput, responses={201: ApiKeyCreatedOutput}, operation_id="api_keys_create"
    )
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = self.ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        api_key, raw_key = services.api_key_create(
            tenant=self.tenant,
            actor=self.user,
            actor_permissions=self.access.permissions,
            acting_key=self.access.api_key,
            **data.validated_data,
        )
        body = ApiKeyCreatedOutput(api_key, context={"raw_key": raw_key}).data
        # The key is in this body: no cache, no shared proxy, may keep a copy.
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ApiKeyDetailApi(TenantScopedApi):
    permission_map = {"GET": "api_keys:read"}

    @extend_schema(responses=ApiKeyOutput, operation_id="api_key_get")
    def get(self, request: Request, tenant_id: Any, api_key_id: Any) -> Response:
        api_key = self.get_or_404(selectors.api_key_list(tenant=self.tenant), pk=api_key_id)
        return Response(ApiKeyOutput(api_key).data)


class ApiKeyRevokeApi(TenantScopedApi):
    """Revoke a key: your own with api_keys:write, anyone's with api_keys:admin."""

    permission_map = {"POST": "api_keys:write"}

    @extend_schema(request=None, responses=ApiKeyOutput, operation_id="api_key_revoke")
    def post(self, request: Request, tenant_id: Any, api_key_id: Any) -> Response:
        api_key = self.get_or_404(selectors.api_key_list(tenant=self.tenant), pk=api_key_id)
        api_key = services.api_key_revoke(
            api_key=api_key, actor=self.user, actor_permissions=self.access.permissions
        )
        return Response(ApiKeyOutput(api_key).data)
