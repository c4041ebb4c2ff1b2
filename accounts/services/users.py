"""Writes on users. Every function is one transaction."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from accounts.models import PlatformRole, User, UserManager


@transaction.atomic
def user_bootstrap_platform_admin(*, email: str, password: str) -> tuple[User, bool]:
    """Create or update the platform admin with this e-mail; return it and whether it is new."""
    email = UserManager.normalize_email(email)
    user = User.objects.select_for_update().filter(email=email).first()
    created = user is None
    if user is None:
        user = User(email=email)
    validate_password(password, user)
    user.set_password(password)
    user.is_active = True
    user.is_staff = True
    user.is_superuser = True
    user.platform_role = PlatformRole.PLATFORM_ADMIN
    user.full_clean(exclude=["password"])
    user.save()
    return user, created
