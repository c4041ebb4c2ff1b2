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


@dataclass(frozen=True)
class Standing:
    """A caller's standing in one tenant, read in the same statement as their credentials.

    On a tenant route the authenticator reads the API key (or the session) and, in that one
    round trip, the creator's (or user's) membership in the tenant of the URL with its tenant and
    role, setting the transaction's row-level-security settings to that tenant and user
    (tenants.selectors.api_key_with_standing). It decides nothing: the gate does, from this, as
    it would from its own read (`membership` None: not a member; `tenant` None: no such tenant).
    """

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant: Any | None  # tenants.models.Tenant; None: no tenant has this id
    membership: Any | None  # tenants.models.Membership with its tenant and role; None: not a member

    def answers(self, *, user_id: Any, tenant_id: Any) -> bool:
        """Whether this is the standing of that user in that tenant."""
        return str(self.user_id) == str(user_id) and str(self.tenant_id) == str(tenant_id)


# On the Django request (under DRF's), for this request's own transaction only: the tenant of a
# tenant route, which the API frame notes before authentication, and the standing the
# authenticator then leaves for the gate.
_ROUTE_ATTRIBUTE = "qm_tenant_route"
_STANDING_ATTRIBUTE = "qm_standing"


def note_tenant_route(request: Any, tenant_id: Any) -> None:
    """Tell the authenticators that this request is for the tenant `tenant_id` (core.api's
    TenantScopedApi does, before authentication), so that they read the standing with it."""
    try:
        tenant = tenant_id if isinstance(tenant_id, uuid.UUID) else uuid.UUID(str(tenant_id))
    except ValueError:
        return  # not a tenant id: the gate will say so
    setattr(getattr(request, "_request", request), _ROUTE_ATTRIBUTE, tenant)


def tenant_route(request: Any) -> uuid.UUID | None:
    """The tenant of this request's tenant route; None elsewhere."""
    tenant: uuid.UUID | None = getattr(getattr(request, "_request", request), _ROUTE_ATTRIBUTE, None)
    return tenant


def remember_standing(request: Any, standing: Standing | None) -> None:
    """Keep `standing` for this request's tenant gate (`request`: Django's or DRF's)."""
    setattr(getattr(request, "_request", request), _STANDING_ATTRIBUTE, standing)


def standing_of(request: Any) -> Standing | None:
    """The standing the authenticator read for this request, if it read one."""
    standing: Standing | None = getattr(getattr(request, "_request", request), _STANDING_ATTRIBUTE, None)
    return standing


# tenant_access(*, user, api_key, tenant_id, permission, write, standing=None) -> TenantAccess;
# raises PermissionDeniedError / NotFound. Provided by the tenants app (tenants.gate.tenant_access).
tenant_gate: Hook[..., TenantAccess] = Hook("tenant_gate", provider="tenants")
