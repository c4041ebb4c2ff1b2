"""Accounts' selectors directly: sessions are a user's own, live means neither revoked nor
expired; users by e-mail as typed at sign-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import selectors
from accounts.models import UserSession
from accounts.tests.factories import UserFactory


def _session(user, *, expires_in=timedelta(days=1), revoked=False) -> UserSession:
    return UserSession.objects.create(
        user=user,
        expires_at=timezone.now() + expires_in,
        current_refresh_jti="j",
        revoked_at=timezone.now() if revoked else None,
    )


@pytest.mark.django_db
def test_session_list_live__revoked_expired_and_others__left_out():
    user, other = UserFactory.create(), UserFactory.create()
    live = _session(user)
    _session(user, revoked=True)
    _session(user, expires_in=timedelta(seconds=-1))
    _session(other)

    assert list(selectors.session_list_live(user=user)) == [live]


@pytest.mark.django_db
def test_session_get_own__another_users_session__none():
    user, other = UserFactory.create(), UserFactory.create()
    mine, theirs = _session(user, revoked=True), _session(other)

    assert selectors.session_get_own(user=user, session_id=mine.pk) == mine  # ended ones too
    assert selectors.session_get_own(user=user, session_id=theirs.pk) is None


@pytest.mark.django_db
def test_user_get_active_by_email__any_case_of_the_domain__found_unless_inactive():
    ada = UserFactory.create(email="ada@example.com")
    UserFactory.create(email="gone@example.com", is_active=False)

    assert selectors.user_get_active_by_email(email="ada@EXAMPLE.com") == ada
    assert selectors.user_get_active_by_email(email="gone@example.com") is None
    assert selectors.user_get_active_by_email(email="nobody@example.com") is None
