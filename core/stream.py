"""Live events for the websocket stream (`/ws/tenants/{id}/events/`, DOMAIN.md agents).

Any layer publishes with `publish(tenant_id, "agent.status", {...})`; the event reaches the
tenant's group through the channel layer once the surrounding transaction commits, and never if
it rolls back (DESIGN.md: side effects run through `transaction.on_commit`). A failure to deliver
is logged and swallowed: the stream is best-effort, the database is the record. Not every
subscriber gets every event: an event naming an agent (`agent_id`) is forwarded only to those
who may see that agent (the consumer filters, agents/stream/consumer.py).

Event types in use (keep this list true): `activity` (an agent's feed item), `agent.status`,
`session.status`, `task.status`, `alert` (raised, acknowledged, resolved).

`disconnect(tenant_id, user_id=...)` closes the stream of one member (removed from the tenant) or
of everyone in a tenant (suspended), on commit, through the same group: the consumer
(agents/stream/consumer.py) closes the websocket with the code given.

`refresh(tenant_id, user_id=...)` tells open streams (of one user, or everyone in a tenant) that
who sees what has changed (a share, a team, a role, a key revoked): on commit, each asks the
tenant gate again and recomputes the agents it forwards events of, or closes (4403) when the
caller may no longer stream. `refresh_user(user_id)` does it for one user's streams in every
tenant (a lock or a deactivation, where the caller knows no tenant): each consumer also joins
its user's group (`user_group`).
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


def user_group(user_id: UUID | str) -> str:
    """The channel-layer group of one user's streams, in whichever tenants."""
    return f"user.{user_id}"


def publish(tenant_id: UUID | str, event_type: str, data: dict[str, Any]) -> None:
    """Send `{"type": event_type, "data": data}` to the tenant's subscribers after commit.

    `data` must be JSON-serialisable (ids as strings) and hold nothing secret: every member of
    the tenant connected to the stream who sees the agent it names (if any) receives it.
    """
    publish_many(tenant_id, [(event_type, data)])


def publish_many(tenant_id: UUID | str, events: list[tuple[str, dict[str, Any]]]) -> None:
    """`publish` each (event type, data) of `events`, in order, at the cost of one: on the
    PostgreSQL layer one statement for them all (a batch of tasks completed)."""
    messages = [{"type": STREAM_MESSAGE_TYPE, "event": {"type": kind, "data": data}} for kind, data in events]
    if messages:
        _send(tenant_group(tenant_id), *messages)


CONTROL_MESSAGE_TYPE = "stream.control"  # the consumer's handler: `stream_control`
# Websocket close codes (4000-4999 are the application's): the console's script does not
# reconnect after these.
CLOSE_REMOVED = 4403  # no longer a member (or the key is gone)
CLOSE_SUSPENDED = 4423  # the tenant is suspended


def disconnect(tenant_id: UUID | str, *, user_id: UUID | str | None = None, code: int, reason: str) -> None:
    """After commit, close the tenant's streams: of `user_id` only, or everyone's (None)."""
    message = {
        "type": CONTROL_MESSAGE_TYPE,
        "action": "close",
        "user_id": str(user_id) if user_id is not None else None,
        "code": code,
        "reason": reason,
    }
    _send(tenant_group(tenant_id), message)


def refresh(tenant_id: UUID | str, *, user_id: UUID | str | None = None) -> None:
    """After commit, have the tenant's streams (of `user_id` only, or everyone's: None) ask the
    gate again and recompute the agents they see; one the caller may no longer open closes."""
    _send(tenant_group(tenant_id), _refresh_message(user_id))


def refresh_user(user_id: UUID | str) -> None:
    """After commit, `refresh` every stream of one user, in every tenant."""
    _send(user_group(user_id), _refresh_message(user_id))


def _refresh_message(user_id: UUID | str | None) -> dict[str, Any]:
    return {
        "type": CONTROL_MESSAGE_TYPE,
        "action": "refresh",
        "user_id": str(user_id) if user_id is not None else None,
    }


def _send(group: str, *messages: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    notify_in_transaction = getattr(layer, "notify_in_transaction", None)
    if notify_in_transaction is not None:
        # The PostgreSQL layer (core/channel_layer.py): NOTIFY inside this transaction is
        # delivered by PostgreSQL on COMMIT and dropped on ROLLBACK, on the request's own
        # connection. Inside a savepoint that later rolls back it is dropped too, like on_commit.
        try:
            with transaction.atomic():
                notify_in_transaction(group, *messages)
        except Exception:  # best effort: never fail the write for the stream's sake
            logger.exception("stream: could not publish to %s", group)
        return

    async def send_all() -> None:
        for message in messages:
            await layer.group_send(group, message)

    def send() -> None:
        try:
            async_to_sync(send_all)()
        except Exception:  # best effort: the committed change stands
            logger.exception("stream: could not publish to %s", group)

    transaction.on_commit(send)
