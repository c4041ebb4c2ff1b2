"""Invites: create, revoke, accept. One transaction per service, the audit entry inside it.

The token is e-mailed once and never stored: the invite keeps its SHA-256 only, so a leaked
database (or audit log, or API response) cannot be turned into a membership.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from accounts.models import Role, User, UserManager
from audit.models import Severity
from audit.services import audit_record
from core import clock
from core.errors import Conflict, InvalidInput, LimitExceeded, NotFound, PermissionDeniedError
from core.tenancy import platform_bypass, tenant_context
from tenants.hooks import people_changed
from tenants.models import Invite, InviteStatus, Membership, Team, Tenant
from tenants.selectors.invites import invite_is_past
from tenants.services.members import membership_create, role_check_grantable

DEFAULT_INVITE_DAYS = 7
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def invite_token_hash(token: str) -> str:
    """The SHA-256 hex digest under which an invite token is looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def invite_accept_url(token: str) -> str:
    """The link the invite e-mail carries."""
    base = (getattr(settings, "QM_PUBLIC_URL", "") or DEFAULT_PUBLIC_URL).rstrip("/")
    return f"{base}/invites/accept?token={token}"


# --- Create and revoke ------------------------------------------------------------------------


def _invite_email(invite: Invite, role: Role, token: str, tenant: Tenant, inviter: User) -> tuple[str, str]:
    context = {
        "tenant_name": tenant.name,
        "inviter": getattr(inviter, "full_name", "") or getattr(inviter, "email", ""),
        "role_name": role.name,
        "team_name": invite.team.name if invite.team else "",
        "accept_url": invite_accept_url(token),
        "expires_at": invite.expires_at,
    }
    subject = f"You are invited to join {tenant.name} on Quartermaster"
    return subject, render_to_string("emails/invite.txt", context)


@transaction.atomic
def invite_create(
    *, tenant: Tenant, actor: User, email: str, role: Role, team: Team | None = None
) -> tuple[Invite, str]:
    """Invite `email` to `tenant` as `role`; return the invite and the token (e-mailed on commit)."""
    email = UserManager.normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors={"email": list(exc.messages)}
        ) from exc
    with tenant_context(tenant):
        # Lock the tenant first: invites and members count against one limit, and two invites
        # racing for the last seat must not both get it.
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if role.tenant_id not in (None, tenant.pk):
            raise InvalidInput(
                "Unknown role.", code="validation_error", errors={"role_id": ["No such role."]}
            )
        if team is not None and team.tenant_id != tenant.pk:
            raise InvalidInput(
                "Unknown team.", code="validation_error", errors={"team_id": ["No such team."]}
            )
        role_check_grantable(actor=actor, tenant=tenant, permissions=role.permissions, rank=role.rank)
        if Membership.objects.filter(tenant=tenant, user__email=email).exists():
            raise Conflict("This person is already a member.", code="already_member")
        now = clock.now()
        pending = Invite.objects.select_for_update().filter(
            tenant=tenant, email=email, status=InviteStatus.PENDING
        )
        for stale in pending:
            if stale.expires_at > now:
                raise Conflict(
                    "An invite to this address is pending; revoke it first.", code="invite_pending"
                )
            # Expired in fact but not yet in the row: retire it, so the new one can take its place.
            stale.status = InviteStatus.EXPIRED
            stale.save(update_fields=["status", "updated_at"])
        max_members = (tenant.resource_limits or {}).get("max_members")
        if max_members is not None:
            seats = (
                Membership.objects.filter(tenant=tenant).count()
                + Invite.objects.filter(
                    tenant=tenant, status=InviteStatus.PENDING, expires_at__gt=now
                ).count()
            )
            if seats >= max_members:
                raise LimitExceeded(
                    f"This tenant allows {max_members} members, pending invites included.",
                    code="limit_exceeded",
                )
        token = secrets.token_urlsafe(32)
        days = getattr(settings, "QM_INVITE_DAYS", DEFAULT_INVITE_DAYS)
        invite = Invite(
            tenant=tenant,
            email=email,
            role=role,
            team=team,
            token_hash=invite_token_hash(token),
            invited_by=actor,
            expires_at=now + timedelta(days=days),
        )
        try:
            with transaction.atomic():
                invite.save()
        except IntegrityError as exc:  # a concurrent invite to the same address won the race
            raise Conflict(
                "An invite to this address is pending; revoke it first.", code="invite_pending"
            ) from exc
        audit_record(
            action="invite.created",
            tenant=tenant,
            target=invite,
            target_label=email,
            # Never the token: whoever reads the audit log must not be able to accept the invite.
            details={"email": email, "role": role.slug, "team_id": team.pk if team else None},
            actor=actor,
        )
    subject, body = _invite_email(invite, role, token, tenant, actor)
    # The e-mail leaves only once the invite is committed: a rolled-back invite sends nothing.
    transaction.on_commit(
        lambda: send_mail(subject, body, None, [email], fail_silently=False),
        robust=True,  # a mail server failure must not turn a committed invite into a 500
    )
    people_changed.send(tenant_id=tenant.pk)
    return invite, token


