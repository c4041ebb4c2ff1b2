"""My second factor: enrol a TOTP authenticator, confirm it, turn it off."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.common import EnrollmentOutput
from accounts.authentication import request_session
from accounts.services import mfa
from core.api import BaseApi
from core.serializers import StrictSerializer


class CodeInput(StrictSerializer):
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
        codes = mfa.totp_confirm(
            user=self.user, code=data.validated_data["code"], session=request_session(request)
        )
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
