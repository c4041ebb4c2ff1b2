"""The tenant gate's contract: who may do what in which tenant, as one typed value.

The gate itself (`tenants.gate.tenant_access`) resolves the tenant, checks the membership (or the
platform role, or the API key's tenant and scopes) and the permission, and sets the row-level
security context, raising the domain errors. It lives in `tenants`, where memberships are; the
API base (`core.api.TenantScopedApi`) reaches it through the `tenant_gate` hook below, and the
console and the websocket consumers, which sit above tenants, call it directly. All three get
the same `TenantAccess` back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from core.hooks import Hook

# Entries of a permission map beyond the role registry (accounts.permissions).
PLATFORM_STAFF = "platform:staff"  # platform admins and operators
PLATFORM_ADMIN = "platform:admin"  # platform admins only
PLATFORM_PERMISSIONS = frozenset({PLATFORM_STAFF, PLATFORM_ADMIN})


class TenantLike(Protocol):
    pk: uuid.UUID
    is_suspended: bool


@dataclass(frozen=True)
class TenantAccess:
    """What the gate found: the caller may do `permission` in `tenant`, acting as described."""

    tenant: Any  # tenants.models.Tenant (TenantLike)
    user: Any  # accounts.models.User (Principal)
    membership: Any | None  # tenants.models.Membership; None for platform staff who are not members
    permissions: frozenset[str]  # what the caller may do here: the role's, narrowed to a key's scopes
    staff: bool  # acting as platform staff (never through an API key)
    api_key: Any | None  # accounts.models.ApiKey when the caller is a key

    def allows(self, permission: str) -> bool:
        """Whether this caller may do `permission` (a registered one, or a platform one) here."""
        if permission == PLATFORM_ADMIN:
            return self.staff and bool(self.user.is_platform_admin)
        if permission == PLATFORM_STAFF:
            return self.staff
        return permission in self.permissions


# tenant_access(*, user, api_key, tenant_id, permission, write) -> TenantAccess; raises
# PermissionDeniedError / NotFound. Provided by the tenants app (tenants.gate.tenant_access).
tenant_gate: Hook[..., TenantAccess] = Hook("tenant_gate", provider="tenants")
