"""Tenant feature flags over HTTP: the tenant's own flags, and every flag that applies in the
tenant (its own and the platform's) evaluated for one subject. Views parse, call a service or
selector, render. The platform-wide flags are in `tenants.api.platform`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import TenantScopedApi
from core.errors import InvalidInput
from core.hygiene import DecimalField
from core.serializers import StrictSerializer
from tenants import selectors, services
from tenants.api.common import (
    ENVIRONMENT_FILTER_PARAM,
    ENVIRONMENT_PARAM,
    environment_filter_of,
    environment_of,
)
from tenants.models import FLAG_KEY_VALIDATOR, Environment, FeatureFlag


class FlagOutput(serializers.ModelSerializer[FeatureFlag]):
    rollout_percentage = DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        model = FeatureFlag
        fields = [
            "id",
            "key",
            "environment",
            "description",
            "enabled",
            "rollout_percentage",
            "target_users",
            "target_roles",
            "target_tenants",
            "created_by",
            "updated_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FlagInput(StrictSerializer):
    key = serializers.CharField(max_length=100, validators=[FLAG_KEY_VALIDATOR])
    environment = serializers.ChoiceField(
        choices=Environment.choices, required=False, help_text="Default: this deployment's."
    )
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False, help_text="The kill switch (default on).")
    rollout_percentage = DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False
    )
    target_users = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)
    target_roles = serializers.ListField(
        child=serializers.SlugField(max_length=50), required=False, max_length=100
    )


class FlagUpdateInput(StrictSerializer):
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    rollout_percentage = DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False
    )
    target_users = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)
    target_roles = serializers.ListField(
        child=serializers.SlugField(max_length=50), required=False, max_length=100
    )


class PlatformFlagInput(FlagInput):
    target_tenants = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)


class PlatformFlagUpdateInput(FlagUpdateInput):
    target_tenants = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)


class FlagEvaluationOutput(StrictSerializer):
    enabled = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=selectors.FLAG_REASONS)
    source = serializers.ChoiceField(choices=["tenant", "platform"])  # type: ignore[assignment]  # as above


class FlagEvaluateOutput(StrictSerializer):
    subject = serializers.CharField()
    environment = serializers.CharField()
    flags = serializers.DictField(child=FlagEvaluationOutput())


class FlagListCreateApi(TenantScopedApi):
    """The tenant's own flags (platform flags show in evaluate); create one."""

    permission_map = {"GET": "flags:read", "POST": "flags:write"}

    @extend_schema(
        responses=FlagOutput(many=True),
        parameters=[ENVIRONMENT_FILTER_PARAM],
        operation_id="flags_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        qs = selectors.flag_list(tenant=self.tenant, environment=environment_filter_of(request))
        return self.paginated(qs, FlagOutput)

    @extend_schema(request=FlagInput, responses={201: FlagOutput}, operation_id="flags_create")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = FlagInput(data=request.data)
        data.is_valid(raise_exception=True)
        flag = services.flag_create(tenant=self.tenant, actor=self.user, **data.validated_data)
        return Response(FlagOutput(flag).data, status=status.HTTP_201_CREATED)


class FlagDetailApi(TenantScopedApi):
    permission_map = {"GET": "flags:read", "PATCH": "flags:write", "DELETE": "flags:write"}

    def _flag(self, flag_id: Any) -> FeatureFlag:
        return self.get_or_404(selectors.flag_list(tenant=self.tenant), pk=flag_id)

    @extend_schema(responses=FlagOutput, operation_id="flag_get")
    def get(self, request: Request, tenant_id: Any, flag_id: Any) -> Response:
        return Response(FlagOutput(self._flag(flag_id)).data)

    @extend_schema(request=FlagUpdateInput, responses=FlagOutput, operation_id="flag_update")
    def patch(self, request: Request, tenant_id: Any, flag_id: Any) -> Response:
        flag = self._flag(flag_id)
        data = FlagUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        flag = services.flag_update(flag=flag, actor=self.user, data=dict(data.validated_data))
        return Response(FlagOutput(flag).data)

    @extend_schema(responses={204: None}, operation_id="flag_delete")
    def delete(self, request: Request, tenant_id: Any, flag_id: Any) -> Response:
        services.flag_delete(flag=self._flag(flag_id), actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FlagEvaluateApi(TenantScopedApi):
    """Every flag that applies in this tenant (its own and the platform's), for one subject."""

    permission_map = {"GET": "flags:read"}

    @extend_schema(
        responses=FlagEvaluateOutput,
        parameters=[
            OpenApiParameter(
                "subject",
                str,
                OpenApiParameter.QUERY,
                description="Whom to evaluate for: a user id (role targeting applies to members), or any "
                "stable id (an agent, an external account). Default: the caller.",
            ),
            ENVIRONMENT_PARAM,
        ],
        operation_id="flags_evaluate",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        subject = request.query_params.get("subject") or str(self.user.pk)
        if len(subject) > 200:
            raise InvalidInput(
                "Some fields are invalid.",
                code="validation_error",
                errors={"subject": ["At most 200 characters."]},
            )
        membership = self.access.membership
        # The caller's own role is at hand; anyone else's is looked up by the selector.
        role = membership.role.slug if subject == str(self.user.pk) and membership else None
        environment = environment_of(request)
        results = selectors.flags_evaluate(
            tenant=self.tenant, subject=subject, environment=environment, role=role
        )
        body = {
            "subject": subject,
            "environment": environment,
            "flags": {r.key: {"enabled": r.enabled, "reason": r.reason, "source": r.source} for r in results},
        }
        return Response(FlagEvaluateOutput(body).data)
