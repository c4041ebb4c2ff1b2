"""Writes on memberships and roles, within the actor's rank and permissions: one transaction
each, audited inside it. The last owner of a tenant stays owner."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from accounts import permissions as registry
from accounts.models import Role, User
from audit.models import Severity
from audit.services import audit_record, changes
from core import clock, stream
from core.errors import Conflict, InvalidInput, PermissionDeniedError, full_clean_or_invalid
from tenants import selectors
from tenants.hooks import member_removed, people_changed
from tenants.models import Invite, InviteStatus, Membership, Team, Tenant
from tenants.services.common import save_unique, snapshot

# Platform admins outrank every tenant role.
PLATFORM_ADMIN_RANK = 1000


def actor_rank(*, actor: User, tenant: Tenant) -> int:
    """How high `actor` stands in `tenant`: their role's rank; platform admins above all."""
    if actor.is_platform_admin:
        return PLATFORM_ADMIN_RANK
    membership = selectors.membership_for(user=actor, tenant=tenant)
    return membership.role.rank if membership else 0


def actor_permissions(*, actor: User, tenant: Tenant) -> frozenset[str]:
    """What `actor` may do in `tenant`: their role's permissions (platform roles included)."""
    membership = selectors.membership_for(user=actor, tenant=tenant)
    return registry.effective_permissions(user=actor, role=membership.role if membership else None)


def system_role(slug: str) -> Role:
    """One of owner/admin/member/viewer (readable in every context: RLS shares them)."""
    return Role.objects.get(tenant=None, slug=slug)


# --- Memberships ------------------------------------------------------------------------------


@transaction.atomic
def membership_create(
    *, tenant: Tenant, user: User, role: Role, actor: User, team: Team | None = None
) -> Membership:
    """Add `user` to `tenant` with `role` (used by tenant creation, sign-up and invites)."""
    if role.tenant_id not in (None, tenant.pk):
        raise InvalidInput("Unknown role.", errors={"role_id": ["No such role in this tenant."]})
    membership = Membership(
        tenant=tenant,
        user=user,
        role=role,
        team=team,
        invited_by=actor if getattr(actor, "pk", None) != user.pk else None,
        role_assigned_by=actor,
        joined_at=clock.now(),
        role_assigned_at=clock.now(),
    )
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError as exc:
        raise Conflict("This user is already a member.", code="already_member") from exc
    audit_record(
        action="member.added",
        tenant=tenant,
        target=membership,
        target_label=user.email,
        details={"user_id": user.pk, "role": role.slug, "team_id": team.pk if team else None},
        actor=actor,
    )
    people_changed.send(tenant_id=tenant.pk)
    return membership


def role_check_grantable(
    *, actor: User, tenant: Tenant, permissions: list[str] | tuple[str, ...], rank: int
) -> None:
    """Refuse handing out `permissions` at `rank` (a role made, changed, assigned or invited
    to) unless the actor holds every one of them and ranks at least as high.

    Rank alone is not enough: an admin (rank 30, no `tenant:admin`) could otherwise assign
    itself a custom rank-30 role that holds `tenant:admin`.
    """
    if rank > actor_rank(actor=actor, tenant=tenant):
        raise PermissionDeniedError("You cannot hand out a rank above your own.", code="rank_too_low")
    beyond = sorted(set(permissions) - actor_permissions(actor=actor, tenant=tenant))
    if beyond:
        raise PermissionDeniedError(
            "You cannot hand out permissions you do not hold.",
            code="permission_not_held",
            errors={"permissions": [f"Not held: {p}" for p in beyond]},
        )


def _guard_rank(*, actor: User, tenant: Tenant, target: Membership, new_role: Role | None = None) -> None:
    if target.role.rank > actor_rank(actor=actor, tenant=tenant):
        raise PermissionDeniedError("You cannot change a member ranked above you.", code="rank_too_low")
    if new_role is not None and new_role.pk != target.role_id:
        role_check_grantable(actor=actor, tenant=tenant, permissions=new_role.permissions, rank=new_role.rank)


