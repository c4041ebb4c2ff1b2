"""The daily participant refresh (insights.sync_participants): lifecycle stages move with time
alone (active -> dormant); one audit entry per run that changed something, none otherwise, and a
second run changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass
from insights.models import Participant
from insights.services.graph import participants_sync, participants_sync_all
from insights.tasks import sync_participants
from tenants.tests.factories import member

pytestmark = pytest.mark.django_db


def _stage(tenant: Any, user: Any) -> str:
    with platform_bypass(reason="test", log=False):
        return str(Participant.objects.get(tenant=tenant, user=user).lifecycle_stage)


def _synced() -> list[AuditLogEntry]:
    with platform_bypass(reason="test", log=False):
        return list(AuditLogEntry.objects.filter(action="participants.synced").order_by("chain_seq"))


def test_sync_participants__member_gone_quiet__dormant_then_a_second_run_changes_nothing(tenant):
    long_ago = timezone.now() - timedelta(days=90)
    user = member(tenant, "member", user=UserFactory.create(), joined_at=long_ago)
    User.objects.filter(pk=user.pk).update(last_seen_at=timezone.now() - timedelta(days=29), last_login=None)
    participants_sync(tenant=tenant)
    assert _stage(tenant, user) == "active"
    assert participants_sync_all()["updated"] == 0  # nothing moved yet
    assert _synced() == []
    # A few days pass with no sign of them (the time moves their stage, nothing else does).
    User.objects.filter(pk=user.pk).update(last_seen_at=timezone.now() - timedelta(days=31))

    first = sync_participants()
    second = sync_participants()

    assert _stage(tenant, user) == "dormant"
    assert first["updated"] >= 1
    assert {k: v for k, v in second.items() if k != "tenants"} == {
        "created": 0,
        "updated": 0,
        "edges_created": 0,
        "edges_removed": 0,
    }
    [entry] = _synced()
    assert (entry.actor_type, entry.details["updated"]) == ("system", first["updated"])
