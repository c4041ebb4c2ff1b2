"""Logging in and staying logged in: the login steps, sessions, rotating refresh tokens, lockout.

A session is one login on one device. Its refresh tokens rotate on every use; the session row
keeps the jti of the one valid refresh token, so rotation is a compare-and-set under a row
lock: of two concurrent refreshes of one token exactly one wins. A refresh token presented
again after it was rotated means someone kept a copy: the whole session (the token family) is
revoked, unless it arrives within a few seconds of the rotation (a client retrying a request
whose answer it lost), which is refused without a new token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User, UserManager, UserSession
from accounts.services import lockout
from accounts.services.mfa import (
    challenge_issue,
    challenge_user,
    mfa_demanded_by_rules,
    mfa_enabled,
    mfa_verify,
    totp_confirm,
    totp_enroll,
)
from audit.models import Severity
from audit.services import audit_record
from core import stream
from core.context import client_ip
from core.errors import Conflict, DomainError, RetryLater

# A rotated token seen again within this many seconds is a client retry, not theft.
REFRESH_RETRY_GRACE = timedelta(seconds=10)


class AuthenticationError(DomainError):
    status_code = 401
    code = "authentication_failed"
    default_detail = "The e-mail or password is wrong."


class AccountLocked(RetryLater):
    code = "account_locked"
    default_detail = "Too many failed logins: this account is locked for a while."


class AccountLockedByOperator(DomainError):
    """The account is locked by platform staff (account_lock) until they unlock it."""

    status_code = 403
    code = "account_locked_by_operator"
    default_detail = "This account is locked by the platform's operators. Contact support."


@dataclass(frozen=True)
class IssuedTokens:
    access: str
    refresh: str
    session: UserSession
    device_token: str = ""  # issued at login; a refresh keeps the one the device has

    def as_dict(self) -> dict[str, Any]:
        body = {
            "access": self.access,
            "refresh": self.refresh,
            "token_type": "Bearer",
            "expires_in": int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
            "session_id": str(self.session.pk),
        }
        if self.device_token:
            body["device_token"] = self.device_token
        return body


def _mint(session: UserSession) -> tuple[str, str, str]:
    """A new refresh token (and its access token) for `session`; returns (access, refresh, jti)."""
    refresh = RefreshToken()
    refresh["user_id"] = str(session.user_id)
    refresh["sid"] = str(session.pk)
    return str(refresh.access_token), str(refresh), str(refresh["jti"])


@transaction.atomic
def session_start(
    *, user: User, request: HttpRequest | None, device_name: str = "", mfa_verified: bool
) -> IssuedTokens:
    """Open a session for a user who has proven who they are; return its first tokens."""
    session = UserSession(
        user=user,
        device_name=device_name[:200],
        ip_address=client_ip(request) if request is not None else None,
        user_agent=(request.headers.get("User-Agent", "") if request is not None else "")[:500],
        mfa_verified=mfa_verified,
        expires_at=timezone.now() + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"],
        current_refresh_jti="",
    )
    session.id = uuid.uuid4()
    access, refresh, jti = _mint(session)
    session.current_refresh_jti = jti
    session.save()
    if request is not None:
        # Django's signal: sets last_login, and tells django-axes to clear the failure count.
        user_logged_in.send(sender=User, request=request, user=user)
    else:
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    audit_record(
        action="auth.login_succeeded",
        target=user,
        details={"session_id": session.pk, "device_name": session.device_name, "mfa": mfa_verified},
        actor=user,
    )
    return IssuedTokens(
        access=access, refresh=refresh, session=session, device_token=lockout.device_token_issue(user=user)
    )


def session_refresh(*, raw_refresh: str) -> IssuedTokens:
    """Rotate a refresh token: exactly one new token per old one; reuse revokes the family."""
    try:
        token = RefreshToken(raw_refresh)  # type: ignore[arg-type]  # simplejwt's stub omits str; it verifies signature, expiry, type
    except TokenError as exc:
        raise AuthenticationError("The refresh token is invalid or expired.", code="token_not_valid") from exc
    session_id, jti = token.get("sid"), token.get("jti")
    with transaction.atomic():
        session = UserSession.objects.select_for_update().select_related("user").filter(pk=session_id).first()
        if session is None or session.revoked_at is not None or session.expires_at <= timezone.now():
            raise AuthenticationError("This session has ended. Log in again.", code="session_revoked")
        if not session.user.is_active:
            raise AuthenticationError("This account is not active.", code="user_inactive")
        if jti != session.current_refresh_jti:
            now = timezone.now()
            if (
                jti == session.previous_refresh_jti
                and session.rotated_at
                and now - session.rotated_at < REFRESH_RETRY_GRACE
            ):
                raise AuthenticationError(
                    "This refresh token was just used; use the new one.", code="token_already_rotated"
                )
            _revoke(session, reason="refresh_token_reuse", actor=None, severity=Severity.CRITICAL)
            reused = True
        else:
            reused = False
            access, refresh, new_jti = _mint(session)
            session.previous_refresh_jti = session.current_refresh_jti
            session.current_refresh_jti = new_jti
            session.rotated_at = session.last_used_at = timezone.now()
            session.save(
                update_fields=["previous_refresh_jti", "current_refresh_jti", "rotated_at", "last_used_at"]
            )
    if reused:
        # Raised after the commit: the revocation must stand although the request fails.
        raise AuthenticationError(
            "This refresh token was already used. The session has been ended for safety.", code="token_reused"
        )
    return IssuedTokens(access=access, refresh=refresh, session=session)


def _revoke(session: UserSession, *, reason: str, actor: User | None, severity: str = Severity.INFO) -> None:
    session.revoked_at = timezone.now()
    session.revoke_reason = reason
    session.save(update_fields=["revoked_at", "revoke_reason"])
    stream.refresh_user(session.user_id)  # live streams opened with it close, on commit
    audit_record(
        action="auth.session_revoked",
        target=session.user,
        severity=severity,
        details={"session_id": session.pk, "reason": reason},
        actor=actor,
        system=actor is None,
    )


@transaction.atomic
def session_revoke(*, session: UserSession, actor: User, reason: str = "logout") -> None:
    """End one session now: its access and refresh tokens stop on the next request."""
    session = UserSession.objects.select_for_update().select_related("user").get(pk=session.pk)
    if session.revoked_at is None:
        _revoke(session, reason=reason, actor=actor)


def sessions_revoke_all(
    *, user: User, reason: str, actor: User | None, keep: UserSession | None = None
) -> int:
    """End every live session of `user` (but `keep`); returns how many ended."""
    qs = UserSession.objects.filter(user=user, revoked_at__isnull=True)
    if keep is not None:
        qs = qs.exclude(pk=keep.pk)
    count = qs.update(revoked_at=timezone.now(), revoke_reason=reason)
    if count:
        stream.refresh_user(user.pk)  # live streams opened with them close, on commit
        audit_record(
            action="auth.sessions_revoked",
            target=user,
            details={"count": count, "reason": reason},
            actor=actor,
        )
    return count


# --- Login ------------------------------------------------------------------------------------


class LoginBackoff(RetryLater):
    code = "login_backoff"
    default_detail = (
        "This account has seen many failed logins from many places: from a new device, try again "
        "later. A device that logged in before, or a second factor, is not held back."
    )


def password_check(
    *, request: HttpRequest, email: str, password: str, device_token: str = "", known_device: bool = False
) -> User:
    """Check e-mail and password under the failed-login policy (accounts.services.lockout).

    Returns the user, or raises AccountLocked (this address is locked out of the account),
    LoginBackoff (the account is backing off and the device is unknown), or
    AuthenticationError. Attempts on one account are serialised by a lock on its row, so
    concurrent wrong passwords can never be checked more often than the policy allows. Wrong
    e-mail and wrong password answer alike (Django's backend hashes a dummy password for
    unknown e-mails). This function commits even when it refuses: failures must count.
    `known_device` says the caller proved the account some other way (a live session).
    """
    email = UserManager.normalize_email(email)
    refusal: Exception = AuthenticationError()
    with transaction.atomic():
        account = User.objects.select_for_update().filter(email=email).first()
        if not AxesProxyHandler.is_allowed(request, {"email": email}):
            audit_record(
                action="auth.login_blocked", severity=Severity.WARNING, details={"email": email}, system=True
            )
            refusal = AccountLocked(
                retry_after=lockout.address_retry_after(email=email, ip_address=client_ip(request))
            )
        elif (wait := lockout.account_backoff(email=email)) and not (
            known_device
            or lockout.device_known(user=account, token=device_token)
            or (account is not None and mfa_enabled(account))
        ):
            audit_record(
                action="auth.login_backoff",
                severity=Severity.WARNING,
                details={"email": email, "retry_after": wait},
                system=True,
            )
            refusal = LoginBackoff(retry_after=wait)
        else:
            user = authenticate(request, email=email, password=password)
            locked = bool(getattr(request, "axes_locked_out", False))
            if user is not None and not locked and user.locked_at is not None:
                # Only a right password learns of the operator's lock.
                audit_record(
                    action="auth.login_blocked",
                    severity=Severity.WARNING,
                    target=user,
                    details={"email": email, "operator_lock": True},
                    system=True,
                )
                refusal = AccountLockedByOperator()
            elif user is not None and not locked:
                return user
            else:
                audit_record(
                    action="auth.login_failed",
                    severity=Severity.WARNING,
                    details={"email": email},
                    system=True,
                )
            if locked:
                audit_record(
                    action="auth.account_locked",
                    severity=Severity.CRITICAL,
                    details={
                        "email": email,
                        "failures": settings.AXES_FAILURE_LIMIT,
                        "ip_address": client_ip(request),
                    },
                    system=True,
                )
                refusal = AccountLocked(
                    retry_after=lockout.address_retry_after(email=email, ip_address=client_ip(request))
                )
    raise refusal


def axes_lockout_response(request: HttpRequest, original_response: Any, credentials: Any) -> Any:
    """What django-axes' middleware answers for a locked-out login (AXES_LOCKOUT_CALLABLE)."""
    if request.path.startswith("/api/") and original_response is not None:
        return original_response  # already our JSON 429 account_locked, with Retry-After
    return HttpResponse("Too many failed logins: this account is locked for a while.", status=429)


