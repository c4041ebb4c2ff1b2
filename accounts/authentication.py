"""`Authorization: Bearer <JWT>`: a signed access token whose session is still alive.

simplejwt checks the signature (HS256 only: `alg: none` and other algorithms are refused), the
expiry and the token type (a refresh token is not an access token). On top of that every token
names its session (`sid`), loaded with its user in one query, so revoking a session, changing a
password or deactivating a user takes effect on the very next request. The session stays on the
request for the views that act on it (`request_session`).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from accounts import hooks
from accounts.models import User, UserSession
from accounts.selectors import session_for_authentication
from core.access import Standing, remember_standing, tenant_route
from core.gates import once_per

# Where the authenticated session is kept on the Django request (under DRF's, so that it is the
# same object however the request is reached). Written and read only in this module.
_SESSION_ATTRIBUTE = "qm_session"


class SessionJWTAuthentication(JWTAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        token = self.get_validated_token(raw_token)
        session_id = token.get("sid")
        if not session_id:
            raise InvalidToken({"detail": "Token has no session.", "code": "token_not_valid"})
        tenant_id = tenant_route(request)
        standing: Standing | None = None
        if tenant_id is None:
            session = session_for_authentication(session_id=session_id)
        else:
            # A tenant route: the session and its user's membership in that tenant in one
            # statement, the request's first (core.access.Standing); the gate decides on it.
            found = hooks.session_with_standing(session_id=session_id, tenant_id=tenant_id)
            session, standing = found if found is not None else (None, None)
        if session is None or session.revoked_at is not None or session.expires_at <= timezone.now():
            raise AuthenticationFailed("This session has ended. Log in again.", code="session_revoked")
        user = session.user
        if str(user.pk) != str(token.get("user_id")) or not user.is_active:
            raise AuthenticationFailed("This account is not active.", code="user_inactive")
        setattr(request._request, _SESSION_ATTRIBUTE, session)
        _mark_seen(user)
        remember_standing(request, standing)
        return user, token


def request_session(request: Request | HttpRequest) -> UserSession | None:
    """The session whose access token authenticated `request`; None for an API key, or before
    authentication."""
    django_request = request._request if isinstance(request, Request) else request
    session: UserSession | None = getattr(django_request, _SESSION_ATTRIBUTE, None)
    return session


def _mark_seen(user: User) -> None:
    """Record activity at most once a minute per user: no write per request on a hot path."""
    if once_per(f"qm:user-seen:{user.pk}", 60):
        User.objects.filter(pk=user.pk).update(last_seen_at=timezone.now())
