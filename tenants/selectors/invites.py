"""Reads of invites. A pending invite past its expiry is expired, whatever its row says."""

from __future__ import annotations

from django.db.models import Case, CharField, F, QuerySet, Value, When
from django.utils import timezone

from tenants.models import Invite, InviteStatus, Tenant


def invite_is_past(invite: Invite) -> bool:
    """Whether the invite's expiry has passed."""
    return invite.expires_at <= timezone.now()


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
