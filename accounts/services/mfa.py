"""Two-factor authentication: TOTP devices and single-use backup codes (django-otp).

Each code is accepted at most once, even by concurrent requests: verification locks the
device row first, so the second request sees the first one's `last_t` (TOTP) or finds the
backup code already deleted. django-otp's throttling slows down wrong guesses per device.
Seeds never leave the server after enrolment: only the enrolment response carries the
otpauth URI (and its QR code), and no log line, audit entry or later response does. At rest a
seed exists only encrypted with the key ring (`accounts.models.TOTPSeed`, AES-256-GCM bound to
the device row; `rotate_encryption_key` re-encrypts it): every TOTP device is read through the
proxy `EncryptedTOTPDevice`, and django-otp's own `key` column holds a placeholder. A seed that
cannot be decrypted fails closed (the code is refused). Backup codes are shown once and stored
only as keyed hashes (`backup_code_digest`).
"""

from __future__ import annotations

import math
import secrets

import segno
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from accounts import selectors
from accounts.hooks import tenants_require_mfa
from accounts.models import (
    TOTP_KEY_PLACEHOLDER,
    TOTP_SEED_BYTES,
    EncryptedTOTPDevice,
    TOTPSeed,
    User,
    UserSession,
)
from audit.models import Severity
from audit.services import audit_record
from core.errors import Conflict, DomainError, RetryLater

BACKUP_CODE_COUNT = 10
BACKUP_CODE_SALT = "qm.auth.backup-code"
CHALLENGE_SALT = "qm.auth.mfa-challenge"
CHALLENGE_MAX_AGE = 300  # seconds between password and second factor


class InvalidCode(DomainError):
    status_code = 400
    code = "invalid_code"
    default_detail = "The code is wrong or was already used."


class MfaThrottled(RetryLater):
    code = "mfa_throttled"
    default_detail = "Too many wrong codes; wait before trying again."


class InvalidChallenge(DomainError):
    status_code = 401
    code = "invalid_challenge"
    default_detail = "The login challenge is invalid or expired; log in again."


def mfa_enabled(user: User) -> bool:
    return EncryptedTOTPDevice.objects.filter(user=user, confirmed=True).exists()


def confirmed_totp_device(user: User) -> EncryptedTOTPDevice | None:
    """The user's confirmed TOTP device, if 2FA is on."""
    return EncryptedTOTPDevice.objects.filter(user=user, confirmed=True).first()


def mfa_demanded_by_rules(user: User) -> bool:
    """Do the rules demand 2FA of this user: platform staff (in production), or a tenant of theirs?"""
    if settings.QM_STAFF_REQUIRE_2FA and user.is_platform_staff:
        return True
    return tenants_require_mfa(user)


# --- Challenges between password and code -------------------------------------------------------


def challenge_issue(*, user: User, purpose: str) -> str:
    """A short-lived, signed proof that the password was right; `purpose` is verify or enroll."""
    # The password hash's tail makes the challenge die with a password change.
    return signing.dumps({"u": str(user.pk), "p": purpose, "h": user.password[-12:]}, salt=CHALLENGE_SALT)


def challenge_user(token: str, *, purpose: str) -> User:
    """The active user a challenge was issued to, for `purpose`; else InvalidChallenge (forged,
    expired, another purpose, or the password changed since)."""
    try:
        data = signing.loads(token, salt=CHALLENGE_SALT, max_age=CHALLENGE_MAX_AGE)
    except signing.BadSignature as exc:
        raise InvalidChallenge() from exc
    user = selectors.user_get_active(user_id=data.get("u"))
    if user is None or data.get("p") != purpose or user.password[-12:] != data.get("h"):
        raise InvalidChallenge()
    return user


# --- Verification -------------------------------------------------------------------------------


def _check_throttle(device: EncryptedTOTPDevice) -> None:
    allowed, info = device.verify_is_allowed()
    if not allowed:
        wait = (info or {}).get("locked_until")
        retry = max(1, math.ceil((wait - timezone.now()).total_seconds())) if wait else 30
        seconds = "1 second" if retry == 1 else f"{retry} seconds"
        raise MfaThrottled(retry_after=retry, detail=f"Too many wrong codes; try again in {seconds}.")


