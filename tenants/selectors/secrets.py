"""Reads of the secret locker: who sees which secrets, and the secrets themselves (never values)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.models import User
from core.errors import NotFound
from tenants.models import Membership, Secret, Tenant

# System roles that see every secret of their tenant, whatever their team.
TENANT_WIDE_ROLES = ("owner", "admin")


@dataclass(frozen=True)
class SecretVisibility:
    """Which of a tenant's secrets a caller may see: all, or tenant-wide ones plus their team's."""

    all_teams: bool
    team_id: uuid.UUID | None = None

    def allows(self, team_id: uuid.UUID | None) -> bool:
        return self.all_teams or team_id is None or team_id == self.team_id


ALL_SECRETS = SecretVisibility(all_teams=True)


def secret_visibility(
    *, user: User, membership: Membership | None, via_api_key: bool = False
) -> SecretVisibility:
    """Platform staff (not through an API key) and the tenant's owners and admins see every
    secret; everyone else sees tenant-wide secrets and those of their own team."""
    if user.is_platform_staff and not via_api_key:
        return ALL_SECRETS
    if membership is None:
        return SecretVisibility(all_teams=False)
    role = membership.role
    if role.tenant_id is None and role.slug in TENANT_WIDE_ROLES:
        return ALL_SECRETS
    return SecretVisibility(all_teams=False, team_id=membership.team_id)


def secret_list(*, tenant: Tenant, visibility: SecretVisibility) -> QuerySet[Secret]:
    """The secrets of `tenant` the caller may see, by name (never with their values)."""
    qs = Secret.objects.filter(tenant=tenant).select_related("team", "created_by")
    if not visibility.all_teams:
        qs = qs.filter(Q(team__isnull=True) | Q(team_id=visibility.team_id))
    return qs.order_by("name", "id")


def secret_get(*, tenant: Tenant, visibility: SecretVisibility, secret_id: uuid.UUID | str) -> Secret:
    """One visible secret; another tenant's, another team's or a missing one: 404 alike."""
    secret = secret_list(tenant=tenant, visibility=visibility).filter(pk=secret_id).first()
    if secret is None:
        raise NotFound()
    return secret
