"""Daily housekeeping of the live stream (agents.stream.housekeeping): expired tickets deleted,
connections whose process died closed at their last heartbeat, closed ones deleted after the
retention; idempotent; one audit entry per run that changed something."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from agents.models import StreamTicket, WebsocketConnection
from agents.stream.housekeeping import CLOSE_ABANDONED, stream_housekeeping
from agents.tasks import prune_stream
from agents.tests.factories import StreamTicketFactory, WebsocketConnectionFactory
from audit.models import AuditLogEntry
from core.tenancy import platform_bypass

pytestmark = pytest.mark.django_db


def _rows(model: Any) -> Any:
    with platform_bypass(reason="test", log=False):
        return {row.pk: row for row in model.objects.all()}


def test_stream_housekeeping__every_tenant__prunes_what_is_due_and_keeps_the_rest(
    tenant: Any, other_tenant: Any, settings: Any
) -> None:
    settings.QM_STREAM_CONNECTION_RETENTION_DAYS = 30
    now = timezone.now()
    expired = [
        StreamTicketFactory.create(tenant=t, expires_at=now - timedelta(seconds=1))
        for t in (tenant, other_tenant)
    ]
    live_ticket = StreamTicketFactory.create(tenant=tenant, expires_at=now + timedelta(seconds=30))
    beating = WebsocketConnectionFactory.create(tenant=tenant, last_seen_at=now - timedelta(minutes=2))
    dead_seen = now - timedelta(hours=2)
    dead = WebsocketConnectionFactory.create(tenant=other_tenant, last_seen_at=dead_seen)
    recent_close = WebsocketConnectionFactory.create(
        tenant=tenant, disconnected_at=now - timedelta(days=29), close_code=1000
    )
    old_close = WebsocketConnectionFactory.create(
        tenant=other_tenant, disconnected_at=now - timedelta(days=31), close_code=1000
    )

    assert stream_housekeeping(now=now) == {
        "expired_tickets": 2,
        "abandoned_connections": 1,
        "removed_connections": 1,
    }

    assert set(_rows(StreamTicket)) == {live_ticket.pk}
    assert not {t.pk for t in expired} & set(_rows(StreamTicket))
    connections = _rows(WebsocketConnection)
    assert set(connections) == {beating.pk, dead.pk, recent_close.pk}
    assert old_close.pk not in connections
    assert connections[beating.pk].disconnected_at is None
    assert connections[dead.pk].disconnected_at == dead_seen
    assert connections[dead.pk].close_code == CLOSE_ABANDONED
    with platform_bypass(reason="test", log=False):
        entry = AuditLogEntry.objects.get(action="stream.housekeeping")
    assert entry.actor_type == "system"
    assert entry.details["expired_tickets"] == 2
    assert entry.details["removed_connections"] == 1


def test_stream_housekeeping__second_run__changes_nothing_and_audits_nothing(tenant: Any) -> None:
    now = timezone.now()
    StreamTicketFactory.create(tenant=tenant, expires_at=now - timedelta(minutes=5))
    WebsocketConnectionFactory.create(tenant=tenant, last_seen_at=now - timedelta(hours=3))
    assert prune_stream() == {"expired_tickets": 1, "abandoned_connections": 1, "removed_connections": 0}

    assert prune_stream() == {"expired_tickets": 0, "abandoned_connections": 0, "removed_connections": 0}
    with platform_bypass(reason="test", log=False):
        assert AuditLogEntry.objects.filter(action="stream.housekeeping").count() == 1
