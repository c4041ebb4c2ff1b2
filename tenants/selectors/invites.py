"""Reads of invites. A pending invite past its expiry is expired, whatever its row says."""

from __future__ import annotations

import hashlib

from django.db.models import Case, CharField, F, QuerySet, Value, When
from django.utils import timezone

from core import clock
from core.tenancy import platform_bypass
from tenants.models import Invite, InviteStatus, Tenant


def invite_is_past(invite: Invite) -> bool:
    """Whether the invite's expiry has passed."""
    return invite.expires_at <= clock.now()


def invite_effective_status(invite: Invite) -> str:
    """The status a caller should see: a pending invite past its expiry is expired."""
    if invite.status == InviteStatus.PENDING and invite_is_past(invite):
        return InviteStatus.EXPIRED
    return invite.status


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


def invite_by_token(*, token: str) -> Invite | None:
    """The invite an e-mailed token names, with its tenant, role and team, or None: for the page
    the link opens (the token is the credential). Looked up across tenants by the token's
    SHA-256 only, as tenants.services.invite_accept looks it up."""
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    with platform_bypass(reason="invite preview", log=False):
        return (
            Invite.objects.select_related("tenant", "role", "team", "invited_by")
            .filter(token_hash=token_hash)
            .first()
        )
