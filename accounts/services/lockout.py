"""The failed-login policy: who may try a password now (docs/security.md, "Failed logins").

Two rules, so that nobody can lock an account's owner out by failing on purpose:

1. Per account and client address (django-axes, `AXES_LOCKOUT_PARAMETERS`): after
   `QM_LOCKOUT_THRESHOLD` failures from one address, that address may not try that account
   for `QM_LOCKOUT_MINUTES`. Other addresses are not affected, so the owner still logs in.
2. Per account, across every address (a botnet spreading its guesses): once the account has
   failed `QM_LOCKOUT_ACCOUNT_THRESHOLD` times within `QM_LOCKOUT_ACCOUNT_WINDOW`, a password is
   checked at most once per backoff period, which doubles with each further failure up to the
   cool-off (1 s, 2 s, 4 s, ... 15 min). Between those checks, attempts are refused unchecked,
   so the answer tells nothing about the password. The backoff does not apply to a known
   device (one that has logged in to this account and presents its device token) nor to an
   account with a second factor, whose password alone opens nothing.

Failures are those django-axes records (its failure log), counted by e-mail whether or not
such an account exists, so the answers do not reveal which addresses have accounts.
"""

from __future__ import annotations

import math
import secrets
from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.core import signing
from django.db.models import Count, Max
from django.utils import timezone

from accounts.models import User

DEVICE_SALT = "qm.auth.device"
MAX_BACKOFF_EXPONENT = 30  # 2**30 s is far past any cool-off: the cap below applies first


def device_token_issue(*, user: User) -> str:
    """A signed token that marks the device a login succeeded from as known to `user`."""
    return signing.dumps({"u": str(user.pk), "d": secrets.token_hex(8)}, salt=DEVICE_SALT)


def device_known(*, user: User | None, token: str | None) -> bool:
    """Whether `token` is a device token `user` was given within QM_KNOWN_DEVICE_DAYS."""
    if user is None or not token:
        return False
    try:
        payload = signing.loads(
            token, salt=DEVICE_SALT, max_age=timedelta(days=settings.QM_KNOWN_DEVICE_DAYS)
        )
    except signing.BadSignature:  # expired tokens are BadSignature too (SignatureExpired)
        return False
    return isinstance(payload, dict) and payload.get("u") == str(user.pk)


def address_retry_after(*, email: str, ip_address: str | None) -> int:
    """Seconds until this address may try this account again (rule 1), at least 1."""
    attempt = (
        AccessAttempt.objects.filter(username=email, ip_address=ip_address).order_by("-attempt_time").first()
    )
    cooloff = settings.AXES_COOLOFF_TIME
    if attempt is None:
        return int(cooloff.total_seconds())
    remaining = attempt.attempt_time + cooloff - timezone.now()
    return max(1, int(remaining.total_seconds()))


def account_backoff(*, email: str) -> int:
    """Seconds until the account's next password check is allowed (rule 2); 0: allowed now."""
    threshold = settings.QM_LOCKOUT_ACCOUNT_THRESHOLD
    now = timezone.now()
    recent = AccessFailureLog.objects.filter(
        username=email, attempt_time__gte=now - settings.QM_LOCKOUT_ACCOUNT_WINDOW
    ).aggregate(failures=Count("id"), last=Max("attempt_time"))
    failures, last = recent["failures"], recent["last"]
    if failures < threshold or last is None:
        return 0
    cap = settings.AXES_COOLOFF_TIME.total_seconds()
    delay = min(cap, 2.0 ** min(failures - threshold, MAX_BACKOFF_EXPONENT))
    remaining = (last + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(remaining))


def failures_forget(*, email: str) -> int:
    """Clear every failure of the account (rules 1 and 2): staff unlock, password reset."""
    from axes.utils import reset

    count = reset(username=email)
    AccessFailureLog.objects.filter(username=email).delete()
    return count
