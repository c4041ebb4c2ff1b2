"""The websocket consumer of `/ws/tenants/{id}/events/?ticket=...`.

Connect: the Origin (if any) must be allowed, the ticket is redeemed once and the caller's
standing asked of the tenant gate (agents.stream.services.stream_open, in a thread: it touches
the database); a refusal closes the handshake (HTTP 403) before anything is sent. Then the socket
joins the tenant's group (core.stream.tenant_group) and its user's (core.stream.user_group) and
forwards each `stream.event` as one JSON text frame `{"type": ..., "data": ...}`; a
`stream.control` close for this user (or everyone) closes it with the code given (4403 removed,
4423 suspended). What the client sends is ignored.

Agent visibility: an event whose data names an agent (`agent_id`: activity, agent.status,
session.status, task.status) reaches only those who may see that agent, by the API's rule
(agents.selectors.agent_visibility). At connect the caller either sees every agent (owners,
admins, platform staff: every event forwarded, no query) or gets the set of the agents they see;
an agent outside it (created, moved to their team or shared with them since) is asked about once
(services.agent_visible) and the answer kept in a bounded cache: a yes until the next refresh,
a no for `recheck_after_seconds`. `agent_id` null (a task of no agent) is for those who see every
agent, as on the API (task_visibility). Events naming no agent (alerts) reach every subscriber.

A `stream.control` refresh for this user (or everyone; core.stream.refresh, sent when a share, a
team, a role or a key changes) asks the gate again (services.stream_refresh): the connection
takes the new standing and visible set and forgets its re-checked agents, or closes with 4403
when the caller may no longer stream (1011 when the database cannot answer: the client comes
back and is asked at connect). Channels runs one connection's handlers one at a time, so events
that arrive during the refresh wait for it and are judged by the new set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from agents.stream import services
from core.context import client_ip
from core.stream import CLOSE_REMOVED, tenant_group, user_group

logger = logging.getLogger(__name__)


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def websocket_client_ip(scope: dict[str, Any]) -> str | None:
    """The client's address by the same rule as HTTP's (core.context.client_ip: trusted proxies)."""
    peer = scope.get("client") or (None, None)
    meta = {"REMOTE_ADDR": peer[0] or "", "HTTP_X_FORWARDED_FOR": _header(scope, b"x-forwarded-for")}
    return client_ip(SimpleNamespace(META=meta))  # type: ignore[arg-type]  # reads META only


class TenantEventsConsumer(AsyncWebsocketConsumer):
    """One subscriber of one tenant's live events."""

    # How often the connection's last_seen_at is written while it is open.
    heartbeat_seconds = float(services.SEEN_INTERVAL.total_seconds())

    # Re-checked agents kept per connection (least recently used dropped first), and how long a
    # "not visible" answer stands before that agent is asked about again (a share takes effect).
    recheck_cache_size = 256
    recheck_after_seconds = 60.0

    stream: services.OpenStream | None = None
    group: str = ""
    user_group: str = ""
    _heartbeat: asyncio.Task[None] | None = None
    _rechecked: OrderedDict[str, tuple[bool, float]]  # agent id: (visible, when asked: monotonic)

    async def connect(self) -> None:
        self._rechecked = OrderedDict()
        tenant_id = str(self.scope["url_route"]["kwargs"]["tenant_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            self.stream = await database_sync_to_async(services.stream_open)(
                tenant_id=tenant_id,
                ticket=(query.get("ticket") or [""])[0],
                origin=_header(self.scope, b"origin"),
                client_ip=websocket_client_ip(self.scope),
                user_agent=_header(self.scope, b"user-agent"),
                channel_name=self.channel_name,
            )
        except services.StreamRefused as refusal:
            logger.info("stream: refused %s (%s)", tenant_id, refusal.code)
            await self.close()  # before accept: the handshake is answered 403
            return
        self.group = tenant_group(self.stream.tenant_id)
        self.user_group = user_group(self.stream.user_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def disconnect(self, code: int) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self.stream is None:
            return
        stream, self.stream = self.stream, None
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.channel_layer.group_discard(self.user_group, self.channel_name)
        await database_sync_to_async(services.connection_close)(
            tenant_id=stream.tenant_id, connection_id=stream.connection_id, code=code
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The stream is one-way; what a client sends is ignored."""

    async def stream_event(self, message: dict[str, Any]) -> None:
        if not await self._may_see(message["event"]):
            return
        await self.send(text_data=json.dumps(message["event"], separators=(",", ":")))

    async def stream_control(self, message: dict[str, Any]) -> None:
        if self.stream is None:
            return
        target = message.get("user_id")
        if target is not None and target != str(self.stream.user_id):
            return
        action = message.get("action")
        if action == "close":
            await self._close(int(message.get("code") or 4400))
        elif action == "refresh":
            await self._refresh()

    async def _close(self, code: int) -> None:
        await self.close(code=code)
        # Channels sends the close; the server then calls disconnect, which records it. Do it now
        # too, in case the client never answers the close.
        await self.disconnect(code)

    async def _refresh(self) -> None:
        """Ask the gate again (who sees which agent has changed); close if the caller may no
        longer stream. No other handler of this connection runs meanwhile (Channels dispatches
        one message at a time), so no event slips through on the old set."""
        stream = self.stream
        if stream is None:
            return
        try:
            refreshed = await database_sync_to_async(services.stream_refresh)(stream)
        except services.StreamRefused as refusal:
            logger.info("stream: closed on refresh %s (%s)", stream.tenant_id, refusal.code)
            await self._close(CLOSE_REMOVED)
            return
        except Exception:  # the database is away: the old set may be wrong, so end it here
            logger.warning("stream: could not refresh a connection's standing", exc_info=True)
            await self._close(1011)  # not a final code: the client reconnects and is asked anew
            return
        if self.stream is None:  # closed meanwhile
            return
        self.stream = refreshed
        self._rechecked.clear()

    async def _may_see(self, event: dict[str, Any]) -> bool:
        """May this connection's caller see the agent the event names (if it names one)?"""
        stream = self.stream
        if stream is None:
            return False
        data = event.get("data")
        if stream.visible_agents is None or not isinstance(data, dict) or "agent_id" not in data:
            return True
        if data["agent_id"] is None:
            return False  # a task of no agent: only for those who see every agent
        agent_id = str(data["agent_id"])
        if agent_id in stream.visible_agents:
            return True
        now = time.monotonic()
        cached = self._rechecked.get(agent_id)
        if cached is not None and (cached[0] or now - cached[1] < self.recheck_after_seconds):
            self._rechecked.move_to_end(agent_id)
            return cached[0]
        try:
            visible = await database_sync_to_async(services.agent_visible)(
                access=stream.access, agent_id=agent_id
            )
        except Exception:  # the database is away: withhold the event, ask again next time
            logger.warning("stream: could not check an agent's visibility", exc_info=True)
            return False
        self._rechecked[agent_id] = (visible, now)
        self._rechecked.move_to_end(agent_id)
        while len(self._rechecked) > self.recheck_cache_size:
            self._rechecked.popitem(last=False)
        return visible

    async def _beat(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while self.stream is not None:
                await asyncio.sleep(self.heartbeat_seconds)
                stream = self.stream
                if stream is None:
                    return
                ended = "its API key expired" if stream.key_expired() else ""
                if not ended:
                    try:
                        if not await database_sync_to_async(services.connection_touch)(
                            tenant_id=stream.tenant_id, connection_id=stream.connection_id
                        ):
                            ended = "its sign-in ended"
                    except Exception:  # the database is away: try again next beat
                        logger.warning("stream: could not record a heartbeat", exc_info=True)
                if ended:
                    # The API would refuse the caller now: so does the stream, within a beat.
                    logger.info("stream: closed, %s (%s)", ended, stream.tenant_id)
                    self._heartbeat = None  # this task: the close below must not cancel it
                    await self._close(CLOSE_REMOVED)
                    return
