"""Fixtures for the console's tests: tenants, people in each role, a browser-like client that
signs in through the real sign-in page, TOTP codes from the enrolled seed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP

from accounts.models import EncryptedTOTPDevice
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from tenants.tests.factories import TenantFactory, member


def totp_code(user: Any, *, steps_ahead: int = 0, confirmed: bool | None = None) -> str:
    """What the user's authenticator shows now (or `steps_ahead` periods later), computed from
    the seed the server keeps encrypted (accounts.models.EncryptedTOTPDevice)."""
    qs = EncryptedTOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        qs = qs.filter(confirmed=confirmed)
    device = qs.get()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(user: Any) -> list[str]:
    """Turn 2FA on for `user` through the services; returns the backup codes."""
    from accounts.services import mfa

    mfa.totp_enroll(user=user)
    return mfa.totp_confirm(user=user, code=totp_code(user, confirmed=False))


def sign_in(client: Client, user: Any, *, password: str = TEST_PASSWORD, **extra: Any) -> Any:
    """Post the sign-in form as a browser would; returns the answer."""
    return client.post("/signin/", {"email": user.email, "password": password, **extra})


@pytest.fixture
def tenant(db: Any) -> Any:
    return TenantFactory.create(name="Acme Robotics", timezone="Europe/Berlin")


@pytest.fixture
def other_tenant(db: Any) -> Any:
    return TenantFactory.create(name="Globex Secret Projects")


@pytest.fixture
def owner(tenant: Any) -> Any:
    return member(tenant, "owner")


@pytest.fixture
def viewer(tenant: Any) -> Any:
    return member(tenant, "viewer")


@pytest.fixture
def platform_operator(db: Any) -> Any:
    return UserFactory.create(platform_operator=True)


@pytest.fixture
def signed_in():
    """signed_in(user) -> a Client signed in through the sign-in page (no second factor)."""

    def make(user: Any) -> Client:
        client = Client()
        response = sign_in(client, user)
        assert response.status_code == 302, response.content[:500]
        return client

    return make
