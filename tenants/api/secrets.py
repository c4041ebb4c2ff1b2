"""The secret locker over HTTP: names, providers and last four characters, never values, except
in an explicit reveal, which is audited and marked `Cache-Control: no-store`. Views parse, call a
service or selector, render.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import TenantScopedApi
from core.serializers import StrictSerializer
from tenants import selectors, services
from tenants.api.common import NO_STORE, body_team
from tenants.models import Secret, Team


class SecretTeamOutput(StrictSerializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()


class SecretCreatorOutput(StrictSerializer):
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


class SecretCreateInput(StrictSerializer):
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


class SecretUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    provider = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]{0,49}$", max_length=50, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    team_id = serializers.UUIDField(required=False, allow_null=True, help_text="null: the whole tenant.")


class SecretRotateInput(StrictSerializer):
    value = serializers.CharField(
        max_length=services.SECRET_MAX_LENGTH,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
    )


class SecretRevealOutput(StrictSerializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    provider = serializers.CharField()
    value = serializers.CharField()


class SecretApi(TenantScopedApi):
    """The caller's view of the locker: all secrets, or tenant-wide ones and their team's."""

    @property
    def visibility(self) -> selectors.SecretVisibility:
        return selectors.secret_visibility(
            user=self.user,
            membership=self.access.membership,
            via_api_key=self.access.api_key is not None,
        )

    def _secret(self, secret_id: Any) -> Secret:
        return selectors.secret_get(tenant=self.tenant, visibility=self.visibility, secret_id=secret_id)

    def _team(self, team_id: Any) -> Team | None:
        # Resolved within this tenant: another tenant's team id is unknown here.
        return body_team(self.tenant, team_id) if team_id is not None else None


class SecretListCreateApi(SecretApi):
    """The locker: names, providers and last four characters, never values; store a secret."""

    permission_map = {"GET": "secrets:read", "POST": "secrets:write"}

    @extend_schema(responses=SecretOutput(many=True), operation_id="secrets_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return self.paginated(
            selectors.secret_list(tenant=self.tenant, visibility=self.visibility), SecretOutput
        )

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
