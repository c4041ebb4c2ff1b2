"""Housekeeping of the live stream (daily, `agents.stream_housekeeping`), across every tenant:

- Tickets past their expiry are deleted. A tenant's expired tickets also go whenever it issues a
  new one (services.ticket_issue); this catches the tenants that stopped asking.
- A connection still open with no heartbeat for `ABANDONED_AFTER` lost its process (killed,
  crashed: it never said goodbye): it is closed at its last heartbeat with code 1006 (the
  websocket's "abnormal closure"). A live connection beats once a minute, so an hour is far past
  any pause of the database.
- Closed connections are deleted `QM_STREAM_CONNECTION_RETENTION_DAYS` after they closed.

Each part is one statement; idempotent (a second run finds nothing). A run that changed something
writes one system audit entry (`stream.housekeeping`) with the counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record
from core.tenancy import platform_bypass

ABANDONED_AFTER = timedelta(hours=1)
CLOSE_ABANDONED = 1006


@transaction.atomic
def stream_housekeeping(*, now: datetime | None = None) -> dict[str, int]:
    """Delete expired tickets, close abandoned connections, delete old closed ones; the counts."""
    now = now or timezone.now()
    closed_before = now - timedelta(days=settings.QM_STREAM_CONNECTION_RETENTION_DAYS)
    with platform_bypass(reason="housekeeping: live stream", log=False), connection.cursor() as cursor:
        cursor.execute("DELETE FROM agents_streamticket WHERE expires_at < %s", [now])
        tickets = cursor.rowcount
        cursor.execute(
            "UPDATE agents_websocketconnection SET disconnected_at = last_seen_at, close_code = %s"
            " WHERE disconnected_at IS NULL AND last_seen_at < %s",
            [CLOSE_ABANDONED, now - ABANDONED_AFTER],
        )
        abandoned = cursor.rowcount
        cursor.execute("DELETE FROM agents_websocketconnection WHERE disconnected_at < %s", [closed_before])
        removed = cursor.rowcount
    result = {"expired_tickets": tickets, "abandoned_connections": abandoned, "removed_connections": removed}
    if any(result.values()):
        audit_record(
            action="stream.housekeeping",
            target_type="agents.websocketconnection",
            details={**result, "closed_before": closed_before.isoformat()},
            system=True,
        )
    return result
