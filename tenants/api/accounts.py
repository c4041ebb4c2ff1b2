"""The caller's account as tenants see it: sign-up (a user with their own tenant) and "who am
I" (the user with every membership). They live here, above accounts, because both are about
tenants; the rest of authentication is accounts.api.auth_views."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions as registry
from accounts.api.common import AuthApi, TokensOutput, password_field
from accounts.services import auth, mfa
from core.api import BaseApi
from core.serializers import StrictSerializer
from tenants import selectors, services


class RegisterApi(AuthApi):
    class RegisterInput(StrictSerializer):
        email = serializers.EmailField()
        password = password_field()
        full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
        tenant_name = serializers.CharField(max_length=200)
        device_name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        request=RegisterInput, responses={201: TokensOutput}, operation_id="auth_register", auth=[]
    )
    def post(self, request: Request) -> Response:
        """Sign up: the user, their tenant and the owner membership, in one transaction."""
        data = self.RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        device = values.pop("device_name", "")
        user = services.signup(**values)
        tokens = auth.session_start(
            user=user, request=request._request, device_name=device, mfa_verified=False
        )
        return Response(tokens.as_dict(), status=status.HTTP_201_CREATED)


class MeApi(BaseApi):
    @extend_schema(
        responses=inline_serializer(
            "MeOutput", {"user": serializers.DictField(), "memberships": serializers.ListField()}
        ),
        operation_id="auth_me",
    )
    def get(self, request: Request) -> Response:
        """Who am I: the user, their memberships and what each lets them do."""
        user = self.user
        memberships = selectors.membership_list_for_user(user=user)
        return Response(
            {
                "user": {
                    "id": str(user.pk),
                    "email": user.email,
                    "username": user.username,
                    "full_name": user.full_name,
                    "platform_role": user.platform_role,
                    "mfa_enabled": mfa.mfa_enabled(user),
                    "date_joined": user.date_joined,
                },
                "memberships": [
                    {
                        "id": str(m.pk),
                        "tenant": {
                            "id": str(m.tenant.pk),
                            "name": m.tenant.name,
                            "slug": m.tenant.slug,
                            "status": m.tenant.status,
                        },
                        "role": {"id": str(m.role.pk), "slug": m.role.slug, "name": m.role.name},
                        "team": {"id": str(m.team.pk), "slug": m.team.slug} if m.team else None,
                        "permissions": sorted(registry.effective_permissions(user=user, role=m.role)),
                    }
                    for m in memberships
                ],
            }
        )
