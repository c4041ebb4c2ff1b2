"""Signing in and out of the console: the API's lockout, backoff and 2FA rules, through the
sign-in pages; the console session tied to an accounts session."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.models import UserSession
from accounts.services import session_revoke
from accounts.tests.factories import UserFactory
from console.auth import CHALLENGE_SESSION_KEY, CONSOLE_SESSION_KEY, DEVICE_COOKIE
from console.tests.conftest import enrol, sign_in, totp_code
from tenants.tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


def _session(client: Client) -> UserSession:
    return UserSession.objects.get(pk=client.session[CONSOLE_SESSION_KEY])


def test_signin_page__get__form_with_labels_and_csrf_token() -> None:
    response = Client().get("/signin/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in body
    assert '<label for="id_email">E-mail</label>' in body
    assert 'autocomplete="current-password"' in body


def test_signin__right_password_without_2fa__console_session_and_httponly_device_cookie(owner: Any) -> None:
    client = Client()
    response = sign_in(client, owner)
    assert response.status_code == 302
    assert response["Location"] == "/"
    session = _session(client)
    assert session.user == owner
    assert session.device_name == "Web console"
    assert session.revoked_at is None
    assert session.mfa_verified is False
    cookie = response.cookies[DEVICE_COOKIE]
    assert cookie.value
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert client.session[SESSION_KEY] == str(owner.pk)


def test_signin__signed_in_user_opens_home__goes_to_their_only_tenant(
    signed_in: Any, owner: Any, tenant: Any
) -> None:
    response = signed_in(owner).get("/")
    assert response.status_code == 302
    assert response["Location"] == f"/t/{tenant.pk}/"


def test_signin__wrong_password__error_in_place_and_no_session(owner: Any) -> None:
    client = Client()
    response = sign_in(client, owner, password="not the password at all")
    assert response.status_code == 401
    assert "The e-mail or password is wrong." in response.content.decode()
    assert CONSOLE_SESSION_KEY not in client.session
    assert not UserSession.objects.filter(user=owner).exists()


def test_signin__fifth_wrong_password__locked_page_with_the_wait_even_for_the_right_one(owner: Any) -> None:
    client = Client()
    for _ in range(4):
        assert sign_in(client, owner, password="wrong password!!").status_code == 401
    fifth = sign_in(client, owner, password="wrong password!!")
    assert fifth.status_code == 429
    assert "this account is locked for a while. Try again in 15 minutes." in fifth.content.decode()
    assert 890 <= int(fifth["Retry-After"]) <= 900
    assert "<form" in fifth.content.decode()  # our page, not django-axes' plain text
    right = sign_in(client, owner)
    assert right.status_code == 429
    assert CONSOLE_SESSION_KEY not in client.session


def test_signin__account_backing_off__unknown_device_held_back_known_device_passes(
    owner: Any, settings: Any
) -> None:
    settings.QM_LOCKOUT_ACCOUNT_THRESHOLD = 3
    known = Client()
    assert sign_in(known, owner).status_code == 302  # this browser now holds a device token
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        sign_in(Client(REMOTE_ADDR=address), owner, password="guessing wrong!!")

    stranger = sign_in(Client(REMOTE_ADDR="10.0.0.9"), owner)
    assert stranger.status_code == 429
    assert "new devices are held back" in stranger.content.decode()
    known.post("/signout/")
    assert sign_in(known, owner).status_code == 302


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [("/tenants/", "/tenants/"), ("https://evil.example/steal", "/"), ("//evil.example/", "/")],
)
def test_signin__next_parameter__followed_only_within_the_site(
    owner: Any, next_url: str, expected: str
) -> None:
    response = sign_in(Client(), owner, next=next_url)
    assert response.status_code == 302
    assert response["Location"] == expected


def test_signin__post_without_csrf_token__refused() -> None:
    user = UserFactory.create()
    response = sign_in(Client(enforce_csrf_checks=True), user)
    assert response.status_code == 403
    assert not UserSession.objects.filter(user=user).exists()


def test_verify__totp_code__signed_in_with_the_session_verified(owner: Any) -> None:
    enrol(owner)
    client = Client()
    first = sign_in(client, owner)
    assert first["Location"] == "/signin/verify/"
    assert not UserSession.objects.filter(user=owner).exists()  # the password alone opens nothing
    response = client.post("/signin/verify/", {"code": totp_code(owner, steps_ahead=1)})
    assert response.status_code == 302
    session = _session(client)
    assert session.mfa_verified is True
    assert client.session.get("otp_device_id")  # django-otp's mark: the admin sees it verified
    assert CHALLENGE_SESSION_KEY not in client.session


def test_verify__wrong_code_then_right_one__wrong_then_answered_with_the_wait(owner: Any) -> None:
    enrol(owner)
    client = Client()
    sign_in(client, owner)
    wrong = client.post("/signin/verify/", {"code": "000000"})
    assert wrong.status_code == 400
    assert "The code is wrong or was already used." in wrong.content.decode()
    right = client.post("/signin/verify/", {"code": totp_code(owner, steps_ahead=1)})
    assert right.status_code == 429
    assert "Too many wrong codes. Try again in" in right.content.decode()
    assert int(right["Retry-After"]) >= 1
    assert CONSOLE_SESSION_KEY not in client.session


def test_verify__backup_code__signed_in_once_and_warned(owner: Any) -> None:
    codes = enrol(owner)
    client = Client()
    sign_in(client, owner)
    response = client.post("/signin/verify/", {"code": codes[0]}, follow=True)
    assert "You signed in with a backup code" in response.content.decode()
    assert _session(client).mfa_verified is True

    again = Client()
    sign_in(again, owner)
    reused = again.post("/signin/verify/", {"code": codes[0]})
    assert reused.status_code == 400


def test_verify__no_challenge__back_to_the_password_step() -> None:
    response = Client().get("/signin/verify/")
    assert response.status_code == 302
    assert response["Location"] == "/signin/"


def test_verify__forged_challenge__starts_over_with_a_message(owner: Any) -> None:
    enrol(owner)
    client = Client()
    session = client.session
    session[CHALLENGE_SESSION_KEY] = "not-a-signed-challenge"
    session.save()
    response = client.post("/signin/verify/", {"code": "123456"}, follow=True)
    assert response.redirect_chain[-1][0] == "/signin/"
    assert "Your sign-in took too long or has ended" in response.content.decode()


def test_enroll__tenant_requires_2fa__qr_then_first_code_then_ten_backup_codes_once(db: Any) -> None:
    tenant = TenantFactory.create(require_2fa=True)
    user = member(tenant, "member")
    client = Client()
    assert sign_in(client, user)["Location"] == "/signin/enroll/"

    page = client.get("/signin/enroll/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in body
    assert 'data-testid="manual-key"' in body
    assert page["Cache-Control"] == "no-store"

    done = client.post("/signin/enroll/", {"code": totp_code(user, confirmed=False)})
    assert done.status_code == 200
    assert done.content.decode().count("<li><code>") == 10
    assert done["Cache-Control"] == "no-store"
    assert _session(client).mfa_verified is True
    assert client.get("/").status_code == 302  # signed in: home sends them on


def test_enroll__wrong_first_code__error_in_place_and_a_way_to_start_again(db: Any) -> None:
    tenant = TenantFactory.create(require_2fa=True)
    user = member(tenant, "member")
    client = Client()
    sign_in(client, user)
    client.get("/signin/enroll/")
    response = client.post("/signin/enroll/", {"code": "000000"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "The code is wrong or was already used." in body
    assert "Start again with a new one" in body
    assert CONSOLE_SESSION_KEY not in client.session


def test_signout__post__accounts_session_revoked_and_pages_ask_to_sign_in(
    signed_in: Any, owner: Any, tenant: Any
) -> None:
    client = signed_in(owner)
    session = _session(client)
    assert client.get("/signout/").status_code == 405  # a link cannot sign anyone out
    response = client.post("/signout/")
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.revoked_at is not None
    assert session.revoke_reason == "logout"
    page = client.get(f"/t/{tenant.pk}/")
    assert page.status_code == 302
    assert page["Location"] == f"/signin/?next=%2Ft%2F{tenant.pk}%2F"


def test_console_session__revoked_from_elsewhere__next_request_asks_to_sign_in(
    signed_in: Any, owner: Any, tenant: Any
) -> None:
    client = signed_in(owner)
    assert client.get(f"/t/{tenant.pk}/").status_code == 200
    session_revoke(session=_session(client), actor=owner, reason="revoked from the sessions page")
    assert client.get(f"/t/{tenant.pk}/").status_code == 302


def test_console_session__password_changed__next_request_asks_to_sign_in(
    signed_in: Any, owner: Any, tenant: Any
) -> None:
    client = signed_in(owner)
    owner.set_password("a brand new password 123")
    owner.save()
    assert client.get(f"/t/{tenant.pk}/").status_code == 302


def test_console_session__admin_login_only__console_asks_to_sign_in(owner: Any, tenant: Any) -> None:
    client = Client()
    client.force_login(owner)  # a Django session without an accounts session behind it
    response = client.get(f"/t/{tenant.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


def test_htmx_request__not_signed_in__client_redirect_to_sign_in(tenant: Any) -> None:
    response = Client().post(f"/t/{tenant.pk}/alerts/", {"threshold": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/signin/?next=")


def test_signin__anyone_signed_in__sign_in_page_redirects_home(signed_in: Any, owner: Any) -> None:
    response = signed_in(owner).get("/signin/")
    assert response.status_code == 302
    assert response["Location"] == "/"
