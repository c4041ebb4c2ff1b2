"""Two-factor authentication from the user menu: set up (QR code, first code, backup codes shown
once) and turn off; refused while a tenant requires it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import UserSession
from accounts.services import mfa
from accounts.tests.factories import TEST_PASSWORD
from console.auth import CONSOLE_SESSION_KEY
from console.tests.conftest import enrol, totp_code
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db
URL = "/account/two-factor/"


def test_two_factor_page__not_signed_in__asks_to_sign_in() -> None:
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/signin/?next=%2Faccount%2Ftwo-factor%2F"


def test_two_factor__start_then_first_code__on_with_ten_backup_codes_and_session_verified(
    signed_in: Any, owner: Any
) -> None:
    client = signed_in(owner)
    assert "Your password alone signs you in." in client.get(URL).content.decode()

    started = client.post(URL, {"action": "start"})
    assert started.status_code == 200
    assert "<svg" in started.content.decode()
    assert started["Cache-Control"] == "no-store"

    confirmed = client.post(URL, {"action": "confirm", "code": totp_code(owner, confirmed=False)})
    body = confirmed.content.decode()
    assert confirmed.status_code == 200
    assert body.count("<li><code>") == 10
    assert "they are not shown again" in body
    assert mfa.mfa_enabled(owner)
    assert UserSession.objects.get(pk=client.session[CONSOLE_SESSION_KEY]).mfa_verified is True

    later = client.get(URL).content.decode()
    assert "<li><code>" not in later  # shown once
    assert "Turn off two-factor authentication" in later


def test_two_factor__wrong_first_code__error_in_place_and_still_off(signed_in: Any, owner: Any) -> None:
    client = signed_in(owner)
    client.post(URL, {"action": "start"})
    response = client.post(URL, {"action": "confirm", "code": "000000"})
    assert response.status_code == 400
    assert "The code is wrong or was already used." in response.content.decode()
    assert not mfa.mfa_enabled(owner)


def _signed_in_with_2fa(user: Any) -> tuple[Client, list[str]]:
    codes = enrol(user)
    client = Client()
    client.post("/signin/", {"email": user.email, "password": TEST_PASSWORD})
    assert client.post("/signin/verify/", {"code": codes[0]}).status_code == 302
    return client, codes[1:]


def test_two_factor__turn_off_with_a_current_code__off(owner: Any) -> None:
    client, _ = _signed_in_with_2fa(owner)
    response = client.post(URL, {"action": "disable", "disable-code": totp_code(owner, steps_ahead=1)})
    assert response.status_code == 200
    assert "Two-factor authentication is off." in response.content.decode()
    assert not mfa.mfa_enabled(owner)


def test_two_factor__turn_off_with_a_wrong_code__refused_then_the_wait_is_given(owner: Any) -> None:
    client, _ = _signed_in_with_2fa(owner)
    wrong = client.post(URL, {"action": "disable", "disable-code": "000000"})
    assert wrong.status_code == 400
    assert "The code is wrong or was already used." in wrong.content.decode()
    held = client.post(URL, {"action": "disable", "disable-code": totp_code(owner, steps_ahead=1)})
    assert held.status_code == 429
    assert "Too many wrong codes. Try again in" in held.content.decode()
    assert mfa.mfa_enabled(owner)


def test_two_factor__required_by_a_tenant__no_way_to_turn_it_off(db: Any) -> None:
    tenant = TenantFactory.create(require_2fa=True)
    user = member(tenant, "owner")
    client, codes = _signed_in_with_2fa(user)
    page = client.get(URL).content.decode()
    assert "it cannot be turned off" in page
    assert "Turn off two-factor authentication" not in page
    refused = client.post(URL, {"action": "disable", "disable-code": codes[0]})
    assert refused.status_code == 409
    assert mfa.mfa_enabled(user)


def test_two_factor__unknown_action__400_and_nothing_changes(signed_in: Any, owner: Any) -> None:
    response = signed_in(owner).post(URL, {"action": "explode"})
    assert response.status_code == 400
    assert "Unknown action." in response.content.decode()
    assert not mfa.mfa_enabled(owner)
