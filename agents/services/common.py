"""What the agents app's services share."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, connection, models, transaction

from agents.errors import invalid


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The values of `fields` on `obj`, to diff before and after a change."""
    return {f: getattr(obj, f) for f in fields}


def save_unique(obj: models.Model, field: str, message: str, **save: Any) -> None:
    """Save `obj`; a unique-constraint clash is a 400 on `field`, not a 500."""
    try:
        with transaction.atomic():
            obj.save(**save)
    except IntegrityError as exc:
        raise invalid(field, message, code="duplicate") from exc


def lock_key(*parts: Any) -> int:
    """A stable 64-bit advisory-lock key for these parts (the same in every process)."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def advisory_lock(*parts: Any) -> None:
    """Serialise this transaction with any other taking the same lock (released at its end).

    For counts that must not race (agents per tenant, open sessions per tenant): the count is read
    after the lock, so two concurrent creations cannot both see room for one more.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(*parts)])
