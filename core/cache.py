"""The Redis cache backend (CACHES' BACKEND "core.cache.RedisCache"): Django's, with one client
per connection pool instead of one per call.

Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` for every cache operation:
its constructor copies the ~220-entry table of response callbacks and reads its options each
time, which a profile of the API's charge showed as its largest single entry (the per-key rate
limit and the once-a-minute gates use the cache on every request). A `redis.Redis` is only a
front to its connection pool, thread-safe and meant to be shared, so this client keeps the one
it built for each pool and returns it again. Nothing else changes: the same pools, options,
serializer, keys and values, so a worker on Django's backend and one on this read each other's
entries. After a fork redis-py's pool notices the new process and opens its own connections.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    """Django's Redis client, keeping one `redis.Redis` per connection pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[Any, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django picks the pool (the primary to write, any server to read); its client is kept.
        django_client: Any = self  # its pools and client class are private, untyped in the stubs
        pool = django_client._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = django_client._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    """Django's RedisCache on the client above."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
