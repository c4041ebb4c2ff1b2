"""Housekeeping of invites (tenants.expire_invites, daily): pending invites past their expiry are
marked expired (kept, not deleted), once; one audit entry per run that expired any, with the
count per tenant; the participant graph follows (the invitee churns)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from insights.models import Participant
from insights.services.graph import participants_sync
from tenants.models import Invite
from tenants.services.housekeeping import invites_expire
from tenants.tasks import expire_invites
from tenants.tests.factories import InviteFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _status(invite: Any) -> str:
    with platform_bypass(reason="test", log=False):
        return str(Invite.objects.get(pk=invite.pk).status)


def _expired_entries() -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action="invites.expired", tenant=None))


def test_expire_invites__pending_past_expiry_expired_others_untouched__one_entry_per_tenant_counts():
    tenant, other = TenantFactory.create(), TenantFactory.create()
    past = timezone.now() - timedelta(hours=1)
    due = [InviteFactory.create(tenant=tenant, expires_at=past) for _ in range(2)]
    due_other = InviteFactory.create(tenant=other, expires_at=past)
    future = InviteFactory.create(tenant=tenant)
    accepted = InviteFactory.create(tenant=tenant, expires_at=past, status="accepted")
    revoked = InviteFactory.create(tenant=tenant, expires_at=past, status="revoked")

    result = expire_invites()

    assert result == {str(tenant.pk): 2, str(other.pk): 1}
    assert [_status(i) for i in [*due, due_other]] == ["expired"] * 3
    assert (_status(future), _status(accepted), _status(revoked)) == ("pending", "accepted", "revoked")
    [entry] = _expired_entries()
    assert entry.details == {"expired": 3, "tenants": {str(tenant.pk): 2, str(other.pk): 1}}
    assert entry.actor_type == "system"


def test_expire_invites__second_run__changes_nothing_and_writes_no_entry():
    InviteFactory.create(expires_at=timezone.now() - timedelta(days=1))
    assert len(invites_expire()) == 1

    assert invites_expire() == {}
    assert len(_expired_entries()) == 1


def test_expire_invites__nothing_due__no_entry():
    InviteFactory.create()

    assert invites_expire() == {}
    assert _expired_entries() == []


def test_expire_invites__invitee_participant__churned_by_the_graph():
    invite = InviteFactory.create(expires_at=timezone.now() + timedelta(days=1))
    participants_sync(tenant=invite.tenant)
    with platform_bypass(reason="test", log=False):
        Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        assert Participant.objects.get(tenant=invite.tenant, email=invite.email).lifecycle_stage == "invited"

    invites_expire()

    with platform_bypass(reason="test", log=False):
        assert Participant.objects.get(tenant=invite.tenant, email=invite.email).lifecycle_stage == "churned"
