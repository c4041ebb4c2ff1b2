"""Live events for the websocket stream (`/ws/tenants/{id}/events/`, DOMAIN.md agents).

Any layer publishes with `publish(tenant_id, "agent.status", {...})`; the event reaches the
tenant's subscribers through the channel layer once the surrounding transaction commits, and
never if it rolls back (DESIGN.md: side effects run through `transaction.on_commit`). A failure
to deliver is logged and swallowed: the stream is best-effort, the database is the record.

Event types in use (keep this list true): `activity` (an agent's feed item), `agent.status`,
`session.status`, `task.status`, `alert` (raised, acknowledged, resolved).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

STREAM_MESSAGE_TYPE = "stream.event"  # the consumer's handler: `stream_event`


def tenant_group(tenant_id: UUID | str) -> str:
    """The channel-layer group of one tenant's subscribers (names allow [a-zA-Z0-9._-])."""
    return f"tenant.{tenant_id}"


def publish(tenant_id: UUID | str, event_type: str, data: dict[str, Any]) -> None:
    """Send `{"type": event_type, "data": data}` to the tenant's subscribers after commit.

    `data` must be JSON-serialisable (ids as strings) and hold nothing secret: every member of
    the tenant connected to the stream receives it.
    """
    message = {"type": STREAM_MESSAGE_TYPE, "event": {"type": event_type, "data": data}}
    group = tenant_group(tenant_id)

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # best effort: the committed change stands
            logger.exception("stream: could not publish %s to %s", event_type, group)

    transaction.on_commit(send)
