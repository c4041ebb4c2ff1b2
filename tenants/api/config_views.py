"""Tenant configuration over HTTP: settings, feature flags, the secret locker, and the platform's
defaults and flags. Views parse, call a service or selector, render.

Secret values never appear in a response except the one of an explicit reveal, which is audited
and marked `Cache-Control: no-store`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import PLATFORM_ADMIN, PLATFORM_STAFF, PlatformApi, TenantScopedApi
from core.errors import InvalidInput, NotFound
from core.hygiene import DecimalField
from core.tenancy import platform_bypass
from tenants import selectors, services
from tenants import selectors as sel
from tenants.models import FLAG_KEY_VALIDATOR, Environment, FeatureFlag, Secret, SettingVersion, Team, Tenant
from tenants.settings_registry import KIND_VALUES

NO_STORE = {"Cache-Control": "no-store"}
ENVIRONMENT_PARAM = OpenApiParameter(
    "environment",
    str,
    OpenApiParameter.QUERY,
    enum=Environment.values,
    description="The environment (default: this deployment's, QM_ENVIRONMENT).",
)
REASON_PARAM = OpenApiParameter(
    "reason", str, OpenApiParameter.QUERY, description="Why; kept in the history."
)


def _environment(request: Request) -> str:
    return sel.current_environment(request.query_params.get("environment") or None)


# --- Settings ---------------------------------------------------------------------------------


class SettingUserOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()


class SettingOutput(serializers.Serializer):
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

    def get_version(self, obj: sel.SettingView) -> int:
        return obj.own.version if obj.own is not None else 0

    # Null for a setting never set at this level (version 0).
    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_updated_at(self, obj: sel.SettingView) -> Any:
        return obj.own.updated_at if obj.own is not None else None

    @extend_schema_field(SettingUserOutput(allow_null=True))
    def get_updated_by(self, obj: sel.SettingView) -> Any:
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
            return sel.MASK if obj.old_value_encrypted else None
        return obj.old_value

    @extend_schema_field(OpenApiTypes.ANY)
    def get_new_value(self, obj: SettingVersion) -> Any:
        if obj.is_secret:
            return sel.MASK if obj.new_value_encrypted else None
        return obj.new_value


class SettingSetInput(serializers.Serializer):
    value = serializers.JSONField(help_text="Of the setting's type; decimals as strings.")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SettingRollbackInput(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version whose value to restore.")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SettingRevealOutput(serializers.Serializer):
    key = serializers.CharField()
    environment = serializers.CharField()
    value = serializers.JSONField()


def _setting_body(tenant: Tenant | None, key: str, environment: str) -> Any:
    return SettingOutput(sel.setting_view(tenant=tenant, key=key, environment=environment)).data


class SettingListApi(TenantScopedApi):
    """Every setting with the value in force for this tenant and where it comes from."""

    permission_map = {"GET": "settings:read"}

    @extend_schema(
        responses=SettingOutput(many=True), parameters=[ENVIRONMENT_PARAM], operation_id="settings_list"
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        views = sel.setting_list(tenant=self.tenant, environment=_environment(request))
        return self.paginated(views, SettingOutput)


class SettingDetailApi(TenantScopedApi):
    """One setting: read it, set the tenant's value, or reset it (the platform's applies again)."""

    permission_map = {"GET": "settings:read", "PUT": "settings:write", "DELETE": "settings:write"}

    @extend_schema(responses=SettingOutput, parameters=[ENVIRONMENT_PARAM], operation_id="setting_get")
    def get(self, request: Request, tenant_id: Any, key: str) -> Response:
        return Response(_setting_body(self.tenant, key, _environment(request)))

    @extend_schema(
        request=SettingSetInput,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM],
        operation_id="setting_set",
    )
    def put(self, request: Request, tenant_id: Any, key: str) -> Response:
        environment = _environment(request)
        data = SettingSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.setting_set(
            tenant=self.tenant, key=key, actor=self.user, environment=environment, **data.validated_data
        )
        return Response(_setting_body(self.tenant, key, environment))

    @extend_schema(
        request=None,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM, REASON_PARAM],
        operation_id="setting_reset",
    )
    def delete(self, request: Request, tenant_id: Any, key: str) -> Response:
        environment = _environment(request)
        services.setting_reset(
            tenant=self.tenant,
            key=key,
            actor=self.user,
            environment=environment,
            reason=request.query_params.get("reason", "")[:2000],
        )
        return Response(_setting_body(self.tenant, key, environment))


class SettingVersionListApi(TenantScopedApi):
    """The tenant's history of one setting, newest first (secret values masked)."""

    permission_map = {"GET": "settings:read"}

    @extend_schema(
        responses=SettingVersionOutput(many=True),
        parameters=[ENVIRONMENT_PARAM],
        operation_id="setting_versions_list",
    )
    def get(self, request: Request, tenant_id: Any, key: str) -> Response:
        qs = sel.setting_version_list(tenant=self.tenant, key=key, environment=_environment(request))
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
        environment = _environment(request)
        data = SettingRollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.setting_rollback(
            tenant=self.tenant, key=key, actor=self.user, environment=environment, **data.validated_data
        )
        return Response(_setting_body(self.tenant, key, environment))


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
        environment = _environment(request)
        value = services.setting_reveal(tenant=self.tenant, key=key, actor=self.user, environment=environment)
        body = SettingRevealOutput({"key": key, "environment": environment, "value": value}).data
        return Response(body, headers=NO_STORE)


