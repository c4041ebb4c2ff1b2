"""Housekeeping of sessions (accounts.clean_sessions, daily): the sessions that ended (expired or
revoked) more than the retention ago are removed, once; one audit entry per run that removed any."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import UserSession
from accounts.services.auth import session_start
from accounts.services.housekeeping import sessions_clean
from accounts.tasks import clean_sessions
from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db


def _session(user: Any, **ended: Any) -> Any:
    session = session_start(user=user, request=None, mfa_verified=True).session
    if ended:
        UserSession.objects.filter(pk=session.pk).update(**ended)
    return session.pk


def _cleaned() -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action="sessions.cleaned", tenant=None))


def test_clean_sessions__ended_long_ago_removed_recent_and_live_kept__one_entry_with_counts(settings):
    settings.QM_SESSION_RETENTION_DAYS = 30
    user = UserFactory.create()
    now = timezone.now()
    long_ago = now - timedelta(days=31)
    expired_old = _session(user, expires_at=long_ago)
    revoked_old = _session(user, revoked_at=long_ago, revoke_reason="logout")
    # Revoked long ago although its expiry is still ahead: it ended when it was revoked.
    revoked_old_unexpired = _session(user, revoked_at=long_ago, expires_at=now + timedelta(days=3))
    expired_recently = _session(user, expires_at=now - timedelta(days=29))
    revoked_recently = _session(user, revoked_at=now - timedelta(days=1))
    live = _session(user)

    assert clean_sessions() == {"expired": 1, "revoked": 2}

    left = set(UserSession.objects.filter(user=user).values_list("pk", flat=True))
    assert left == {expired_recently, revoked_recently, live}
    assert not left & {expired_old, revoked_old, revoked_old_unexpired}
    [entry] = _cleaned()
    assert (entry.actor_type, entry.actor_role) == ("system", "system")
    assert entry.details["expired"] == 1
    assert entry.details["revoked"] == 2


def test_clean_sessions__second_run__changes_nothing_and_writes_no_entry():
    user = UserFactory.create()
    _session(user, expires_at=timezone.now() - timedelta(days=60))
    assert sessions_clean().total == 1
    before = UserSession.objects.count()

    again = sessions_clean()

    assert (again.expired, again.revoked) == (0, 0)
    assert UserSession.objects.count() == before
    assert len(_cleaned()) == 1


def test_clean_sessions__nothing_ended__no_entry():
    _session(UserFactory.create())

    assert sessions_clean().total == 0
    assert _cleaned() == []
