"""A Channels layer on PostgreSQL's LISTEN/NOTIFY: live events reach every process without Redis.

`CHANNEL_LAYERS` picks it when `REDIS_URL` is unset (config/settings.py); with Redis,
channels-redis. Why our own (docs/architecture.md, "The live stream"): the PyPI
`channels-postgres` (1.1.4) writes one table row and one NOTIFY per subscriber for every group
message, holds a session advisory lock per channel on pooled connections, and on start-up takes
(deletes) every queued message of every process; authentik's fork fixes the last two but still
writes a row per subscriber. A websocket stream fans one event out to hundreds of subscribers, so
here a group message is ONE notification, whatever the number of subscribers:

- Every process keeps its own channels (those `new_channel` made for its consumers) and their
  group memberships in memory, and LISTENs on one PostgreSQL channel (`qm_layer_<prefix>`) on
  one connection per event loop.
- `group_send` NOTIFYs `(group, message)`; each process hands it to its own channels in that
  group. `send` to a channel NOTIFYs `(channel, message)`; only the process that owns it
  delivers. `group_add`/`group_discard` of a channel another process owns are NOTIFYed too.
- A payload larger than NOTIFY's 8,000 bytes is cut into numbered chunks sent in one
  transaction (delivered together, in order) and put back together by the listener: no table,
  nothing to expire or clean.
- From a synchronous web request (core.stream.publish), `notify_in_transaction` sends the
  notification on Django's own connection inside the request's transaction: PostgreSQL
  delivers it on COMMIT and drops it on ROLLBACK, with no extra connection or round trip of
  its own.

Like channels-redis' group messages it is at-most-once: a process that is not listening (down,
reconnecting) misses what is sent meanwhile; a full channel (capacity) drops the message.
NOTIFY is per database: processes on the same database (and prefix) see each other.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import msgpack  # type: ignore[import-untyped]  # ships no type information
import psycopg
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

logger = logging.getLogger(__name__)

# NOTIFY's payload limit is 8,000 bytes; a chunk's header ("<id>:<n>:<of>:") takes < 50.
CHUNK = 7_900
_KIND_GROUP, _KIND_CHANNEL, _KIND_ADD, _KIND_DISCARD = "g", "c", "a", "d"


def conninfo_for(alias: str = DEFAULT_DB_ALIAS) -> str:
    """A libpq connection string for Django's database `alias` (the same role and options)."""
    params = dict(connections[alias].get_connection_params())
    for name in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(name, None)
    params["application_name"] = "quartermaster-channels"
    return psycopg.conninfo.make_conninfo("", **params)


def encode(kind: str, target: str, message: dict[str, Any] | str) -> list[str]:
    """The NOTIFY payloads of one layer message: `<id>:<n>:<of>:<base64 chunk>`."""
    body = base64.b64encode(msgpack.packb([kind, target, message], use_bin_type=True)).decode()
    pieces = [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)] or [""]
    message_id = uuid.uuid4().hex[:12]
    return [f"{message_id}:{n}:{len(pieces)}:{piece}" for n, piece in enumerate(pieces)]


@dataclass
class _Assembler:
    """Puts chunked payloads back together; incomplete ones are forgotten after `limit` others."""

    limit: int = 256
    partial: dict[str, list[str | None]] = field(default_factory=dict)

    def add(self, payload: str) -> tuple[str, str, Any] | None:
        try:
            message_id, n_text, of_text, piece = payload.split(":", 3)
            n, of = int(n_text), int(of_text)
        except ValueError:
            return None
        if of == 1:
            body = piece
        else:
            parts = self.partial.setdefault(message_id, [None] * of)
            if n >= len(parts):
                return None
            parts[n] = piece
            if any(p is None for p in parts):
                while len(self.partial) > self.limit:
                    self.partial.pop(next(iter(self.partial)))
                return None
            del self.partial[message_id]
            body = "".join(p or "" for p in parts)
        try:
            kind, target, message = msgpack.unpackb(base64.b64decode(body), raw=False)
        except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
            return None
        return kind, target, message


