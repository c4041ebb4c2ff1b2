"""What the accounts views share: the public auth base, the password field, the tokens' shape."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from core.api import BaseApi
from core.serializers import StrictSerializer
from core.throttling import AuthRateThrottle


def password_field() -> serializers.CharField:
    """Passwords: at least 128 characters allowed (4096 here), spaces kept as typed."""
    return serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


DEVICE_HELP = (
    "Marks this device as known to the account: send it back as `device_token` when logging in "
    "again, and a backoff that holds back logins from unknown devices (after many failures from "
    "many addresses) does not apply. Issued at login, not on refresh."
)


class TokensOutput(StrictSerializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    session_id = serializers.UUIDField()
    device_token = serializers.CharField(required=False, help_text=DEVICE_HELP)


class EnrollmentOutput(StrictSerializer):
    otpauth_uri = serializers.CharField()
    qr_svg = serializers.CharField()


def django_request(request: Request) -> HttpRequest:
    """The Django request under DRF's: what the services that read the client's address,
    user agent or django-axes' state take."""
    return request._request


class AuthApi(BaseApi):
    """Public auth endpoints: anyone may call them; a per-IP throttle guards them."""

    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]
