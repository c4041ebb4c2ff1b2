"""Reads of tenants, teams and memberships. The tenant is always passed explicitly."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.db import connection
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Role, User
from core.rows import Columns, prepared_cursor, relate
from core.tenancy import settings_statement, user_context
from tenants.models import Invite, InviteStatus, Membership, Team, Tenant
from tenants.selectors_config import get_setting

_MEMBERSHIP, _TENANT, _ROLE = Columns(Membership, "m"), Columns(Tenant, "t"), Columns(Role, "r")
_MEMBERSHIP_SQL = (
    f"SELECT {_MEMBERSHIP.sql}, {_TENANT.sql}, {_ROLE.sql} FROM tenants_membership m"  # noqa: S608  # model columns
    " JOIN tenants_tenant t ON t.id = m.tenant_id JOIN accounts_role r ON r.id = m.role_id"
    " WHERE m.tenant_id = %s AND m.user_id = %s"
)


def membership_for(*, user: Any, tenant: Any, settings: dict[str, str] | None = None) -> Membership | None:
    """The user's membership in `tenant` (an instance or id), with its tenant and role, or None.

    One fixed statement (it runs on every tenant API request). `settings`: row-level-security
    settings to set first, in the same round trip (the API's tenant check sets the tenant's).
    """
    params = [getattr(tenant, "pk", tenant), getattr(user, "pk", user)]
    # Pipelined with the settings: both statements in one round trip, in order.
    with prepared_cursor() as cursor, connection.connection.pipeline() if settings else nullcontext():
        if settings:
            cursor.execute(*settings_statement(settings))
        cursor.execute(_MEMBERSHIP_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    membership = _MEMBERSHIP.build(row)
    relate(membership, "tenant", _TENANT.build(row, _MEMBERSHIP.width))
    relate(membership, "role", _ROLE.build(row, _MEMBERSHIP.width + _TENANT.width))
    return membership


def tenant_list_for_user(*, user: Any) -> QuerySet[Tenant]:
    """The tenants `user` may see: their memberships' tenants, or every tenant for platform staff."""
    if user.is_platform_staff:
        return Tenant.objects.order_by("name", "id")
    # Memberships are read through the user's own-rows RLS policy, across tenants.
    with scopes_disabled():
        tenant_ids = Membership.objects.filter(user=user).values("tenant_id")
    return Tenant.objects.filter(id__in=tenant_ids).order_by("name", "id")


def team_list(*, tenant: Tenant) -> QuerySet[Team]:
    return (
        Team.objects.filter(tenant=tenant).annotate(member_count=Count("memberships")).order_by("name", "id")
    )


def member_list(*, tenant: Tenant, filters: dict[str, Any] | None = None) -> QuerySet[Membership]:
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


def owner_count(*, tenant: Tenant) -> int:
    return Membership.objects.filter(tenant=tenant, role__slug="owner", role__tenant__isnull=True).count()


def invite_list(*, tenant: Tenant, status: str | None = None) -> QuerySet[Invite]:
    """The tenant's invites, newest first, with `effective_status`; filter on that status."""
    now = timezone.now()
    qs = (
        Invite.objects.filter(tenant=tenant)
        .select_related("role", "team", "invited_by")
        .annotate(
            effective_status=Case(
                When(status=InviteStatus.PENDING, expires_at__lte=now, then=Value(InviteStatus.EXPIRED)),
                default=F("status"),
                output_field=CharField(),
            )
        )
        .order_by("-created_at", "-id")
    )
    if status:
        qs = qs.filter(effective_status=status)
    return qs


def tenants_require_mfa(user: User) -> bool:
    """Whether a tenant of the user's demands a second factor: the tenant's own rule, or the
    platform's `security.require_2fa` setting for it (accounts' login asks, through a hook)."""
    # The user's own memberships, across tenants, through the RLS own-rows policy.
    with user_context(user), scopes_disabled():
        rows = list(Membership.objects.filter(user=user).values_list("tenant_id", "tenant__require_2fa"))
    return any(required or get_setting(tenant_id, "security.require_2fa") for tenant_id, required in rows)