# --- Platform settings ------------------------------------------------------------------------


class PlatformSettingListApi(PlatformApi):
    """Platform staff: every setting's platform default (its own value, or the code default)."""

    permission_map = {"GET": PLATFORM_STAFF}

    @extend_schema(
        responses=SettingOutput(many=True),
        parameters=[ENVIRONMENT_PARAM],
        operation_id="platform_settings_list",
    )
    def get(self, request: Request) -> Response:
        return self.paginated(sel.setting_list(tenant=None, environment=_environment(request)), SettingOutput)


class PlatformSettingDetailApi(PlatformApi):
    """Platform staff read a default; platform admins set or reset it."""

    permission_map = {"GET": PLATFORM_STAFF, "PUT": PLATFORM_ADMIN, "DELETE": PLATFORM_ADMIN}

    @extend_schema(
        responses=SettingOutput, parameters=[ENVIRONMENT_PARAM], operation_id="platform_setting_get"
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(_setting_body(None, key, _environment(request)))

    @extend_schema(
        request=SettingSetInput,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM],
        operation_id="platform_setting_set",
    )
    def put(self, request: Request, key: str) -> Response:
        environment = _environment(request)
        data = SettingSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.setting_set(
            tenant=None, key=key, actor=self.user, environment=environment, **data.validated_data
        )
        return Response(_setting_body(None, key, environment))

    @extend_schema(
        request=None,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM, REASON_PARAM],
        operation_id="platform_setting_reset",
    )
    def delete(self, request: Request, key: str) -> Response:
        environment = _environment(request)
        services.setting_reset(
            tenant=None,
            key=key,
            actor=self.user,
            environment=environment,
            reason=request.query_params.get("reason", "")[:2000],
        )
        return Response(_setting_body(None, key, environment))


class PlatformSettingVersionListApi(PlatformApi):
    permission_map = {"GET": PLATFORM_STAFF}

    @extend_schema(
        responses=SettingVersionOutput(many=True),
        parameters=[ENVIRONMENT_PARAM],
        operation_id="platform_setting_versions_list",
    )
    def get(self, request: Request, key: str) -> Response:
        """Platform staff: the history of a platform default, newest first."""
        environment = _environment(request)
        # The platform's history is readable only under the bypass; the page is rendered inside it.
        with platform_bypass(reason="platform setting history", actor=self.user, log=False):
            qs = sel.setting_version_list(tenant=None, key=key, environment=environment)
            paginator = self.pagination_class()
            page = paginator.paginate_queryset(qs, request, view=self)
            return paginator.get_paginated_response(SettingVersionOutput(page, many=True).data)


class PlatformSettingRollbackApi(PlatformApi):
    permission_map = {"POST": PLATFORM_ADMIN}

    @extend_schema(
        request=SettingRollbackInput,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM],
        operation_id="platform_setting_rollback",
    )
    def post(self, request: Request, key: str) -> Response:
        """Platform admins: restore a platform default's earlier value, as a new version."""
        environment = _environment(request)
        data = SettingRollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.setting_rollback(
            tenant=None, key=key, actor=self.user, environment=environment, **data.validated_data
        )
        return Response(_setting_body(None, key, environment))


class PlatformSettingRevealApi(PlatformApi):
    permission_map = {"POST": PLATFORM_ADMIN}

    @extend_schema(
        request=None,
        responses=SettingRevealOutput,
        parameters=[ENVIRONMENT_PARAM],
        operation_id="platform_setting_reveal",
    )
    def post(self, request: Request, key: str) -> Response:
        """Platform admins: a secret platform default, in this response only; audited."""
        environment = _environment(request)
        value = services.setting_reveal(tenant=None, key=key, actor=self.user, environment=environment)
        body = SettingRevealOutput({"key": key, "environment": environment, "value": value}).data
        return Response(body, headers=NO_STORE)


# --- Feature flags ----------------------------------------------------------------------------


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


class FlagInput(serializers.Serializer):
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


class FlagUpdateInput(serializers.Serializer):
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


class FlagEvaluationOutput(serializers.Serializer):
    enabled = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=sel.FLAG_REASONS)
    source = serializers.ChoiceField(choices=["tenant", "platform"])  # type: ignore[assignment]  # as above


