from __future__ import annotations

import time
from typing import Any

import pytest
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from accounts.models import EncryptedTOTPDevice
from accounts.tests.factories import TEST_PASSWORD, UserFactory


def totp_code(user: Any, *, steps_ahead: int = 0, confirmed: bool | None = None) -> str:
    """The code the user's authenticator shows now (or `steps_ahead` periods later)."""
    qs = EncryptedTOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        qs = qs.filter(confirmed=confirmed)
    device = qs.get()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def login(client: APIClient, email: str, password: str = TEST_PASSWORD, **extra: Any) -> Any:
    return client.post("/api/v1/auth/login", {"email": email, "password": password, **extra}, format="json")


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def user() -> Any:
    return UserFactory.create(email="ada@example.com")


@pytest.fixture
def tokens(api_client: APIClient, user: Any) -> dict[str, Any]:
    response = login(api_client, user.email)
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.fixture
def enrolled_user(user: Any) -> Any:
    """A user with confirmed TOTP and backup codes (codes on `user.backup_codes`)."""
    from accounts.services import mfa

    mfa.totp_enroll(user=user)
    user.backup_codes = mfa.totp_confirm(user=user, code=totp_code(user, confirmed=False))
    return user