def mfa_verify(*, user: User, code: str) -> str:
    """Accept a TOTP code or a backup code once; return which ("totp" or "backup")."""
    code = (code or "").strip().replace(" ", "").replace("-", "")
    with transaction.atomic():
        device = EncryptedTOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            raise Conflict("Two-factor authentication is not enabled.", code="mfa_not_enabled")
        _check_throttle(device)
        looks_like_totp = code.isdigit() and len(code) == device.digits
        if looks_like_totp and device.verify_token(code):
            kind = "totp"
        else:
            static = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            if static is not None and _use_backup_code(static, code.lower()):
                kind = "backup"
                device.throttle_reset()
            else:
                # A wrong TOTP code was counted by verify_token itself: one wrong code is one
                # failure (counted twice, one typo locked the next, right, code out).
                if not looks_like_totp:
                    device.throttle_increment()
                kind = ""
    if not kind:
        with transaction.atomic():
            audit_record(action="auth.mfa_failed", target=user, severity=Severity.WARNING, actor=user)
        raise InvalidCode()
    return kind


# --- Enrolment ------------------------------------------------------------------------------------


@transaction.atomic
def totp_enroll(*, user: User) -> dict[str, str]:
    """Start enrolment: a new unconfirmed device; returns its otpauth URI and an SVG QR code."""
    if mfa_enabled(user):
        raise Conflict(
            "Two-factor authentication is already enabled; disable it first.", code="mfa_already_enabled"
        )
    EncryptedTOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = EncryptedTOTPDevice.objects.create(
        user=user, name="authenticator", confirmed=False, key=TOTP_KEY_PLACEHOLDER
    )
    # The seed is encrypted once the device row exists: its id is part of the associated data.
    sealed = TOTPSeed(device=device)
    sealed.seal(secrets.token_bytes(TOTP_SEED_BYTES))
    sealed.save(force_insert=True)
    uri = device.config_url
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    audit_record(action="auth.mfa_enrollment_started", target=user, actor=user)
    return {"otpauth_uri": uri, "qr_svg": svg}


@transaction.atomic
def totp_confirm(*, user: User, code: str, session: UserSession | None = None) -> list[str]:
    """Confirm enrolment with a first code; return fresh backup codes (shown this once). The
    `session` it is confirmed from, if any, now counts as verified by the second factor."""
    device = EncryptedTOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        raise Conflict("Start enrolment first.", code="mfa_not_enrolling")
    code = (code or "").strip()
    if not (code.isdigit() and device.verify_token(code)):
        raise InvalidCode()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_backup_codes(user)
    if session is not None:
        UserSession.objects.filter(pk=session.pk).update(mfa_verified=True)
    audit_record(action="auth.mfa_enabled", target=user, severity=Severity.WARNING, actor=user)
    return codes


def backup_code_digest(code: str, *, secret: str | None = None) -> str:
    """What is stored for a backup code: HMAC-SHA256 under the SECRET_KEY, cut to the 16
    characters django-otp's token column holds. A copy of the database alone reveals no code."""
    return salted_hmac(BACKUP_CODE_SALT, code, secret=secret, algorithm="sha256").hexdigest()[:16]


def _use_backup_code(static: StaticDevice, code: str) -> bool:
    """Delete the matching code (the device row is locked by the caller); whether there was one.
    Each key in use is tried, so rotating SECRET_KEY (old one in SECRET_KEY_FALLBACKS) keeps codes."""
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    match = static.token_set.filter(token__in=[backup_code_digest(code, secret=k) for k in keys]).first()
    if match is None:
        return False
    match.delete()
    return True


def _new_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
    codes = [secrets.token_hex(5) for _ in range(BACKUP_CODE_COUNT)]  # 40 bits each, single use
    StaticToken.objects.bulk_create([StaticToken(device=static, token=backup_code_digest(c)) for c in codes])
    return codes


def totp_disable(*, user: User, code: str) -> None:
    """Turn 2FA off with a current code; refused while a tenant or the platform requires it."""
    mfa_verify(user=user, code=code)
    with transaction.atomic():
        if mfa_demanded_by_rules(user):
            raise Conflict("A tenant you belong to requires two-factor authentication.", code="mfa_required")
        EncryptedTOTPDevice.objects.filter(user=user).delete()  # their seeds with them
        StaticDevice.objects.filter(user=user).delete()
        audit_record(action="auth.mfa_disabled", target=user, severity=Severity.WARNING, actor=user)
