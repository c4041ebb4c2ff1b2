"""The PostgreSQL channel layer (core/channel_layer.py): two layer instances, each on its own event
loop with its own connections (as two processes would be), exchange messages through PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from core.channel_layer import CHUNK, PostgresChannelLayer, _Assembler, encode

pytestmark = pytest.mark.django_db(transaction=True)


class LoopThread:
    """An event loop in a thread of its own: a stand-in for another process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def two() -> Iterator[tuple[Any, Any]]:
    made = []

    def make() -> tuple[PostgresChannelLayer, LoopThread]:
        layer, loop = PostgresChannelLayer(prefix="t"), LoopThread()
        made.append((layer, loop))
        return layer, loop

    yield make(), make()
    for layer, loop in made:
        loop.run(layer.flush())
        loop.stop()


async def receive(layer: PostgresChannelLayer, channel: str, timeout: float = 5) -> dict[str, Any]:
    return await asyncio.wait_for(layer.receive(channel), timeout)


def test_layer__group_send_from_another_instance__each_member_receives_once(two):
    (a, loop_a), (b, loop_b) = two
    first = loop_a.run(a.new_channel())
    second = loop_a.run(a.new_channel())
    outsider = loop_a.run(a.new_channel())
    loop_a.run(a.group_add("tenant.1", first))
    loop_a.run(a.group_add("tenant.1", second))
    loop_a.run(a.group_add("tenant.2", outsider))

    loop_b.run(b.group_send("tenant.1", {"type": "stream.event", "n": 1}))

    assert loop_a.run(receive(a, first)) == {"type": "stream.event", "n": 1}
    assert loop_a.run(receive(a, second)) == {"type": "stream.event", "n": 1}
    with pytest.raises(TimeoutError):
        loop_a.run(receive(a, outsider, timeout=0.5))


def test_layer__send_to_a_channel_of_another_instance__delivered(two):
    (a, loop_a), (b, loop_b) = two
    channel = loop_a.run(a.new_channel())
    loop_b.run(b.send(channel, {"type": "hello"}))
    assert loop_a.run(receive(a, channel)) == {"type": "hello"}


def test_layer__group_add_of_a_remote_channel__its_owner_joins_it(two):
    (a, loop_a), (b, loop_b) = two
    channel = loop_a.run(a.new_channel())
    loop_b.run(b.group_add("g", channel))
    loop_b.run(b.group_send("g", {"type": "x"}))
    assert loop_a.run(receive(a, channel)) == {"type": "x"}
    loop_b.run(b.group_discard("g", channel))
    loop_b.run(b.group_send("g", {"type": "y"}))
    with pytest.raises(TimeoutError):
        loop_a.run(receive(a, channel, timeout=0.5))


def test_layer__a_message_larger_than_notify_allows__arrives_whole(two):
    (a, loop_a), (b, loop_b) = two
    channel = loop_a.run(a.new_channel())
    loop_a.run(a.group_add("big", channel))
    text = "é" * 40_000  # ~80 kB of UTF-8: a dozen NOTIFY chunks
    loop_b.run(b.group_send("big", {"type": "x", "text": text}))
    assert loop_a.run(receive(a, channel))["text"] == text


def test_layer__notify_in_transaction__delivered_on_commit_only(two):
    (a, loop_a), (b, _) = two
    channel = loop_a.run(a.new_channel())
    loop_a.run(a.group_add("tx", channel))
    with transaction.atomic():
        b.notify_in_transaction("tx", {"type": "kept"})
    try:
        with transaction.atomic():
            b.notify_in_transaction("tx", {"type": "rolled-back"})
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with transaction.atomic():
        b.notify_in_transaction("tx", {"type": "after"})
    assert loop_a.run(receive(a, channel)) == {"type": "kept"}
    assert loop_a.run(receive(a, channel)) == {"type": "after"}


def test_layer__notify_in_transaction_of_many__one_statement_each_delivered_in_order(two):
    """core.stream.publish_many: a batch's events cost one round trip, not one each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    (a, loop_a), (b, _) = two
    channel = loop_a.run(a.new_channel())
    loop_a.run(a.group_add("batch", channel))
    big = "x" * 20_000  # chunked: several payloads of its own inside the same statement
    messages = [{"type": "n", "n": n} for n in range(5)] + [{"type": "big", "text": big}]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        b.notify_in_transaction("batch", *messages)
    assert [q["sql"].count("pg_notify") > 0 for q in queries.captured_queries] == [True]
    assert [loop_a.run(receive(a, channel)) for _ in messages] == messages


def test_assembler__chunks_out_of_order_and_interleaved__reassembled():
    first, second = encode("g", "a", {"t": "1" * (CHUNK * 2)}), encode("g", "b", {"t": "2"})
    assembler = _Assembler()
    assert len(first) == 3
    assert assembler.add(first[2]) is None
    assert assembler.add(second[0]) == ("g", "b", {"t": "2"})
    assert assembler.add(first[0]) is None
    assert assembler.add(first[1]) == ("g", "a", {"t": "1" * (CHUNK * 2)})
    assert assembler.add("garbage") is None
    assert assembler.partial == {}
