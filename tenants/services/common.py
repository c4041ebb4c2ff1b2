"""What tenants' services share: snapshots for audit diffs, unique saves, field errors, and the
platform level of configuration writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, models, transaction

from accounts.models import User
from core.errors import InvalidInput, PermissionDeniedError
from core.tenancy import platform_bypass
from tenants.models import Tenant


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The values of `fields` on `obj`, to diff before and after a change."""
    return {f: getattr(obj, f) for f in fields}


def invalid(field: str, message: str) -> InvalidInput:
    """A 400 with one message on one field."""
    return InvalidInput("Some fields are invalid.", code="validation_error", errors={field: [message]})


def save_unique(obj: models.Model, field: str, message: str) -> None:
    """Save `obj`; a unique-constraint clash is a 400 on `field`, not a 500."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise invalid(field, message) from exc


def stored_user(actor: User | None) -> User | None:
    """The actor to store in a `*_by` column: a saved user, or None for the system."""
    return actor if getattr(actor, "pk", None) else None


def actor_label(actor: User | None) -> str:
    """How a history row names its author: their e-mail, or "system"."""
    return getattr(actor, "email", "") or "system"


@contextmanager
def platform_level(tenant: Tenant | None, *, actor: User | None, reason: str) -> Iterator[None]:
    """Platform-level configuration writes (`tenant` None) need a platform admin and run under
    the (logged) bypass of row-level security; a tenant's run as they are."""
    if tenant is not None:
        yield
        return
    if not getattr(actor, "is_platform_admin", False):
        raise PermissionDeniedError(
            "Only platform admins change platform configuration.", code="platform_admin_only"
        )
    with platform_bypass(reason=reason, actor=actor):
        yield
