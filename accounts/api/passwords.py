"""Passwords: change mine; reset a forgotten one through an e-mailed link."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.common import AuthApi, django_request, password_field
from accounts.authentication import request_session
from accounts.services import passwords
from core.api import BaseApi
from core.serializers import StrictSerializer


class PasswordChangeApi(BaseApi):
    dangerously_commit_errors = True  # a wrong current password is recorded and counts towards the lockout

    class PasswordChangeInput(StrictSerializer):
        current_password = password_field()
        new_password = password_field()

    @extend_schema(request=PasswordChangeInput, responses={204: None}, operation_id="auth_password_change")
    def post(self, request: Request) -> Response:
        """Change my password (needs the current one); my other sessions end."""
        data = self.PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        passwords.password_change(
            request=django_request(request),
            user=self.user,
            session=request_session(request),
            **data.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(AuthApi):
    class PasswordResetInput(StrictSerializer):
        email = serializers.EmailField()

    @extend_schema(
        request=PasswordResetInput, responses={202: None}, operation_id="auth_password_reset", auth=[]
    )
    def post(self, request: Request) -> Response:
        """E-mail a reset link if the address has an account; the answer is the same either way."""
        data = self.PasswordResetInput(data=request.data)
        data.is_valid(raise_exception=True)
        passwords.password_reset_request(email=data.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(AuthApi):
    class PasswordResetConfirmInput(StrictSerializer):
        uid = serializers.CharField()
        token = serializers.CharField()
        new_password = password_field()

    @extend_schema(
        request=PasswordResetConfirmInput,
        responses={204: None},
        operation_id="auth_password_reset_confirm",
        auth=[],
    )
    def post(self, request: Request) -> Response:
        """Set a new password from the e-mailed link. Every session ends; no tokens are issued."""
        data = self.PasswordResetConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        passwords.password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
