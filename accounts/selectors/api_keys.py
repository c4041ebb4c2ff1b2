"""Reads of API keys. The tenant is always passed explicitly (the key lookup of authentication
is the one cross-tenant read, and it says so)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from accounts.models import ApiKey, User
from accounts.types import TenantRef
from core.rows import Columns, execute_first, prepared_cursor, relate


def api_key_list(*, tenant: TenantRef) -> QuerySet[ApiKey]:
    """The tenant's API keys, newest first, revoked ones included, with their creators."""
    return (
        ApiKey.objects.filter(tenant_id=tenant.pk).select_related("created_by").order_by("-created_at", "-id")
    )


def api_key_get(*, tenant: TenantRef, api_key_id: uuid.UUID | str) -> ApiKey | None:
    """One API key of `tenant`, or None (another tenant's id answers like an unknown one)."""
    return api_key_list(tenant=tenant).filter(pk=api_key_id).first()


_KEY = Columns(ApiKey, "k")
_CREATOR = Columns(User, "u")
_KEY_SQL = (
    f"SELECT {_KEY.sql}, {_CREATOR.sql} FROM qm_api_key_by_hash(%s) k"  # noqa: S608  # column names from the models
    " JOIN accounts_user u ON u.id = k.created_by_id"
)


def api_key_for_authentication(*, key_hash: str) -> ApiKey | None:
    """The key with this SHA-256, with its creator, across tenants, in one round trip.

    Authentication runs before any tenant is known, so this is the one read of keys across
    tenants: the database function `qm_api_key_by_hash` (accounts migration 0006) bypasses
    row-level security for that single lookup by hash. It is not logged: it happens on every
    key-authenticated request.
    """
    with prepared_cursor() as cursor:
        execute_first(cursor, _KEY_SQL, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    api_key = _KEY.build(row)
    relate(api_key, "created_by", _CREATOR.build(row, _KEY.width))
    return api_key
