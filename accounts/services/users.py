"""Writes on users. Every function is one transaction."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import PlatformRole, User, UserManager
from accounts.services.auth import sessions_revoke_all
from audit.services import audit_record, changes
from core import clock, stream
from core.errors import InvalidInput


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


@transaction.atomic
def user_create(*, email: str, password: str, full_name: str = "") -> User:
    """A new user who signed up (tenants.services.signup adds their tenant and membership)."""
    email = UserManager.normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise InvalidInput(
            "Some fields are invalid.",
            code="validation_error",
            errors={"email": ["An account with this e-mail already exists. Log in or reset your password."]},
        )
    user = User(email=email, full_name=full_name, date_joined=clock.now())
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors={"password": exc.messages}
        ) from exc
    user.set_password(password)
    user.save()
    return user


ADMIN_EDITABLE_FIELDS = [
    "email",
    "full_name",
    "username",
    "platform_role",
    "is_active",
    "is_staff",
    "is_superuser",
]


@transaction.atomic
def user_save_from_admin(*, user: User, actor: User, created: bool, before: dict[str, object]) -> User:
    """Save a user edited in the back office, with an audit entry of what changed.

    Deactivation ends every session at once; role and flag changes are warnings in the log.
    """
    user.email = UserManager.normalize_email(user.email)
    user.save()
    after = {f: getattr(user, f) for f in ADMIN_EDITABLE_FIELDS}
    diff = changes({} if created else before, after)
    if created or diff:
        sensitive = {"platform_role", "is_active", "is_staff", "is_superuser"} & set(diff)
        audit_record(
            action="user.created" if created else "user.updated",
            target=user,
            severity="warning" if sensitive else "info",
            details={"changes": diff},
            actor=actor,
        )
    if not created and before.get("is_active") and not user.is_active:
        sessions_revoke_all(user=user, reason="deactivated", actor=actor)
    if not created and {"is_active", "platform_role"} & set(diff):
        stream.refresh_user(user.pk)  # their open streams ask the gate again (or close), on commit
    return user