class FlagEvaluateOutput(serializers.Serializer):
    subject = serializers.CharField()
    environment = serializers.CharField()
    flags = serializers.DictField(child=FlagEvaluationOutput())


class FlagListCreateApi(TenantScopedApi):
    """The tenant's own flags (platform flags show in evaluate); create one."""

    permission_map = {"GET": "flags:read", "POST": "flags:write"}

    @extend_schema(
        responses=FlagOutput(many=True),
        parameters=[
            OpenApiParameter(
                "environment",
                str,
                OpenApiParameter.QUERY,
                enum=Environment.values,
                description="Only this one.",
            )
        ],
        operation_id="flags_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        environment = request.query_params.get("environment")
        qs = sel.flag_list(
            tenant=self.tenant, environment=sel.current_environment(environment) if environment else None
        )
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
        return self.get_or_404(sel.flag_list(tenant=self.tenant), pk=flag_id)

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
        subject = request.query_params.get("subject") or str(request.user.pk)
        if len(subject) > 200:
            raise InvalidInput(
                "Some fields are invalid.",
                code="validation_error",
                errors={"subject": ["At most 200 characters."]},
            )
        membership = self.access.membership
        # The caller's own role is at hand; anyone else's is looked up by the selector.
        role = membership.role.slug if subject == str(request.user.pk) and membership else None
        environment = _environment(request)
        results = sel.flags_evaluate(tenant=self.tenant, subject=subject, environment=environment, role=role)
        body = {
            "subject": subject,
            "environment": environment,
            "flags": {r.key: {"enabled": r.enabled, "reason": r.reason, "source": r.source} for r in results},
        }
        return Response(FlagEvaluateOutput(body).data)


class PlatformFlagListCreateApi(PlatformApi):
    """Platform staff: the platform-wide flags; platform admins create them."""

    permission_map = {"GET": PLATFORM_STAFF, "POST": PLATFORM_ADMIN}

    @extend_schema(
        responses=FlagOutput(many=True),
        parameters=[
            OpenApiParameter(
                "environment",
                str,
                OpenApiParameter.QUERY,
                enum=Environment.values,
                description="Only this one.",
            )
        ],
        operation_id="platform_flags_list",
    )
    def get(self, request: Request) -> Response:
        environment = request.query_params.get("environment")
        qs = sel.flag_list(
            tenant=None, environment=sel.current_environment(environment) if environment else None
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(FlagOutput(page, many=True).data)

    @extend_schema(
        request=PlatformFlagInput, responses={201: FlagOutput}, operation_id="platform_flags_create"
    )
    def post(self, request: Request) -> Response:
        data = PlatformFlagInput(data=request.data)
        data.is_valid(raise_exception=True)
        flag = services.flag_create(tenant=None, actor=self.user, **data.validated_data)
        return Response(FlagOutput(flag).data, status=status.HTTP_201_CREATED)


class PlatformFlagDetailApi(PlatformApi):
    permission_map = {"GET": PLATFORM_STAFF, "PATCH": PLATFORM_ADMIN, "DELETE": PLATFORM_ADMIN}

    def _flag(self, flag_id: Any) -> FeatureFlag:
        flag = sel.flag_list(tenant=None).filter(pk=flag_id).first()
        if flag is None:
            raise NotFound()
        return flag

    @extend_schema(responses=FlagOutput, operation_id="platform_flag_get")
    def get(self, request: Request, flag_id: Any) -> Response:
        """Platform staff: one platform-wide flag."""
        return Response(FlagOutput(self._flag(flag_id)).data)

    @extend_schema(request=PlatformFlagUpdateInput, responses=FlagOutput, operation_id="platform_flag_update")
    def patch(self, request: Request, flag_id: Any) -> Response:
        """Platform admins: change a platform-wide flag (the kill switch, the rollout, targets)."""
        flag = self._flag(flag_id)
        data = PlatformFlagUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        flag = services.flag_update(flag=flag, actor=self.user, data=dict(data.validated_data))
        return Response(FlagOutput(flag).data)

    @extend_schema(responses={204: None}, operation_id="platform_flag_delete")
    def delete(self, request: Request, flag_id: Any) -> Response:
        """Platform admins: delete a platform-wide flag."""
        services.flag_delete(flag=self._flag(flag_id), actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- The secret locker ------------------------------------------------------------------------


class SecretTeamOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


class SecretCreatorOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()


class SecretOutput(serializers.ModelSerializer[Secret]):
    """A secret without its value: never more than the last four characters."""

    team = SecretTeamOutput(read_only=True, allow_null=True)
    created_by = SecretCreatorOutput(read_only=True, allow_null=True)

    class Meta:
        model = Secret
        fields = [
            "id",
            "name",
            "provider",
            "description",
            "last_four",
            "team",
            "created_by",
            "created_at",
            "updated_at",
            "rotated_at",
            "last_revealed_at",
        ]
        read_only_fields = fields


class SecretCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    provider = serializers.RegexField(
        r"^[a-z0-9][a-z0-9_-]{0,49}$", max_length=50, help_text="e.g. openai, slack."
    )
    value = serializers.CharField(
        max_length=services.SECRET_MAX_LENGTH,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Only this team's members see it."
    )


class SecretUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    provider = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]{0,49}$", max_length=50, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    team_id = serializers.UUIDField(required=False, allow_null=True, help_text="null: the whole tenant.")


class SecretRotateInput(serializers.Serializer):
    value = serializers.CharField(
        max_length=services.SECRET_MAX_LENGTH,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
    )


class SecretRevealOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    provider = serializers.CharField()
    value = serializers.CharField()


class SecretApi(TenantScopedApi):
    """The caller's view of the locker: all secrets, or tenant-wide ones and their team's."""

    @property
    def visibility(self) -> sel.SecretVisibility:
        return sel.secret_visibility(
            user=self.user,
            membership=self.access.membership,
            via_api_key=self.access.api_key is not None,
        )

    def _secret(self, secret_id: Any) -> Secret:
        return sel.secret_get(tenant=self.tenant, visibility=self.visibility, secret_id=secret_id)

    def _team(self, team_id: Any) -> Team | None:
        if team_id is None:
            return None
        # Resolved within this tenant: another tenant's team id is unknown here.
        team = selectors.team_list(tenant=self.tenant).filter(pk=team_id).first()
        if team is None:
            raise InvalidInput(
                "Some fields are invalid.", code="validation_error", errors={"team_id": ["No such team."]}
            )
        return team


class SecretListCreateApi(SecretApi):
    """The locker: names, providers and last four characters, never values; store a secret."""

    permission_map = {"GET": "secrets:read", "POST": "secrets:write"}

    @extend_schema(responses=SecretOutput(many=True), operation_id="secrets_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return self.paginated(sel.secret_list(tenant=self.tenant, visibility=self.visibility), SecretOutput)

    @extend_schema(request=SecretCreateInput, responses={201: SecretOutput}, operation_id="secrets_create")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = SecretCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        team = self._team(values.pop("team_id", None))
        secret = services.secret_create(
            tenant=self.tenant, actor=self.user, team=team, visibility=self.visibility, **values
        )
        return Response(SecretOutput(secret).data, status=status.HTTP_201_CREATED)


class SecretDetailApi(SecretApi):
    permission_map = {"GET": "secrets:read", "PATCH": "secrets:write", "DELETE": "secrets:write"}

    @extend_schema(responses=SecretOutput, operation_id="secret_get")
    def get(self, request: Request, tenant_id: Any, secret_id: Any) -> Response:
        return Response(SecretOutput(self._secret(secret_id)).data)

    @extend_schema(request=SecretUpdateInput, responses=SecretOutput, operation_id="secret_update")
    def patch(self, request: Request, tenant_id: Any, secret_id: Any) -> Response:
        secret = self._secret(secret_id)
        data = SecretUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "team_id" in values:
            values["team"] = self._team(values.pop("team_id"))
        secret = services.secret_update(
            secret=secret, actor=self.user, data=values, visibility=self.visibility
        )
        return Response(SecretOutput(self._secret(secret.pk)).data)

    @extend_schema(responses={204: None}, operation_id="secret_delete")
    def delete(self, request: Request, tenant_id: Any, secret_id: Any) -> Response:
        services.secret_delete(secret=self._secret(secret_id), actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SecretRotateApi(SecretApi):
    """Replace a secret's value."""

    permission_map = {"POST": "secrets:write"}

    @extend_schema(request=SecretRotateInput, responses=SecretOutput, operation_id="secret_rotate")
    def post(self, request: Request, tenant_id: Any, secret_id: Any) -> Response:
        secret = self._secret(secret_id)
        data = SecretRotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        secret = services.secret_rotate(secret=secret, actor=self.user, value=data.validated_data["value"])
        return Response(SecretOutput(self._secret(secret.pk)).data)


class SecretRevealApi(SecretApi):
    """A secret's value, in this response only; audited every time."""

    permission_map = {"POST": "secrets:admin"}

    @extend_schema(request=None, responses=SecretRevealOutput, operation_id="secret_reveal")
    def post(self, request: Request, tenant_id: Any, secret_id: Any) -> Response:
        secret = self._secret(secret_id)
        value = services.secret_reveal(secret=secret, actor=self.user)
        body = SecretRevealOutput(
            {"id": secret.pk, "name": secret.name, "provider": secret.provider, "value": value}
        ).data
        return Response(body, headers=NO_STORE)
