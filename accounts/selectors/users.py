"""Reads of users."""

from __future__ import annotations

import uuid

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
