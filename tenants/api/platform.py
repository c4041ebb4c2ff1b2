"""The platform's configuration over HTTP: setting defaults and platform-wide feature flags.
Platform staff read them; platform admins change them. Views parse, call a service or selector,
render; the serializers are the tenant-level ones (`tenants.api.settings`, `tenants.api.flags`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import PLATFORM_ADMIN, PLATFORM_STAFF, PlatformApi
from core.tenancy import platform_bypass
from tenants import selectors, services
from tenants.api.common import (
    ENVIRONMENT_FILTER_PARAM,
    ENVIRONMENT_PARAM,
    NO_STORE,
    REASON_PARAM,
    environment_filter_of,
    environment_of,
)
from tenants.api.flags import FlagOutput, PlatformFlagInput, PlatformFlagUpdateInput
from tenants.api.settings import (
    SettingOutput,
    SettingRevealOutput,
    SettingRollbackInput,
    SettingSetInput,
    SettingVersionOutput,
    setting_body,
)
from tenants.models import FeatureFlag

# --- Setting defaults -------------------------------------------------------------------------


class PlatformSettingListApi(PlatformApi):
    """Platform staff: every setting's platform default (its own value, or the code default)."""

    permission_map = {"GET": PLATFORM_STAFF}

    @extend_schema(
        responses=SettingOutput(many=True),
        parameters=[ENVIRONMENT_PARAM],
        operation_id="platform_settings_list",
    )
    def get(self, request: Request) -> Response:
        return self.paginated(
            selectors.setting_list(tenant=None, environment=environment_of(request)), SettingOutput
        )


class PlatformSettingDetailApi(PlatformApi):
    """Platform staff read a default; platform admins set or reset it."""

    permission_map = {"GET": PLATFORM_STAFF, "PUT": PLATFORM_ADMIN, "DELETE": PLATFORM_ADMIN}

    @extend_schema(
        responses=SettingOutput, parameters=[ENVIRONMENT_PARAM], operation_id="platform_setting_get"
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(setting_body(None, key, environment_of(request)))

    @extend_schema(
        request=SettingSetInput,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM],
        operation_id="platform_setting_set",
    )
    def put(self, request: Request, key: str) -> Response:
        environment = environment_of(request)
        data = SettingSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.setting_set(
            tenant=None, key=key, actor=self.user, environment=environment, **data.validated_data
        )
        return Response(setting_body(None, key, environment))

    @extend_schema(
        request=None,
        responses=SettingOutput,
        parameters=[ENVIRONMENT_PARAM, REASON_PARAM],
        operation_id="platform_setting_reset",
    )
    def delete(self, request: Request, key: str) -> Response:
        environment = environment_of(request)
        services.setting_reset(
            tenant=None,
            key=key,
            actor=self.user,
            environment=environment,
            reason=request.query_params.get("reason", "")[:2000],
        )
        return Response(setting_body(None, key, environment))


class PlatformSettingVersionListApi(PlatformApi):
    permission_map = {"GET": PLATFORM_STAFF}

    @extend_schema(
        responses=SettingVersionOutput(many=True),
        parameters=[ENVIRONMENT_PARAM],
        operation_id="platform_setting_versions_list",
    )
    def get(self, request: Request, key: str) -> Response:
        """Platform staff: the history of a platform default, newest first."""
        environment = environment_of(request)
        # The platform's history is readable only under the bypass; the page is rendered inside it.
        with platform_bypass(reason="platform setting history", actor=self.user, log=False):
            qs = selectors.setting_version_list(tenant=None, key=key, environment=environment)
            return self.paginated(qs, SettingVersionOutput)


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
        environment = environment_of(request)
        data = SettingRollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.setting_rollback(
            tenant=None, key=key, actor=self.user, environment=environment, **data.validated_data
        )
        return Response(setting_body(None, key, environment))


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
        environment = environment_of(request)
        value = services.setting_reveal(tenant=None, key=key, actor=self.user, environment=environment)
        body = SettingRevealOutput({"key": key, "environment": environment, "value": value}).data
        return Response(body, headers=NO_STORE)


# --- Platform-wide flags ----------------------------------------------------------------------


class PlatformFlagListCreateApi(PlatformApi):
    """Platform staff: the platform-wide flags; platform admins create them."""

    permission_map = {"GET": PLATFORM_STAFF, "POST": PLATFORM_ADMIN}

    @extend_schema(
        responses=FlagOutput(many=True),
        parameters=[ENVIRONMENT_FILTER_PARAM],
        operation_id="platform_flags_list",
    )
    def get(self, request: Request) -> Response:
        qs = selectors.flag_list(tenant=None, environment=environment_filter_of(request))
        return self.paginated(qs, FlagOutput)

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
        return self.get_or_404(selectors.flag_list(tenant=None), pk=flag_id)

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