@transaction.atomic
def invite_revoke(*, invite: Invite, actor: User) -> Invite:
    """Revoke a pending invite; its token stops working at once."""
    with tenant_context(invite.tenant_id):
        invite = Invite.objects.select_for_update().get(pk=invite.pk)
        if invite.status != InviteStatus.PENDING:
            raise Conflict(f"This invite is {invite.status}, not pending.", code="invite_not_pending")
        invite.status = InviteStatus.REVOKED
        invite.revoked_at = clock.now()
        invite.save(update_fields=["status", "revoked_at", "updated_at"])
        audit_record(
            action="invite.revoked",
            tenant=invite.tenant_id,
            target=invite,
            target_label=invite.email,
            severity=Severity.WARNING,
            details={"email": invite.email},
            actor=actor,
        )
        people_changed.send(tenant_id=invite.tenant_id)
    return invite


# --- Accept -----------------------------------------------------------------------------------


def _check_acceptable(invite: Invite) -> None:
    if invite.status == InviteStatus.REVOKED:
        raise Conflict("This invite was revoked.", code="invite_revoked")
    if invite.status == InviteStatus.ACCEPTED:
        raise Conflict("This invite was already used.", code="invite_used")
    if invite.status == InviteStatus.EXPIRED:
        raise Conflict("This invite has expired; ask for a new one.", code="invite_expired")


def _new_user(*, email: str, password: str | None, full_name: str) -> User:
    if not password:
        raise InvalidInput(
            "Some fields are invalid.",
            code="validation_error",
            errors={"password": ["A password is required to create your account."]},
        )
    try:
        validate_password(password, User(email=email, full_name=full_name))
    except ValidationError as exc:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors={"password": list(exc.messages)}
        ) from exc
    return User.objects.create_user(
        email, password, full_name=full_name.strip()[:200], date_joined=clock.now()
    )


def invite_accept(
    *, token: str, user: User | None = None, password: str | None = None, full_name: str = ""
) -> Membership:
    """Accept an invite: the membership, and the user if new, in one transaction.

    `user` is the authenticated caller, if any. An address that already has an account can be
    accepted only by that account, logged in; a new address gets its account created here.
    """
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    # A pending invite found past its expiry is marked expired, and that mark is kept (it is
    # true whatever the caller does next), so the refusal is raised after this transaction.
    with transaction.atomic():
        # The invite's tenant is unknown until the invite is found: look it up across tenants,
        # by hash only, and lock it so two acceptances of one token cannot both succeed.
        with platform_bypass(reason="invite accept", log=False):
            invite = (
                Invite.objects.select_for_update().filter(token_hash=invite_token_hash(token or "")).first()
            )
        if invite is None:
            raise NotFound("No such invite.", code="invite_not_found")
        _check_acceptable(invite)
        if not invite_is_past(invite):
            return _accept(invite, user=user, password=password, full_name=full_name)
        with tenant_context(invite.tenant_id):
            invite.status = InviteStatus.EXPIRED
            invite.save(update_fields=["status", "updated_at"])
            people_changed.send(tenant_id=invite.tenant_id)
    raise Conflict("This invite has expired; ask for a new one.", code="invite_expired")


def _accept(invite: Invite, *, user: User | None, password: str | None, full_name: str) -> Membership:
    with tenant_context(invite.tenant_id):
        tenant = Tenant.objects.get(pk=invite.tenant_id)
        if tenant.is_suspended:
            raise PermissionDeniedError(
                "This tenant is suspended and cannot take new members.", code="tenant_suspended"
            )
        existing = User.objects.filter(email=invite.email).first()
        if existing is not None:
            # Only that account may accept; say nothing more to anyone else.
            if user is None or user.pk != existing.pk or not existing.is_active:
                raise PermissionDeniedError(
                    "Log in with the invited address to accept this invite.", code="login_required_to_accept"
                )
            member, created = existing, False
        else:
            if user is not None:
                raise PermissionDeniedError(
                    "This invite is for another e-mail address; log out to accept it.",
                    code="invite_for_another_email",
                )
            member, created = _new_user(email=invite.email, password=password, full_name=full_name), True
        max_members = (tenant.resource_limits or {}).get("max_members")
        if max_members is not None and Membership.objects.filter(tenant=tenant).count() >= max_members:
            raise LimitExceeded(f"This tenant allows {max_members} members.", code="limit_exceeded")
        role = invite.role
        if role is None:  # role_delete refuses while an invite is pending; belt and braces
            raise Conflict(
                "This invite's role no longer exists; ask for a new invite.", code="invite_role_gone"
            )
        membership = membership_create(tenant=tenant, user=member, role=role, actor=member, team=invite.team)
        membership.invited_by_id = invite.invited_by_id
        membership.save(update_fields=["invited_by", "updated_at"])
        invite.status = InviteStatus.ACCEPTED
        invite.accepted_by = member
        invite.accepted_at = clock.now()
        invite.save(update_fields=["status", "accepted_by", "accepted_at", "updated_at"])
        people_changed.send(tenant_id=tenant.pk)
        audit_record(
            action="invite.accepted",
            tenant=tenant,
            target=invite,
            target_label=invite.email,
            details={
                "email": invite.email,
                "role": role.slug,
                "user_id": member.pk,
                "membership_id": membership.pk,
                "created_user": created,
            },
            actor=member,
        )
    return membership
