"""accounts.selectors.platform_user_list: every user with two-factor and lockout state, for
platform staff's user list; one query whatever the number of users."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.utils import timezone

from accounts import selectors
from accounts.models import EncryptedTOTPDevice, PlatformRole
from accounts.services import mfa
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _fail(email: str, times: int, *, ip: str = "10.0.0.1") -> None:
    now = timezone.now()
    AccessAttempt.objects.create(
        username=email, ip_address=ip, user_agent="", failures_since_start=times, attempt_time=now
    )
    for _ in range(times):
        AccessFailureLog.objects.create(username=email, ip_address=ip, user_agent="", attempt_time=now)


def _row(email: str, **filters: Any) -> Any:
    return next(row for row in selectors.platform_user_list(**filters) if row.email == email)


def test_platform_user_list__states__two_factor_locked_and_failures(django_assert_num_queries: Any) -> None:
    locked, tried, plain = UserFactory.create_batch(3)
    _fail(locked.email, 5)
    _fail(tried.email, 2)
    mfa.totp_enroll(user=plain)
    EncryptedTOTPDevice.objects.filter(user=plain).update(confirmed=True)
    listed: Any = selectors.platform_user_list()  # annotated rows
    with django_assert_num_queries(1):
        rows = {row.email: (row.has_2fa, row.locked, row.recent_failures) for row in listed}
    assert rows == {
        locked.email: (False, True, 5),
        tried.email: (False, False, 2),
        plain.email: (True, False, 0),
    }


def test_platform_user_list__filters__query_role_and_locked_only() -> None:
    ada = UserFactory.create(email="ada@example.com", full_name="Ada Lovelace")
    staff = UserFactory.create(platform_operator=True)
    _fail(ada.email, 6)
    assert [row.email for row in selectors.platform_user_list(query="LOVELACE")] == [ada.email]
    assert [row.email for row in selectors.platform_user_list(locked_only=True)] == [ada.email]
    roles = selectors.platform_user_list(platform_role=PlatformRole.PLATFORM_OPERATOR)
    assert [row.email for row in roles] == [staff.email]


def test_platform_user_list__lock_older_than_the_cool_off__not_locked() -> None:
    user = UserFactory.create()
    _fail(user.email, 5)
    AccessAttempt.objects.filter(username=user.email).update(attempt_time=timezone.now() - timedelta(hours=2))
    assert _row(user.email).locked is False
