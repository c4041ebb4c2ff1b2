"""The API's rate limits. Each keys on `core.context.client_ip` where it keys on an address.

DRF's own throttles take the address from `X-Forwarded-For` whenever `NUM_PROXIES` is unset,
which any client can write; these take it from the one function every other consumer uses.

- `AnonRateThrottle` (`anon`): anonymous callers, per client IP.
- `UserRateThrottle` (`user`): people, per user. API keys pass: each has its own per-key limit
  (accounts.api_key_auth), and the per-user rate would cap every key of one creator together.
  Platform admins pass too (DOMAIN.md: they bypass rate limits), and each time they would have
  been throttled a log line records it.
- `AuthRateThrottle` (`auth`): login, sign-up, password reset, refresh and invite acceptance,
  per client IP whoever the caller claims to be. Platform admins do not pass this one.
- `ApiKeyRateThrottle`: each API key's own `rate_limit_per_minute`, applied by the key's
  authentication (accounts.api_key_auth) on every route a key reaches.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

import structlog
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling

from core.context import client_ip

logger = structlog.get_logger(__name__)


class ClientIpMixin:
    def get_ident(self, request: Any) -> str:
        return client_ip(request) or "unknown"


class AnonRateThrottle(ClientIpMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientIpMixin, throttling.UserRateThrottle):
    def allow_request(self, request: Any, view: Any) -> bool:
        if getattr(request.auth, "is_api_key", False):
            return True
        if super().allow_request(request, view):
            return True
        user = request.user
        if getattr(user, "is_platform_admin", False):
            logger.info("throttle_bypassed", scope=self.scope, rate=self.rate, user_id=str(user.pk))
            return True
        return False


class AuthRateThrottle(ClientIpMixin, throttling.SimpleRateThrottle):
    scope = "auth"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class RateLimitedKey(Protocol):
    """What the per-key throttle reads of an API key (accounts.models.ApiKey)."""

    @property
    def pk(self) -> Any: ...

    @property
    def rate_limit_per_minute(self) -> int: ...


class ApiKeyRateThrottle(throttling.BaseThrottle):
    """An API key's own limit, `rate_limit_per_minute`: a fixed window per key and minute,
    counted in the shared cache (Redis in production), so every worker adds to one count.

    `accounts.api_key_auth.ApiKeyAuthentication` applies it (`allow_key`) as soon as the key is
    known, before the tenant gate: the limit holds on every route a key reaches whatever the
    view's `throttle_classes` say (the auth views name their own; the tests turn the default
    ones off), and a request the gate then refuses counts too. So it is in no `throttle_classes` list: there
    the request would be counted twice. As a DRF throttle (`allow_request`) it counts the
    request's key and lets every other caller pass.
    """

    window_seconds = 60
    # The counter outlives its window, so a late increment never starts the count again at 1.
    counter_timeout = 90

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        api_key = request.auth if getattr(request.auth, "is_api_key", False) else None
        return api_key is None or self.allow_key(api_key)

    def allow_key(self, api_key: RateLimitedKey) -> bool:
        """Count one request of `api_key` in this minute's window; whether it is within the limit."""
        now = time.time()
        window = int(now // self.window_seconds)
        count = window_count(f"qm:rl:apikey:{api_key.pk}:{window}", timeout=self.counter_timeout)
        if count <= api_key.rate_limit_per_minute:
            return True
        self._wait = max(1, math.ceil(self.window_seconds - now % self.window_seconds))
        return False

    def wait(self) -> int | None:
        """Seconds until the window ends (the Retry-After of the 429), after a refusal."""
        return self._wait


def window_count(name: str, *, timeout: int) -> int:
    """Add one to the counter `name` of the default cache and return it; a new counter starts
    at 1 and expires after `timeout` seconds. One round trip to Redis."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        return _redis_incr_with_expiry(backend, name, timeout=timeout)
    backend.add(name, 0, timeout)
    try:
        return backend.incr(name)
    except ValueError:  # evicted between add and incr: this request opens the window again
        backend.add(name, 1, timeout)
        return 1


def _redis_incr_with_expiry(backend: RedisCache, name: str, *, timeout: int) -> int:
    """INCR, and EXPIRE NX (an expiry only for a counter that has none), pipelined: one round trip.

    Django's public cache API cannot do this in one: `incr()` is EXISTS then INCR (two round
    trips, and it raises for a missing counter), `add()` and `incr()` make three, and neither
    sets an expiry on a counter INCR creates. So this function, and only this one, reaches the
    redis-py client behind Django's RedisCache (`_cache.get_client`, private in Django 4.0 to
    5.2). The key is made by the public `make_and_validate_key`, so it is the one `cache.get()`
    and `cache.incr()` of any worker read, and the value an integer they decode as such.
    """
    key = backend.make_and_validate_key(name)
    pipe = backend._cache.get_client(key, write=True).pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, timeout, nx=True)
    return int(pipe.execute()[0])
