"""Reads of sessions (one login on one device): the one authentication loads on every JWT
request, and a user's own."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User, UserSession
from core.rows import Columns, execute_first, prepared_cursor, relate

_SESSION = Columns(UserSession, "s")
_SESSION_USER = Columns(User, "u")
_SESSION_SQL = (
    f"SELECT {_SESSION.sql}, {_SESSION_USER.sql} FROM accounts_usersession s"  # noqa: S608  # model columns
    " JOIN accounts_user u ON u.id = s.user_id WHERE s.id = %s"
)


def session_for_authentication(*, session_id: object) -> UserSession | None:
    """The session a JWT names, with its user, in one prepared statement (every JWT request)."""
    try:
        session_uuid = uuid.UUID(str(session_id))
    except ValueError:
        return None  # not an id at all: no such session
    with prepared_cursor() as cursor:
        execute_first(cursor, _SESSION_SQL, [session_uuid])
        row = cursor.fetchone()
    if row is None:
        return None
    session = _SESSION.build(row)
    relate(session, "user", _SESSION_USER.build(row, _SESSION.width))
    return session


def session_list_live(*, user: User) -> QuerySet[UserSession]:
    """The user's sessions that still work: neither revoked nor expired."""
    return UserSession.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now())


def session_get_own(*, user: User, session_id: uuid.UUID | str) -> UserSession | None:
    """One of the user's own sessions, live or ended, or None: another user's session answers
    like an unknown one."""
    return UserSession.objects.filter(pk=session_id, user=user).first()
