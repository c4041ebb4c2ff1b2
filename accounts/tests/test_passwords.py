"""Passwords' services directly: the reset link is e-mailed only once the caller's transaction
commits, and a link is checked (id and token) before any password changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User, UserSession
from accounts.services import passwords
from accounts.tests.factories import UserFactory
from core.errors import InvalidInput

STRONG = "a perfectly long pass phrase 9"


def _link_params(user: User) -> dict[str, str]:
    return {
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    }


@pytest.mark.django_db
def test_password_reset_request__known_email__mail_leaves_on_commit_with_the_link(
    settings: Any, mailoutbox: Any, django_capture_on_commit_callbacks: Any
):
    settings.QM_PUBLIC_URL = "https://qm.example"
    user = UserFactory.create(email="ada@example.com")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        passwords.password_reset_request(email="ADA@example.com")
    sent_before_commit = len(mailoutbox)
    for callback in callbacks:
        callback()

    assert sent_before_commit == 0
    (mail,) = mailoutbox
    assert mail.to == ["ada@example.com"]
    assert mail.subject == "Reset your Quartermaster password"
    query = mail.body.split("https://qm.example/password-reset?", 1)[1].split()[0]
    params = dict(part.split("=", 1) for part in query.split("&"))
    assert passwords.password_reset_user(**params) == user


@pytest.mark.django_db
def test_password_reset_request__caller_rolls_back__no_mail(mailoutbox, django_capture_on_commit_callbacks):
    UserFactory.create(email="ada@example.com")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        passwords.password_reset_request(email="ada@example.com")
        transaction.set_rollback(True)

    assert callbacks == []
    assert mailoutbox == []


@pytest.mark.django_db
def test_password_reset_request__inactive_or_unknown__no_mail(mailoutbox, django_capture_on_commit_callbacks):
    UserFactory.create(email="gone@example.com", is_active=False)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        passwords.password_reset_request(email="gone@example.com")
        passwords.password_reset_request(email="nobody@example.com")

    assert callbacks == []
    assert mailoutbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p, other: {**p, "token": p["token"][:-1] + "x"}, id="token-edited"),
        pytest.param(lambda p, other: {**p, "uid": _link_params(other)["uid"]}, id="another-users-id"),
        pytest.param(lambda p, other: {**p, "uid": "%%%not-base64"}, id="id-not-base64"),
        pytest.param(lambda p, other: {**p, "uid": urlsafe_base64_encode(b"\xff\xfe")}, id="id-not-utf8"),
    ],
)
def test_password_reset_confirm__bad_link__invalid_reset_token_and_password_kept(tamper):
    user = UserFactory.create()
    other = UserFactory.create()
    params = tamper(_link_params(user), other)

    with pytest.raises(InvalidInput) as raised:
        passwords.password_reset_confirm(**params, new_password=STRONG)

    assert raised.value.code == "invalid_reset_token"
    assert not User.objects.get(pk=user.pk).check_password(STRONG)


@pytest.mark.django_db
def test_password_reset_confirm__deactivated_since__invalid_reset_token():
    user = UserFactory.create()
    params = _link_params(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(InvalidInput) as raised:
        passwords.password_reset_confirm(**params, new_password=STRONG)

    assert raised.value.code == "invalid_reset_token"


@pytest.mark.django_db
def test_password_reset_confirm__good_link__password_set_sessions_end_link_spent():
    user = UserFactory.create()
    session = UserSession.objects.create(
        user=user, expires_at=timezone.now() + timedelta(days=1), current_refresh_jti="j"
    )
    params = _link_params(user)

    passwords.password_reset_confirm(**params, new_password=STRONG)

    assert User.objects.get(pk=user.pk).check_password(STRONG)
    assert UserSession.objects.get(pk=session.pk).revoke_reason == "password_reset"
    with pytest.raises(InvalidInput):
        passwords.password_reset_user(**params)  # the token is bound to the old password