class _LoopState:
    """One event loop's listener connection, sending connection and local channels."""

    def __init__(self, layer: PostgresChannelLayer) -> None:
        self.layer = layer
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.groups: defaultdict[str, set[str]] = defaultdict(set)
        self.listening = asyncio.Event()
        self.listener: asyncio.Task[None] | None = None
        self.sender: psycopg.AsyncConnection[Any] | None = None
        self.send_lock = asyncio.Lock()
        self.assembler = _Assembler()

    # --- receiving ---

    async def ensure_listening(self) -> None:
        if self.listener is None or self.listener.done():
            self.listening.clear()
            self.listener = asyncio.ensure_future(self._listen())
        await self.listening.wait()

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.layer.conninfo(), autocommit=True
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.layer.notify_channel)))
                    self.listening.set()
                    async for notify in conn.notifies():
                        self._dispatch(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # a lost connection: messages sent meanwhile are missed
                self.listening.clear()
                logger.warning("channel layer: listener connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(1)

    def _dispatch(self, payload: str) -> None:
        decoded = self.assembler.add(payload)
        if decoded is None:
            return
        kind, target, message = decoded
        if kind == _KIND_GROUP:
            for channel in list(self.groups.get(target, ())):
                self.deliver(channel, message)
        elif kind == _KIND_CHANNEL:
            self.deliver(target, message)
        elif kind == _KIND_ADD and message in self.queues:
            self.groups[target].add(message)
        elif kind == _KIND_DISCARD:
            self.discard(target, message)

    def deliver(self, channel: str, message: dict[str, Any]) -> None:
        queue = self.queues.get(channel)
        if queue is None:
            return
        try:
            queue.put_nowait(message)
        except asyncio.QueueFull:
            logger.warning("channel layer: %s is full; a message was dropped", channel)

    def discard(self, group: str, channel: str) -> None:
        members = self.groups.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.groups[group]

    def forget(self, channel: str) -> None:
        self.queues.pop(channel, None)
        for group in [g for g, members in self.groups.items() if channel in members]:
            self.discard(group, channel)

    # --- sending ---

    async def notify(self, payloads: list[str]) -> None:
        async with self.send_lock:
            for attempt in (1, 2):
                if self.sender is None or self.sender.closed:
                    self.sender = await psycopg.AsyncConnection.connect(
                        self.layer.conninfo(), autocommit=True
                    )
                try:
                    await self.sender.execute(*_notify_statement(self.layer.notify_channel, payloads))
                    return
                except psycopg.OperationalError:
                    await self.sender.close()
                    self.sender = None
                    if attempt == 2:
                        raise

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.listener
            self.listener = None
        if self.sender is not None:
            await self.sender.close()
            self.sender = None


def _notify_statement(channel: str, payloads: list[str]) -> tuple[str, list[str]]:
    # All chunks in one statement: one transaction, so PostgreSQL delivers them together.
    calls = ", ".join(["pg_notify(%s, %s)"] * len(payloads))
    return f"SELECT {calls}", [x for payload in payloads for x in (channel, payload)]


class PostgresChannelLayer(BaseChannelLayer):
    """The Channels layer API (send, receive, new_channel, groups, flush) over LISTEN/NOTIFY.

    State is kept per event loop (a process's ASGI server runs one; `async_to_sync` in a
    synchronous thread makes its own), each with its own connections.
    """

    extensions = ["groups", "flush"]

    def __init__(
        self,
        prefix: str = "qm",
        expiry: int = 60,
        group_expiry: int = 86400,
        capacity: int = 100,
        channel_capacity: Any = None,
        using: str = DEFAULT_DB_ALIAS,
        conninfo: str = "",
    ) -> None:
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        self.prefix = prefix
        self.group_expiry = group_expiry
        self.using = using
        self._conninfo = conninfo
        self.client_prefix = uuid.uuid4().hex[:8]
        self.notify_channel = f"qm_layer_{prefix}"
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    def conninfo(self) -> str:
        if not self._conninfo:
            self._conninfo = conninfo_for(self.using)
        return self._conninfo

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _LoopState(self)
        return state

    # --- channels ---

    async def new_channel(self, prefix: str = "specific") -> str:
        """A channel of this process; listening has begun when it is returned."""
        state = self._state()
        channel = f"{self.prefix}.{prefix}.{self.client_prefix}!{uuid.uuid4().hex}"
        state.queues[channel] = asyncio.Queue(self.get_capacity(channel))
        await state.ensure_listening()
        return channel

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        state = self._state()
        queue = state.queues.get(channel)
        if queue is not None:  # ours: no round trip
            if queue.full():
                raise ChannelFull(channel)
            queue.put_nowait(message)
            return
        await state.notify(encode(_KIND_CHANNEL, channel, message))

    async def receive(self, channel: str) -> dict[str, Any]:
        self.require_valid_channel_name(channel)
        state = self._state()
        queue = state.queues.get(channel)
        if queue is None:
            queue = state.queues[channel] = asyncio.Queue(self.get_capacity(channel))
        await state.ensure_listening()
        try:
            return await queue.get()
        except asyncio.CancelledError:
            # The consumer is gone (Channels cancels its receive): forget its channel and groups.
            state.forget(channel)
            raise

    # --- groups ---

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        state = self._state()
        if channel in state.queues:
            state.groups[group].add(channel)
        else:
            await state.notify(encode(_KIND_ADD, group, channel))  # its process adds it

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        state = self._state()
        if channel in state.queues:
            state.discard(group, channel)
        else:
            await state.notify(encode(_KIND_DISCARD, group, channel))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        await self._state().notify(encode(_KIND_GROUP, group, message))

    def notify_in_transaction(self, group: str, *messages: dict[str, Any]) -> None:
        """group_send of each message, in order, on Django's connection, in one statement:
        delivered when the current transaction commits (at once outside one), dropped if it
        rolls back."""
        self.require_valid_group_name(group)
        payloads = [payload for message in messages for payload in encode(_KIND_GROUP, group, message)]
        statement, params = _notify_statement(self.notify_channel, payloads)
        with connections[self.using].cursor() as cursor:
            cursor.execute(statement, params)

    # --- flush ---

    async def flush(self) -> None:
        """Forget this loop's channels and groups, and close its connections."""
        loop = asyncio.get_running_loop()
        state = self._states.pop(loop, None)
        if state is not None:
            await state.close()

    async def close(self) -> None:
        await self.flush()
