"""The tenant gate: the one check of who may do what in a tenant.

The API (`core.api.TenantScopedApi`, through the `core.access.tenant_gate` hook), the console and
the websocket consumers all call `tenant_access`; none checks membership on its own.
"""

from __future__ import annotations

import uuid

from django_scopes import scopes_disabled

from accounts import permissions as registry
from accounts.models import ApiKey, User
from core.access import Standing, TenantAccess
from core.api import request_settings
from core.context import update_context
from core.errors import NotFound, PermissionDeniedError
from tenants.models import Membership, Tenant
from tenants.selectors import membership_for


def tenant_access(
    *,
    user: User,
    api_key: ApiKey | None,
    tenant_id: uuid.UUID | str,
    permission: str | None,
    write: bool,
    standing: Standing | None = None,
) -> TenantAccess:
    """May `user` (or `api_key`, acting for it) do `permission` in the tenant `tenant_id`?
    (`permission` None: may it act in the tenant at all.)

    Returns what was found, with the row-level-security context of the current transaction set
    to that tenant and user; raises PermissionDeniedError (403: not a member, a key of another
    tenant, a missing permission, a suspended tenant written to) or NotFound (404: no such
    tenant, to platform staff; others cannot tell it from one they are not a member of).
    Run it inside the tenant's django-scopes scope (the membership is a tenant-scoped row).

    `standing`: what the authenticator read with the caller's credentials, in this transaction
    (`tenants.selectors.api_key_with_standing`): the same membership, tenant and RLS settings
    this function would read and set itself. Used only when it is this user's in this tenant.
    """
    if standing is not None and standing.answers(user_id=user.pk, tenant_id=tenant_id):
        membership: Membership | None = standing.membership
        found: Tenant | None = standing.tenant
    else:
        # The RLS settings first (the membership row is under RLS), then the membership with its
        # tenant and role: one round trip. The tenant alone only when there is no membership.
        membership = membership_for(
            user=user, tenant=tenant_id, settings=request_settings(tenant_id=tenant_id, user_id=user.pk)
        )
        found = None if membership is not None else _tenant_by_id(tenant_id)
    tenant = membership.tenant if membership is not None else _tenant_of_non_member(user, found)
    permissions = registry.effective_permissions(user=user, role=membership.role if membership else None)
    # An API key acts for its creator, narrowed to its scopes, in its own tenant only; the
    # creator's platform role never widens what a key may do.
    staff = user.is_platform_staff and api_key is None
    if api_key is not None:
        if api_key.tenant_id != tenant.pk:
            raise PermissionDeniedError(
                "This API key belongs to another tenant.", code="api_key_wrong_tenant"
            )
        has_standing = membership is not None or user.is_platform_admin
        permissions = permissions & frozenset(api_key.scopes) if has_standing else frozenset()
    elif membership is None and not staff:
        raise PermissionDeniedError("You are not a member of this tenant.", code="not_a_member")
    access = TenantAccess(
        tenant=tenant, user=user, membership=membership, permissions=permissions, staff=staff, api_key=api_key
    )
    if permission is not None and not access.allows(permission):
        raise PermissionDeniedError(f"This needs the {permission} permission.", code="missing_permission")
    if tenant.is_suspended and write and not staff:
        raise PermissionDeniedError(
            "This tenant is suspended: it can read but not change anything.", code="tenant_suspended"
        )
    update_context(access=access)  # the audit log's actor_role (core.context.ActorContext.access)
    return access


def _tenant_by_id(tenant_id: uuid.UUID | str) -> Tenant | None:
    with scopes_disabled():
        return Tenant.objects.filter(pk=tenant_id).first()


def _tenant_of_non_member(user: User, tenant: Tenant | None) -> Tenant:
    if tenant is None:
        # Whether a tenant exists is not for non-members to learn: same answer as "not a member".
        if user.is_platform_staff:
            raise NotFound("No such tenant.")
        raise PermissionDeniedError("You are not a member of this tenant.", code="not_a_member")
    return tenant
