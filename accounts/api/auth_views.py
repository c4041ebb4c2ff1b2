"""Sign-up, login (with a second factor), sessions, passwords and 2FA over HTTP."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User, UserManager, UserSession
from accounts.services import auth, mfa
from core.api import PLATFORM_STAFF, BaseApi, PlatformApi
from core.errors import InvalidInput, NotFound, PermissionDeniedError
from core.throttling import AuthRateThrottle


def password_field() -> serializers.CharField:
    """Passwords: at least 128 characters allowed (4096 here), spaces kept as typed."""
    return serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


DEVICE_HELP = (
    "Marks this device as known to the account: send it back as `device_token` when logging in "
    "again, and a backoff that holds back logins from unknown devices (after many failures from "
    "many addresses) does not apply. Issued at login, not on refresh."
)


class TokensOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    session_id = serializers.UUIDField()
    device_token = serializers.CharField(required=False, help_text=DEVICE_HELP)


class LoginOutput(serializers.Serializer):
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


def _django_request(request: Request) -> Any:
    return request._request


class AuthApi(BaseApi):
    """Public auth endpoints: anyone may call them; a per-IP throttle guards them."""

    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]


class LoginInput(serializers.Serializer):
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
        django_request = _django_request(request)
        user = auth.password_check(
            request=django_request,
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            device_token=data.validated_data.get("device_token", ""),
        )
        if mfa.mfa_enabled(user):
            return Response(
                {"mfa_required": True, "challenge_token": mfa.challenge_issue(user=user, purpose="verify")}
            )
        if mfa.mfa_demanded_by_rules(user):
            return Response(
                {
                    "mfa_enrollment_required": True,
                    "challenge_token": mfa.challenge_issue(user=user, purpose="enroll"),
                }
            )
        tokens = auth.session_start(
            user=user,
            request=django_request,
            device_name=data.validated_data.get("device_name", ""),
            mfa_verified=False,
        )
        return Response(tokens.as_dict())


class LoginMfaApi(AuthApi):
    dangerously_commit_errors = True  # a wrong code is recorded and counts towards the throttle

    class LoginMfaInput(serializers.Serializer):
        challenge_token = serializers.CharField()
        code = serializers.CharField(max_length=32)
        device_name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    @extend_schema(request=LoginMfaInput, responses=TokensOutput, operation_id="auth_login_mfa", auth=[])
    def post(self, request: Request) -> Response:
        """The second step: a TOTP code or a backup code; each is accepted once."""
        data = self.LoginMfaInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = mfa.challenge_user(data.validated_data["challenge_token"], purpose="verify")
        kind = mfa.mfa_verify(user=user, code=data.validated_data["code"])
        tokens = auth.session_start(
            user=user,
            request=_django_request(request),
            device_name=data.validated_data.get("device_name", ""),
            mfa_verified=True,
        )
        body = tokens.as_dict()
        body["mfa_method"] = kind
        return Response(body)


class ChallengeInput(serializers.Serializer):
    challenge_token = serializers.CharField()


class EnrollmentOutput(serializers.Serializer):
    otpauth_uri = serializers.CharField()
    qr_svg = serializers.CharField()


class LoginMfaEnrollApi(AuthApi):
    @extend_schema(
        request=ChallengeInput, responses=EnrollmentOutput, operation_id="auth_login_mfa_enroll", auth=[]
    )
    def post(self, request: Request) -> Response:
        """For a login whose 2FA is required but not set up: start enrolment with the challenge."""
        data = ChallengeInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = mfa.challenge_user(data.validated_data["challenge_token"], purpose="enroll")
        return Response(mfa.totp_enroll(user=user))


class LoginMfaEnrollConfirmApi(AuthApi):
    class EnrollConfirmInput(serializers.Serializer):
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
        user = mfa.challenge_user(data.validated_data["challenge_token"], purpose="enroll")
        codes = mfa.totp_confirm(user=user, code=data.validated_data["code"])
        tokens = auth.session_start(
            user=user,
            request=_django_request(request),
            device_name=data.validated_data.get("device_name", ""),
            mfa_verified=True,
        )
        return Response({"tokens": tokens.as_dict(), "backup_codes": codes})


class RefreshApi(AuthApi):
    dangerously_commit_errors = True  # a detected reuse revokes the session even though the request fails

    class RefreshInput(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(request=RefreshInput, responses=TokensOutput, operation_id="auth_refresh", auth=[])
    def post(self, request: Request) -> Response:
        """Trade a refresh token for a new pair. Each refresh token works once."""
        data = self.RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(auth.session_refresh(raw_refresh=data.validated_data["refresh"]).as_dict())


def _current_session(request: Request) -> UserSession | None:
    return getattr(request._request, "qm_session", None)


class LogoutApi(BaseApi):
    @extend_schema(request=None, responses={204: None}, operation_id="auth_logout")
    def post(self, request: Request) -> Response:
        """End the current session: its tokens stop working at once."""
        session = _current_session(request)
        if session is None:
            raise PermissionDeniedError("Log out with the session's own access token.", code="no_session")
        auth.session_revoke(session=session, actor=self.user, reason="logout")
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionOutput(serializers.ModelSerializer[UserSession]):
    current = serializers.SerializerMethodField()

    class Meta:
        model = UserSession
        fields = [
            "id",
            "device_name",
            "ip_address",
            "user_agent",
            "created_at",
            "last_used_at",
            "expires_at",
            "mfa_verified",
            "current",
        ]

    def get_current(self, obj: UserSession) -> bool:
        return obj.pk == self.context.get("current_id")


class SessionListApi(BaseApi):
    @extend_schema(responses=SessionOutput(many=True), operation_id="auth_sessions_list")
    def get(self, request: Request) -> Response:
        """My live sessions, the current one marked."""
        from django.utils import timezone

        sessions = UserSession.objects.filter(
            user=self.user, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        current = _current_session(request)
        return Response(
            SessionOutput(sessions, many=True, context={"current_id": current.pk if current else None}).data
        )


class SessionDetailApi(BaseApi):
    @extend_schema(responses={204: None}, operation_id="auth_session_revoke")
    def delete(self, request: Request, session_id: Any) -> Response:
        """End one of my sessions (another device)."""
        session = UserSession.objects.filter(pk=session_id, user=self.user).first()
        if session is None:
            raise NotFound()
        auth.session_revoke(session=session, actor=self.user, reason="revoked_by_user")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(BaseApi):
    dangerously_commit_errors = True  # a wrong current password is recorded and counts towards the lockout

    class PasswordChangeInput(serializers.Serializer):
        current_password = password_field()
        new_password = password_field()

    @extend_schema(request=PasswordChangeInput, responses={204: None}, operation_id="auth_password_change")
    def post(self, request: Request) -> Response:
        """Change my password (needs the current one); my other sessions end."""
        data = self.PasswordChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        auth.password_change(
            request=_django_request(request),
            user=self.user,
            session=_current_session(request),
            **data.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(AuthApi):
    class PasswordResetInput(serializers.Serializer):
        email = serializers.EmailField()

    @extend_schema(
        request=PasswordResetInput, responses={202: None}, operation_id="auth_password_reset", auth=[]
    )
    def post(self, request: Request) -> Response:
        """E-mail a reset link if the address has an account; the answer is the same either way."""
        data = self.PasswordResetInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = User.objects.filter(
            email=UserManager.normalize_email(data.validated_data["email"]), is_active=True
        ).first()
        if user is not None:
            from django.conf import settings

            uid = urlsafe_base64_encode(force_bytes(user.pk))
            token = default_token_generator.make_token(user)
            body = render_to_string(
                "emails/password_reset.txt",
                {"user": user, "link": f"{settings.QM_PUBLIC_URL}/password-reset?uid={uid}&token={token}"},
            )
            transaction.on_commit(
                lambda: send_mail("Reset your Quartermaster password", body, None, [user.email])
            )
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(AuthApi):
    class PasswordResetConfirmInput(serializers.Serializer):
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
        try:
            user_id = force_str(urlsafe_base64_decode(data.validated_data["uid"]))
            user = User.objects.filter(pk=user_id, is_active=True).first()
        except (ValueError, TypeError, OverflowError):
            user = None
        if user is None or not default_token_generator.check_token(user, data.validated_data["token"]):
            raise InvalidInput("The reset link is invalid or expired.", code="invalid_reset_token")
        auth.password_reset_complete(user=user, new_password=data.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class CodeInput(serializers.Serializer):
    code = serializers.CharField(max_length=32)


class TotpEnrollApi(BaseApi):
    @extend_schema(request=None, responses=EnrollmentOutput, operation_id="auth_totp_enroll")
    def post(self, request: Request) -> Response:
        """Start TOTP enrolment: an otpauth URI and its QR code (SVG), shown this once."""
        return Response(mfa.totp_enroll(user=self.user))


class TotpConfirmApi(BaseApi):
    @extend_schema(
        request=CodeInput,
        responses=inline_serializer(
            "BackupCodesOutput", {"backup_codes": serializers.ListField(child=serializers.CharField())}
        ),
        operation_id="auth_totp_confirm",
    )
    def post(self, request: Request) -> Response:
        """Confirm enrolment with a first code; returns 10 single-use backup codes, shown once."""
        data = CodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa.totp_confirm(user=self.user, code=data.validated_data["code"])
        session = _current_session(request)
        if session is not None:
            UserSession.objects.filter(pk=session.pk).update(mfa_verified=True)
        return Response({"backup_codes": codes})


class TotpDisableApi(BaseApi):
    dangerously_commit_errors = True  # a wrong code counts towards the throttle

    @extend_schema(request=CodeInput, responses={204: None}, operation_id="auth_totp_disable")
    def post(self, request: Request) -> Response:
        """Turn 2FA off; needs a current code (TOTP or backup)."""
        data = CodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        mfa.totp_disable(user=self.user, code=data.validated_data["code"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserUnlockApi(PlatformApi):
    permission_map = {"POST": PLATFORM_STAFF}

    @extend_schema(
        request=None,
        responses=inline_serializer("UnlockOutput", {"attempts_cleared": serializers.IntegerField()}),
        operation_id="platform_user_unlock",
    )
    def post(self, request: Request, user_id: Any) -> Response:
        """Platform staff: lift a login lockout now."""
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound()
        return Response({"attempts_cleared": auth.account_unlock(user=user, actor=self.user)})
