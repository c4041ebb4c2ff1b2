"""core.cache.RedisCache: Django's Redis cache with one client per connection pool, against the
real Redis of REDIS_URL (skipped, with the reason, without one)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from core.cache import RedisCache
from core.throttling import window_count


@pytest.fixture
def prefix() -> str:
    return f"qm-test-{uuid.uuid4().hex}"


@pytest.fixture
def backend(redis_url: str, prefix: str) -> Iterator[RedisCache]:
    cache = RedisCache(redis_url, {"KEY_PREFIX": prefix})
    yield cache
    client = cache._cache.get_client()  # this test's keys go
    for key in client.keys(f"{prefix}:*"):
        client.delete(key)


@pytest.mark.redis
def test_redis_cache__every_call__one_client_reused(backend):
    client: Any = backend._cache

    first = client.get_client("a", write=True)

    assert client.get_client("b", write=True) is first
    assert client.get_client("c") is first  # one server: reads and writes share its pool
    assert first.connection_pool is client._get_connection_pool(True)


@pytest.mark.redis
def test_redis_cache__values__read_by_djangos_backend_and_back(backend, redis_url, prefix):
    django_side = DjangoRedisCache(redis_url, {"KEY_PREFIX": prefix})

    backend.set("ours", {"n": 1}, 60)
    django_side.set("theirs", 7, 60)

    assert django_side.get("ours") == {"n": 1}
    assert backend.get("theirs") == 7
    assert backend.incr("theirs") == 8
    assert backend.add("ours", "other", 60) is False
    assert backend.get_many(["ours", "theirs"]) == {"ours": {"n": 1}, "theirs": 8}


@pytest.mark.redis
def test_redis_cache__window_count__counts_with_one_reused_client(backend, settings, redis_url, prefix):
    settings.CACHES = {
        "default": {"BACKEND": "core.cache.RedisCache", "LOCATION": redis_url, "KEY_PREFIX": prefix}
    }

    counts = [window_count("qm:rl:cache-test", timeout=90) for _ in range(3)]

    assert counts == [1, 2, 3]
    assert backend.get("qm:rl:cache-test") == 3
    raw = backend._cache.get_client()  # the TTL, for the test
    assert 0 < raw.ttl(backend.make_and_validate_key("qm:rl:cache-test")) <= 90
