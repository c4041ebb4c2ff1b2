"""Housekeeping of tenants: pending invites past their expiry are marked expired (daily,
`tenants.expire_invites`).

Callers already see such an invite as expired (`selectors.invite_effective_status`) and accepting
it marks it so; the daily run makes the rows say it too, so that counts, filters and the seats an
invite holds agree with what callers see. The row is kept, with status `expired` (DOMAIN.md:
`pending | accepted | expired | revoked`), never deleted. Idempotent: a second run finds nothing
and writes nothing; a run that expired invites writes one system audit entry
(`invites.expired`) with the count per tenant, then sets off `people_changed` for each tenant
touched (the participant graph marks the invitees churned).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db import transaction

from audit.services import audit_record
from core import clock
from core.tenancy import platform_bypass
from tenants.hooks import people_changed
from tenants.models import Invite, InviteStatus


def invites_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Mark every pending invite past its expiry expired; {tenant id: how many}."""
    now = now or clock.now()
    with transaction.atomic():
        with platform_bypass(reason="housekeeping: expire invites", log=False):
            due = list(
                Invite.objects.select_for_update(skip_locked=True)
                .filter(status=InviteStatus.PENDING, expires_at__lte=now)
                .order_by("pk")
                .values_list("pk", "tenant_id")
            )
            if due:
                Invite.objects.filter(pk__in=[pk for pk, _ in due], status=InviteStatus.PENDING).update(
                    status=InviteStatus.EXPIRED, updated_at=now
                )
        per_tenant = {str(tenant_id): n for tenant_id, n in sorted(Counter(t for _, t in due).items())}
        if per_tenant:
            audit_record(
                action="invites.expired",
                system=True,
                details={"expired": len(due), "tenants": per_tenant},
            )
    for tenant_id in per_tenant:
        people_changed.send(tenant_id=tenant_id)
    return per_tenant
