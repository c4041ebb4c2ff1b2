"""Invites over HTTP: list, create and revoke in a tenant; accept with the e-mailed token.

No response ever carries the token or its hash: the token goes to the invitee by e-mail only.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import BaseApi, TenantScopedApi
from core.errors import InvalidInput
from core.serializers import StrictSerializer
from core.throttling import AuthRateThrottle
from tenants import selectors, services
from tenants.api.common import body_role, body_team
from tenants.models import Invite, InviteStatus

DEFAULT_ROLE = "member"


class InviteOutput(serializers.ModelSerializer[Invite]):
    status = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    invited_by = serializers.SerializerMethodField()

    class Meta:
        model = Invite
        fields = [
            "id",
            "email",
            "role",
            "team",
            "status",
            "invited_by",
            "expires_at",
            "accepted_by",
            "accepted_at",
            "revoked_at",
            "created_at",
        ]

    @extend_schema_field(
        serializers.ChoiceField(
            choices=InviteStatus.choices, help_text="A pending invite past its expiry shows as expired."
        )
    )
    def get_status(self, obj: Invite) -> str:
        return getattr(obj, "effective_status", None) or selectors.invite_effective_status(obj)

    @extend_schema_field(
        inline_serializer(
            "InviteRoleOutput",
            {"id": serializers.UUIDField(), "slug": serializers.CharField(), "name": serializers.CharField()},
            allow_null=True,
            help_text="Null once a closed (accepted, revoked, expired) invite's custom role is deleted.",
        )
    )
    def get_role(self, obj: Invite) -> dict[str, Any] | None:
        return {"id": str(obj.role.pk), "slug": obj.role.slug, "name": obj.role.name} if obj.role else None

    def get_team(self, obj: Invite) -> dict[str, Any] | None:
        return {"id": str(obj.team.pk), "slug": obj.team.slug, "name": obj.team.name} if obj.team else None

    def get_invited_by(self, obj: Invite) -> dict[str, Any]:
        return {"id": str(obj.invited_by.pk), "email": obj.invited_by.email}


class InviteListCreateApi(TenantScopedApi):
    """The tenant's invites; invite someone (the token goes to them by e-mail, never in the response)."""

    permission_map = {"GET": "invites:read", "POST": "invites:write"}

    class InviteCreateInput(StrictSerializer):
        email = serializers.EmailField()
        role_id = serializers.UUIDField(
            required=False, help_text="A system role or one of this tenant's roles; default: member."
        )
        team_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        responses=InviteOutput(many=True),
        operation_id="invites_list",
        parameters=[
            OpenApiParameter(
                "status",
                str,
                OpenApiParameter.QUERY,
                enum=list(InviteStatus.values),
                description="Only invites with this status (pending past expiry counts as expired).",
            )
        ],
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in InviteStatus.values:
            raise InvalidInput(
                "Some fields are invalid.",
                code="validation_error",
                errors={"status": [f"One of: {', '.join(InviteStatus.values)}."]},
            )
        return self.paginated(selectors.invite_list(tenant=self.tenant, status=wanted), InviteOutput)

    @extend_schema(request=InviteCreateInput, responses={201: InviteOutput}, operation_id="invites_create")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = self.InviteCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        # Ids from the body are resolved within this tenant only: another tenant's id is "unknown".
        role = (
            body_role(self.tenant, values["role_id"])
            if values.get("role_id")
            else services.system_role(DEFAULT_ROLE)
        )
        team = body_team(self.tenant, values["team_id"]) if values.get("team_id") else None
        invite, _token = services.invite_create(
            tenant=self.tenant, actor=self.user, email=values["email"], role=role, team=team
        )
        return Response(InviteOutput(invite).data, status=status.HTTP_201_CREATED)


class InviteRevokeApi(TenantScopedApi):
    """Revoke a pending invite: its link stops working at once."""

    permission_map = {"POST": "invites:write"}

    @extend_schema(request=None, responses=InviteOutput, operation_id="invite_revoke")
    def post(self, request: Request, tenant_id: Any, invite_id: Any) -> Response:
        invite = self.get_or_404(selectors.invite_list(tenant=self.tenant), pk=invite_id)
        invite = services.invite_revoke(invite=invite, actor=self.user)
        return Response(InviteOutput(invite).data)


class InviteAcceptApi(BaseApi):
    """Accept an invite with the e-mailed token (public: the token is the credential).

    An address that already has an account must be logged in as that account; a new address
    gets an account with the given password.
    """

    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]

    class InviteAcceptInput(StrictSerializer):
        token = serializers.CharField(max_length=200, trim_whitespace=True)
        password = serializers.CharField(
            required=False, allow_blank=True, write_only=True, trim_whitespace=False, max_length=4096
        )
        full_name = serializers.CharField(required=False, allow_blank=True, max_length=200)

    class InviteAcceptOutput(StrictSerializer):
        tenant_id = serializers.UUIDField()
        membership_id = serializers.UUIDField()
        user_id = serializers.UUIDField()
        created_user = serializers.BooleanField()

    @extend_schema(
        request=InviteAcceptInput,
        responses={200: InviteAcceptOutput, 404: OpenApiResponse(description="No invite has this token.")},
        operation_id="invite_accept",
    )
    def post(self, request: Request) -> Response:
        data = self.InviteAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = self.user if self.user and self.user.is_authenticated else None
        membership = services.invite_accept(
            token=values["token"],
            user=user,
            password=values.get("password") or None,
            full_name=values.get("full_name", ""),
        )
        # An authenticated caller can only succeed as the existing account; an anonymous one
        # only by creating the account.
        body = {
            "tenant_id": membership.tenant_id,
            "membership_id": membership.pk,
            "user_id": membership.user_id,
            "created_user": user is None,
        }
        return Response(self.InviteAcceptOutput(body).data)