def _is_owner_role(role: Role) -> bool:
    return role.tenant_id is None and role.slug == "owner"


def _lock_owners(tenant: Tenant) -> None:
    # The tenant's owner memberships first (primary-key order), so two admins demoting or
    # removing the last two owners at once cannot both succeed.
    list(
        Membership.objects.select_for_update()
        .filter(tenant=tenant, role__slug="owner")
        .order_by("pk")
        .values("pk")
    )


@transaction.atomic
def member_update(
    *,
    membership: Membership,
    actor: User,
    role: Role | None = None,
    team: Team | None = None,
    clear_team: bool = False,
) -> Membership:
    """Change a member's role and/or team, within the actor's rank; the last owner stays owner."""
    tenant = membership.tenant
    if role is not None and role.tenant_id not in (None, tenant.pk):
        raise InvalidInput("Unknown role.", errors={"role_id": ["No such role."]})
    if team is not None and team.tenant_id != tenant.pk:
        raise InvalidInput("Unknown team.", errors={"team_id": ["No such team."]})
    _lock_owners(tenant)
    membership = Membership.objects.select_for_update().select_related("role", "user").get(pk=membership.pk)
    _guard_rank(actor=actor, tenant=tenant, target=membership, new_role=role)
    before = {"role": membership.role.slug, "team_id": membership.team_id}
    if role is not None and role.pk != membership.role_id:
        if (
            _is_owner_role(membership.role)
            and not _is_owner_role(role)
            and selectors.owner_count(tenant=tenant) <= 1
        ):
            raise Conflict(
                "The last owner cannot be demoted; make someone else owner first.", code="last_owner"
            )
        membership.role = role
        membership.role_assigned_by = actor
        membership.role_assigned_at = clock.now()
    if team is not None or clear_team:
        membership.team = team
    membership.save()
    after = {"role": membership.role.slug, "team_id": membership.team_id}
    diff = changes(before, after)
    if diff:
        audit_record(
            action="member.role_changed" if "role" in diff else "member.updated",
            tenant=tenant,
            target=membership,
            target_label=membership.user.email,
            severity=Severity.WARNING if "role" in diff else Severity.INFO,
            details={"changes": diff, "user_id": membership.user_id},
            actor=actor,
        )
        people_changed.send(tenant_id=tenant.pk)
        # A new role or team changes what they see: their open streams ask the gate again.
        stream.refresh(tenant.pk, user_id=membership.user_id)
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: User) -> None:
    """Remove a member, within the actor's rank; the last owner cannot be removed."""
    tenant = membership.tenant
    _lock_owners(tenant)
    membership = Membership.objects.select_for_update().select_related("role", "user").get(pk=membership.pk)
    _guard_rank(actor=actor, tenant=tenant, target=membership)
    if _is_owner_role(membership.role) and selectors.owner_count(tenant=tenant) <= 1:
        raise Conflict("The last owner cannot be removed.", code="last_owner")
    audit_record(
        action="member.removed",
        tenant=tenant,
        target=membership,
        target_label=membership.user.email,
        severity=Severity.WARNING,
        details={"user_id": membership.user_id, "role": membership.role.slug},
        actor=actor,
    )
    membership.delete()
    # What higher layers gave them in this tenant goes with them (agents: their shares), so it
    # does not come back if they are added again.
    member_removed.send(tenant_id=tenant.pk, user_id=membership.user_id, actor=actor)
    # Their open websockets on this tenant's live stream close once this commits.
    stream.disconnect(
        tenant.pk, user_id=membership.user_id, code=stream.CLOSE_REMOVED, reason="member_removed"
    )
    people_changed.send(tenant_id=tenant.pk)


# --- Roles ------------------------------------------------------------------------------------


def _check_grantable(*, actor: User, tenant: Tenant, permissions: list[str], rank: int) -> list[str]:
    unknown = registry.unknown(permissions)
    if unknown:
        raise InvalidInput(
            "Some permissions are not registered.",
            code="validation_error",
            errors={"permissions": [f"Unknown permission: {p}" for p in unknown]},
        )
    role_check_grantable(actor=actor, tenant=tenant, permissions=permissions, rank=rank)
    return sorted(set(permissions))


