"""The Redis channel layer as config/channel_layers.py builds it, against the real Redis of
REDIS_URL: an idle subscriber's receive keeps waiting past channels-redis' 5 s blocking read
(with redis-py 8's default 5 s socket timeout it failed with "Timeout reading from ..."), and a
group message crosses from one layer instance to another."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels_redis.core import RedisChannelLayer

from config.channel_layers import REDIS_SOCKET_TIMEOUT, channel_layers, redis_layer_config

pytestmark = pytest.mark.redis


def test_channel_layers__redis_url__redis_layer_with_a_read_timeout_longer_than_its_block() -> None:
    layers = channel_layers(redis_url="redis://127.0.0.1:6379/0", testing=False)
    assert layers["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert layers["default"]["CONFIG"]["hosts"] == [
        {"address": "redis://127.0.0.1:6379/0", "socket_timeout": REDIS_SOCKET_TIMEOUT}
    ]
    assert RedisChannelLayer.brpop_timeout < REDIS_SOCKET_TIMEOUT
    assert channel_layers(redis_url="", testing=False)["default"]["BACKEND"] == (
        "core.channel_layer.PostgresChannelLayer"
    )


@pytest.mark.slow
def test_redis_layer__idle_past_the_blocking_read__still_receives(redis_url: str) -> None:
    prefix = f"qmtest{uuid.uuid4().hex[:8]}"

    async def scenario() -> dict[str, object]:
        subscriber = RedisChannelLayer(**redis_layer_config(redis_url, prefix=prefix))
        publisher = RedisChannelLayer(**redis_layer_config(redis_url, prefix=prefix))
        channel = await subscriber.new_channel()
        await subscriber.group_add("tenant.idle", channel)
        waiting = asyncio.ensure_future(subscriber.receive(channel))
        # Longer than one blocking read (5 s): the receive loop must go round, not fail.
        await asyncio.sleep(RedisChannelLayer.brpop_timeout + 1.5)
        assert not waiting.done(), waiting.exception() if waiting.done() else None
        await publisher.group_send("tenant.idle", {"type": "stream.event", "n": 1})
        message = await asyncio.wait_for(waiting, 5)
        await publisher.flush()
        await subscriber.close_pools()
        return message

    # In a thread of its own: an earlier browser test may leave Playwright's loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        assert thread.submit(asyncio.run, scenario()).result()["n"] == 1
