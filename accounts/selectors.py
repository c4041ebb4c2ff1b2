"""Reads of API keys. The tenant is always passed explicitly (the key lookup of authentication
is the one cross-tenant read, and it says so)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import ApiKey
from core.tenancy import platform_bypass


def api_key_list(*, tenant: Any) -> QuerySet[ApiKey]:
    """The tenant's API keys, newest first, revoked ones included, with their creators."""
    return ApiKey.objects.filter(tenant=tenant).select_related("created_by").order_by("-created_at", "-id")


def api_key_get(*, tenant: Any, api_key_id: Any) -> ApiKey | None:
    """One API key of `tenant`, or None (another tenant's id answers like an unknown one)."""
    return api_key_list(tenant=tenant).filter(pk=api_key_id).first()


def api_key_for_authentication(*, key_hash: str) -> ApiKey | None:
    """The key with this SHA-256, with its creator and tenant, across tenants, in one query.

    Authentication runs before any tenant is known, so this is the one read of keys under the
    platform bypass; it is not logged because it happens on every key-authenticated request.
    """
    with platform_bypass(reason="api key lookup", log=False):
        return ApiKey.objects.select_related("created_by", "tenant").filter(key_hash=key_hash).first()