@transaction.atomic
def role_create(
    *,
    tenant: Tenant,
    actor: User,
    name: str,
    permissions: list[str],
    rank: int,
    slug: str = "",
    description: str = "",
) -> Role:
    """Create a custom role: registered permissions only, none the actor lacks, not above them."""
    perms = _check_grantable(actor=actor, tenant=tenant, permissions=permissions, rank=rank)
    role = Role(
        tenant=tenant,
        name=name,
        slug=slug or slugify(name)[:50],
        description=description,
        permissions=perms,
        rank=rank,
    )
    full_clean_or_invalid(role, exclude=["tenant"])
    if role.slug in registry.SYSTEM_ROLES:
        raise InvalidInput(
            "Some fields are invalid.",
            code="validation_error",
            errors={"slug": ["This slug is reserved for a system role."]},
        )
    save_unique(role, "slug", "A role with this slug exists.")
    audit_record(
        action="role.created",
        tenant=tenant,
        target=role,
        details={"permissions": perms, "rank": rank},
        actor=actor,
    )
    return role


@transaction.atomic
def role_update(*, role: Role, actor: User, data: dict[str, Any]) -> Role:
    """Change a custom role (not a system one) ranked no higher than the actor, handing out
    only what the actor holds."""
    if role.is_system:
        raise PermissionDeniedError("System roles cannot be changed.", code="system_role")
    tenant = Tenant.objects.get(pk=str(role.tenant_id))
    role = Role.objects.select_for_update().get(pk=role.pk)
    if role.rank > actor_rank(actor=actor, tenant=tenant):
        raise PermissionDeniedError("You cannot change a role ranked above your own.", code="rank_too_low")
    fields = ["name", "description", "permissions", "rank"]
    before = snapshot(role, fields)
    if "permissions" in data or "rank" in data:
        data["permissions"] = _check_grantable(
            actor=actor,
            tenant=tenant,
            permissions=data.get("permissions", role.permissions),
            rank=data.get("rank", role.rank),
        )
    for field, value in data.items():
        setattr(role, field, value)
    full_clean_or_invalid(role, exclude=["tenant"])
    role.save()
    diff = changes(before, snapshot(role, fields))
    if diff:
        audit_record(
            action="role.updated",
            tenant=tenant,
            target=role,
            severity=Severity.WARNING,
            details={"changes": diff},
            actor=actor,
        )
        if "permissions" in diff:
            stream.refresh(tenant.pk)  # its holders' open streams ask the gate again
    return role


@transaction.atomic
def role_delete(*, role: Role, actor: User) -> None:
    """Delete a custom role that no member holds and no live invite names."""
    if role.is_system:
        raise PermissionDeniedError("System roles cannot be deleted.", code="system_role")
    # The tenant's row first: invite_create locks it too, so no invite to this role can appear
    # between the check and the delete.
    Tenant.objects.select_for_update().filter(pk=str(role.tenant_id)).values("pk").first()
    if Membership.objects.filter(tenant_id=str(role.tenant_id), role=role).exists():
        raise Conflict("Members still hold this role; give them another role first.", code="role_in_use")
    if Invite.objects.filter(
        tenant_id=str(role.tenant_id), role=role, status=InviteStatus.PENDING, expires_at__gt=timezone.now()
    ).exists():
        raise Conflict(
            "A pending invite names this role; revoke it (or let it expire) first.", code="role_in_use"
        )
    audit_record(
        action="role.deleted",
        tenant=role.tenant_id,
        target=role,
        severity=Severity.WARNING,
        details={"permissions": role.permissions, "rank": role.rank},
        actor=actor,
    )
    try:
        role.delete()
    except ProtectedError as exc:  # a member given the role since the check above
        raise Conflict(
            "Members still hold this role; give them another role first.", code="role_in_use"
        ) from exc