def account_lock(*, user: User, actor: User | None, reason: str) -> User:
    """Platform staff lock an account until they unlock it (account_unlock): the login refuses
    it (403 account_locked_by_operator) and every live session of it ends now."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.locked_at is not None:
            raise Conflict("This account is already locked.", code="already_locked")
        user.locked_at = timezone.now()
        user.locked_reason = reason.strip()[:500]
        user.save(update_fields=["locked_at", "locked_reason", "updated_at"])
        ended = UserSession.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=user.locked_at, revoke_reason="account_locked"
        )
        audit_record(
            action="auth.account_locked_by_operator",
            target=user,
            severity=Severity.CRITICAL,
            details={"reason": user.locked_reason, "sessions_ended": ended},
            actor=actor,
        )
        # Their live streams opened with a session close on commit, in every tenant.
        stream.refresh_user(user.pk)
    return user


def account_unlock(*, user: User, actor: User, reason: str = "") -> int:
    """Platform staff lift a lockout now (else it ends after the cool-off): every address's
    lock, the account's backoff and an operator's lock (account_lock). `reason`, when given, is
    kept in the audit entry."""
    with transaction.atomic():
        count = lockout.failures_forget(email=user.email)
        details: dict[str, Any] = {"attempts_cleared": count}
        lifted = User.objects.filter(pk=user.pk, locked_at__isnull=False).update(
            locked_at=None, locked_reason="", updated_at=timezone.now()
        )
        if lifted:
            user.locked_at, user.locked_reason = None, ""
            details["operator_lock_lifted"] = True
        if reason.strip():
            details["reason"] = reason.strip()
        audit_record(
            action="auth.account_unlocked",
            target=user,
            severity=Severity.WARNING,
            details=details,
            actor=actor,
        )
    return count


# --- The login steps ---------------------------------------------------------------------------
# Each step is one service; the views only parse and render. The login and its second step
# commit even when they refuse (a wrong password or code must count), so they are not one
# transaction: their checks commit on their own, then the session opens in its own.


@dataclass(frozen=True)
class LoginOutcome:
    """What a right password leads to: tokens, or a challenge for the second factor."""

    tokens: IssuedTokens | None = None
    challenge_token: str = ""
    challenge_purpose: str = ""  # "verify": send a code; "enroll": set a second factor up first

    def as_dict(self) -> dict[str, Any]:
        if self.tokens is not None:
            return self.tokens.as_dict()
        flag = "mfa_required" if self.challenge_purpose == "verify" else "mfa_enrollment_required"
        return {flag: True, "challenge_token": self.challenge_token}


def login(
    *, request: HttpRequest, email: str, password: str, device_token: str = "", device_name: str = ""
) -> LoginOutcome:
    """Log in with e-mail and password (password_check's policy): a session and its tokens, or,
    when the user has a second factor, a challenge to verify it, or, when a rule demands one
    that is not set up, a challenge to enrol it. Either challenge proves the password for
    CHALLENGE_MAX_AGE seconds."""
    user = password_check(request=request, email=email, password=password, device_token=device_token)
    if mfa_enabled(user):
        return LoginOutcome(
            challenge_token=challenge_issue(user=user, purpose="verify"), challenge_purpose="verify"
        )
    if mfa_demanded_by_rules(user):
        return LoginOutcome(
            challenge_token=challenge_issue(user=user, purpose="enroll"), challenge_purpose="enroll"
        )
    return LoginOutcome(
        tokens=session_start(user=user, request=request, device_name=device_name, mfa_verified=False)
    )


def login_mfa_verify(
    *, request: HttpRequest, challenge_token: str, code: str, device_name: str = ""
) -> tuple[IssuedTokens, str]:
    """The second step: a TOTP or backup code (each accepted once) for a `verify` challenge;
    returns the new session's tokens and which kind of code it was ("totp" or "backup")."""
    user = challenge_user(challenge_token, purpose="verify")
    kind = mfa_verify(user=user, code=code)
    return session_start(user=user, request=request, device_name=device_name, mfa_verified=True), kind


def login_mfa_enroll(*, challenge_token: str) -> dict[str, str]:
    """For an `enroll` challenge: start TOTP enrolment (its otpauth URI and QR code)."""
    return totp_enroll(user=challenge_user(challenge_token, purpose="enroll"))


def login_mfa_enroll_confirm(
    *, request: HttpRequest, challenge_token: str, code: str, device_name: str = ""
) -> tuple[IssuedTokens, list[str]]:
    """For an `enroll` challenge: confirm the new device with a first code; returns the new
    session's tokens and the backup codes (shown once)."""
    user = challenge_user(challenge_token, purpose="enroll")
    codes = totp_confirm(user=user, code=code)
    return session_start(user=user, request=request, device_name=device_name, mfa_verified=True), codes
