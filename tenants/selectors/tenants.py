"""Reads of tenants, memberships, teams and roles. The tenant is always passed explicitly."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django_scopes import scopes_disabled

from accounts.models import Role, User
from core.rows import Columns, prepared_cursor, relate
from core.tenancy import settings_statement, user_context
from tenants.models import Membership, Team, Tenant
from tenants.selectors.common import TenantRef, UserRef
from tenants.selectors.settings import get_setting

_MEMBERSHIP, _TENANT, _ROLE = Columns(Membership, "m"), Columns(Tenant, "t"), Columns(Role, "r")
_MEMBERSHIP_SQL = (
    f"SELECT {_MEMBERSHIP.sql}, {_TENANT.sql}, {_ROLE.sql} FROM tenants_membership m"  # noqa: S608  # model columns
    " JOIN tenants_tenant t ON t.id = m.tenant_id JOIN accounts_role r ON r.id = m.role_id"
    " WHERE m.tenant_id = %s AND m.user_id = %s"
)


def membership_for(
    *, user: UserRef, tenant: TenantRef, settings: dict[str, str] | None = None
) -> Membership | None:
    """The user's membership in `tenant`, with its tenant and role, or None. `user` and `tenant`
    are instances or ids (the API's gate has the tenant's id only).

    One fixed statement (it runs on every tenant API request). `settings`: row-level-security
    settings to set first, in the same round trip (the API's tenant check sets the tenant's).
    """
    tenant_id = tenant.pk if isinstance(tenant, Tenant) else tenant
    user_id = user.pk if isinstance(user, User) else user
    # Pipelined with the settings: both statements in one round trip, in order.
    with prepared_cursor() as cursor, connection.connection.pipeline() if settings else nullcontext():
        if settings:
            cursor.execute(*settings_statement(settings))
        cursor.execute(_MEMBERSHIP_SQL, [tenant_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    membership = _MEMBERSHIP.build(row)
    relate(membership, "tenant", _TENANT.build(row, _MEMBERSHIP.width))
    relate(membership, "role", _ROLE.build(row, _MEMBERSHIP.width + _TENANT.width))
    return membership


def membership_list_for_user(*, user: User) -> list[Membership]:
    """The user's own memberships in every tenant, with tenant, role and team, by tenant name."""
    with scopes_disabled():  # the caller's own memberships, across tenants (RLS own-rows)
        return list(
            Membership.objects.filter(user=user)
            .select_related("tenant", "role", "team")
            .order_by("tenant__name")
        )


def tenant_list_for_user(*, user: User) -> QuerySet[Tenant]:
    """The tenants `user` may see: their memberships' tenants, or every tenant for platform staff."""
    if user.is_platform_staff:
        return Tenant.objects.order_by("name", "id")
    # Memberships are read through the user's own-rows RLS policy, across tenants.
    with scopes_disabled():
        tenant_ids = Membership.objects.filter(user=user).values("tenant_id")
    return Tenant.objects.filter(id__in=tenant_ids).order_by("name", "id")


def tenant_owner_candidate(*, user_id: uuid.UUID) -> User | None:
    """The active user with this id, who may become a new tenant's first owner; None if none."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def team_list(*, tenant: Tenant) -> QuerySet[Team]:
    """The tenant's teams, by name, each with its `member_count`."""
    return (
        Team.objects.filter(tenant=tenant).annotate(member_count=Count("memberships")).order_by("name", "id")
    )


def team_member_count(*, team: Team) -> int:
    """How many members a team has (a team straight from a write carries no annotation)."""
    return team.memberships.count()


def team_get(*, tenant: Tenant, team_id: uuid.UUID | str) -> Team | None:
    """One of the tenant's teams (with `member_count`); None for another tenant's or a missing one."""
    return team_list(tenant=tenant).filter(pk=team_id).first()


def member_list(*, tenant: Tenant, filters: dict[str, Any] | None = None) -> QuerySet[Membership]:
    """The tenant's members with user, role and team, by joining date; `filters`: role (a slug),
    team (an id), q (part of an e-mail or name)."""
    qs = Membership.objects.filter(tenant=tenant).select_related("user", "role", "team")
    filters = filters or {}
    if filters.get("role"):
        qs = qs.filter(role__slug=filters["role"])
    if filters.get("team"):
        qs = qs.filter(team_id=filters["team"])
    if filters.get("q"):
        qs = qs.filter(Q(user__email__icontains=filters["q"]) | Q(user__full_name__icontains=filters["q"]))
    return qs.order_by("joined_at", "id")


def role_list(*, tenant: Tenant) -> QuerySet[Role]:
    """System roles and this tenant's custom roles."""
    return Role.objects.filter(Q(tenant__isnull=True) | Q(tenant=tenant)).order_by("-rank", "name", "id")


def role_get(*, tenant: Tenant, role_id: uuid.UUID | str) -> Role | None:
    """A system role or one of the tenant's; None for another tenant's or a missing one."""
    return role_list(tenant=tenant).filter(pk=role_id).first()


def owner_count(*, tenant: Tenant) -> int:
    """How many members hold the system owner role."""
    return Membership.objects.filter(tenant=tenant, role__slug="owner", role__tenant__isnull=True).count()


def tenants_require_mfa(user: User) -> bool:
    """Whether a tenant of the user's demands a second factor: the tenant's own rule, or the
    platform's `security.require_2fa` setting for it (accounts' login asks, through a hook)."""
    # The user's own memberships, across tenants, through the RLS own-rows policy.
    with user_context(user), scopes_disabled():
        rows = list(Membership.objects.filter(user=user).values_list("tenant_id", "tenant__require_2fa"))
    return any(required or get_setting(tenant_id, "security.require_2fa") for tenant_id, required in rows)
