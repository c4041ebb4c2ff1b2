"""Logging in (password, then a second factor when there is one), refreshing, logging out."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.common import (
    DEVICE_HELP,
    AuthApi,
    EnrollmentOutput,
    TokensOutput,
    django_request,
    password_field,
)
from accounts.authentication import request_session
from accounts.services import auth
from core.api import BaseApi
from core.errors import PermissionDeniedError
from core.serializers import StrictSerializer


class LoginOutput(StrictSerializer):
    """Either tokens, or a challenge for the second factor (verify or enroll)."""

    access = serializers.CharField(required=False)
    refresh = serializers.CharField(required=False)
    token_type = serializers.CharField(required=False)
    expires_in = serializers.IntegerField(required=False)
    session_id = serializers.UUIDField(required=False)
    device_token = serializers.CharField(required=False, help_text=DEVICE_HELP)
    mfa_required = serializers.BooleanField(required=False)
    mfa_enrollment_required = serializers.BooleanField(required=False)
    challenge_token = serializers.CharField(required=False)


class LoginInput(StrictSerializer):
    email = serializers.EmailField()
    password = password_field()
    device_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    device_token = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="The device_token of an earlier login."
    )


class LoginApi(AuthApi):
    dangerously_commit_errors = True  # a refused login is recorded and counts towards the lockout

    @extend_schema(request=LoginInput, responses=LoginOutput, operation_id="auth_login", auth=[])
    def post(self, request: Request) -> Response:
        """E-mail and password. With 2FA enrolled or required, answers a challenge instead of tokens."""
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = auth.login(request=django_request(request), **data.validated_data)
        return Response(outcome.as_dict())


class LoginMfaApi(AuthApi):
    dangerously_commit_errors = True  # a wrong code is recorded and counts towards the throttle

    class LoginMfaInput(StrictSerializer):
        challenge_token = serializers.CharField()
        code = serializers.CharField(max_length=32)
        device_name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(request=LoginMfaInput, responses=TokensOutput, operation_id="auth_login_mfa", auth=[])
    def post(self, request: Request) -> Response:
        """The second step: a TOTP code or a backup code; each is accepted once."""
        data = self.LoginMfaInput(data=request.data)
        data.is_valid(raise_exception=True)
        tokens, kind = auth.login_mfa_verify(request=django_request(request), **data.validated_data)
        return Response({**tokens.as_dict(), "mfa_method": kind})


class ChallengeInput(StrictSerializer):
    challenge_token = serializers.CharField()


class LoginMfaEnrollApi(AuthApi):
    @extend_schema(
        request=ChallengeInput, responses=EnrollmentOutput, operation_id="auth_login_mfa_enroll", auth=[]
    )
    def post(self, request: Request) -> Response:
        """For a login whose 2FA is required but not set up: start enrolment with the challenge."""
        data = ChallengeInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(auth.login_mfa_enroll(**data.validated_data))


class LoginMfaEnrollConfirmApi(AuthApi):
    class EnrollConfirmInput(StrictSerializer):
        challenge_token = serializers.CharField()
        code = serializers.CharField(max_length=16)
        device_name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(
        request=EnrollConfirmInput,
        responses=inline_serializer(
            "EnrollConfirmOutput",
            {"tokens": TokensOutput(), "backup_codes": serializers.ListField(child=serializers.CharField())},
        ),
        operation_id="auth_login_mfa_enroll_confirm",
        auth=[],
    )
    def post(self, request: Request) -> Response:
        """Confirm the new device with a first code: backup codes (shown once) and tokens."""
        data = self.EnrollConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        tokens, codes = auth.login_mfa_enroll_confirm(request=django_request(request), **data.validated_data)
        return Response({"tokens": tokens.as_dict(), "backup_codes": codes})


class RefreshApi(AuthApi):
    dangerously_commit_errors = True  # a detected reuse revokes the session even though the request fails

    class RefreshInput(StrictSerializer):
        refresh = serializers.CharField()

    @extend_schema(request=RefreshInput, responses=TokensOutput, operation_id="auth_refresh", auth=[])
    def post(self, request: Request) -> Response:
        """Trade a refresh token for a new pair. Each refresh token works once."""
        data = self.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(auth.session_refresh(raw_refresh=data.validated_data["refresh"]).as_dict())


class LogoutApi(BaseApi):
    @extend_schema(request=None, responses={204: None}, operation_id="auth_logout")
    def post(self, request: Request) -> Response:
        """End the current session: its tokens stop working at once."""
        session = request_session(request)
        if session is None:
            raise PermissionDeniedError("Log out with the session's own access token.", code="no_session")
        auth.session_revoke(session=session, actor=self.user, reason="logout")
        return Response(status=status.HTTP_204_NO_CONTENT)
