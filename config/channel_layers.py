"""The live stream's channel layer (CHANNEL_LAYERS, config/settings.py): Redis when REDIS_URL is
set, else PostgreSQL's LISTEN/NOTIFY (core/channel_layer.py); the in-memory layer only inside a
test process (tests of the layers themselves make their own).

Imports nothing of Django's, so bench/stream_bench.py builds the same Redis layer.
"""

from __future__ import annotations

from typing import Any

# channels-redis reads a process's messages with a blocking BZPOPMIN of 5 s (its brpop_timeout),
# and redis-py 8 gives every connection a 5 s socket timeout by default: an idle subscriber's read
# then fails with "Timeout reading from ..." and the websocket's consumer dies (redis-py issue
# 4091). The read must be allowed longer than the block; still bounded, so that a connection to a
# Redis that went away fails instead of hanging.
REDIS_SOCKET_TIMEOUT = 15.0


def redis_layer_config(redis_url: str, **config: Any) -> dict[str, Any]:
    """channels-redis' CONFIG for `redis_url` (plus any of its own options, e.g. capacity)."""
    return {"hosts": [{"address": redis_url, "socket_timeout": REDIS_SOCKET_TIMEOUT}], **config}


def channel_layers(*, redis_url: str, testing: bool) -> dict[str, dict[str, Any]]:
    if testing:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    if redis_url:
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": redis_layer_config(redis_url),
            }
        }
    return {"default": {"BACKEND": "core.channel_layer.PostgresChannelLayer"}}
