"""Reads of users."""

from __future__ import annotations

import uuid

from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User, UserManager


def user_get(*, user_id: uuid.UUID | str) -> User | None:
    """The user with this id, active or not, or None."""
    return User.objects.filter(pk=user_id).first()


def user_get_active(*, user_id: uuid.UUID | str) -> User | None:
    """The user with this id if the account is active, else None."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def user_get_active_by_email(*, email: str) -> User | None:
    """The active user with this e-mail (normalised as at sign-up), or None."""
    return User.objects.filter(email=UserManager.normalize_email(email), is_active=True).first()


def platform_user_list(
    *, query: str = "", platform_role: str = "", locked_only: bool = False
) -> QuerySet[User]:
    """Platform staff's list of every user, by e-mail, each with `has_2fa` (a confirmed
    authenticator app) and `locked` (some address is locked out of the account now: the
    failed-login policy's first rule, accounts.services.lockout) and `recent_failures` (failed
    logins within the account-wide window): one query a page. `query` matches the e-mail or
    name."""
    now = timezone.now()
    locks = AccessAttempt.objects.filter(
        username=OuterRef("email"),
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
        attempt_time__gte=now - settings.AXES_COOLOFF_TIME,
    )
    failures = (
        AccessFailureLog.objects.filter(
            username=OuterRef("email"), attempt_time__gte=now - settings.QM_LOCKOUT_ACCOUNT_WINDOW
        )
        .order_by()
        .values("username")
        .annotate(n=Count("id"))
        .values("n")
    )
    users = User.objects.annotate(
        has_2fa=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        locked=Exists(locks),
        recent_failures=Coalesce(Subquery(failures[:1]), 0),
    ).order_by("email", "id")
    if query:
        users = users.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
    if platform_role:
        users = users.filter(platform_role=platform_role)
    if locked_only:
        users = users.filter(locked=True)
    return users
