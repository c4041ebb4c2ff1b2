"""The console's sign-in state: a Django session tied to one accounts session.

Signing in goes through accounts' login services, so the console has the API's rules: the
failed-login lockout and backoff, the second factor and forced enrolment
(`accounts.services.auth`). The session those services open (`accounts.models.UserSession`,
one login on one device) is what the console's Django session points at, and every console
request checks it (`console_session`): ending that session on the sessions page, changing the
password or deactivating the account ends the console session on the next request, exactly as
it stops an API token. The JWTs the services also mint are not used by the console.

The device token a successful login returns is kept in an HttpOnly cookie (`qm_device`) and
sent back with the next login: a known device passes the backoff that holds back unknown ones
(docs/security.md, "Failed logins").
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login

from accounts import services
from accounts.models import User, UserSession
from accounts.selectors import session_for_authentication
from accounts.services.auth import IssuedTokens
from accounts.services.mfa import confirmed_totp_device

CONSOLE_SESSION_KEY = "qm_console_session"  # the UserSession this Django session stands for
CHALLENGE_SESSION_KEY = "qm_console_challenge"  # between password and second factor
NEXT_SESSION_KEY = "qm_console_next"  # where to go once signed in
DEVICE_COOKIE = "qm_device"
DEVICE_NAME = "Web console"
_BACKEND = "django.contrib.auth.backends.ModelBackend"


def device_token(request: HttpRequest) -> str:
    """The device token this browser was given at its last successful login, if any."""
    return request.COOKIES.get(DEVICE_COOKIE, "")[:500]


def remember_device(response: HttpResponse, token: str) -> None:
    """Keep the device token in an HttpOnly cookie for QM_KNOWN_DEVICE_DAYS."""
    if not token:
        return
    response.set_cookie(
        DEVICE_COOKIE,
        token,
        max_age=settings.QM_KNOWN_DEVICE_DAYS * 86400,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )


def sign_in(request: HttpRequest, tokens: IssuedTokens, *, second_factor: bool) -> None:
    """Start the console session for the accounts session the login services opened."""
    user = tokens.session.user
    # Django's login cycles the session key (no fixation) and keeps what was in it.
    django_login(request, user, backend=_BACKEND)
    request.session[CONSOLE_SESSION_KEY] = str(tokens.session.pk)
    request.session.pop(CHALLENGE_SESSION_KEY, None)
    if second_factor:
        # django-otp's mark: the admin's staff check (QM_STAFF_REQUIRE_2FA) sees this session
        # as verified, as it would after /admin/verify/.
        device = confirmed_totp_device(user)
        if device is not None:
            otp_login(request, device)


def console_session(request: HttpRequest) -> UserSession | None:
    """The live accounts session behind this console session, with its user: one query.

    None when there is none, or it was revoked or has expired, the account is inactive, or the
    password changed since (Django's session hash).
    """
    session_id = request.session.get(CONSOLE_SESSION_KEY)
    if not session_id:
        return None
    session = session_for_authentication(session_id=session_id)
    if session is None or not session.is_active:
        return None
    user: User = session.user
    if not user.is_active or str(user.pk) != str(request.session.get(SESSION_KEY, "")):
        return None
    if not constant_time_compare(request.session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return None
    return session


def sign_out(request: HttpRequest, session: UserSession | None) -> None:
    """End the accounts session (its API tokens too) and the Django session."""
    if session is not None:
        services.session_revoke(session=session, actor=session.user, reason="logout")
    django_logout(request)


def safe_next(request: HttpRequest, target: str | None) -> str:
    """`target` if it is a path on this site, else the console's home."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"
