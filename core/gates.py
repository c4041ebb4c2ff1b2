"""At most once per interval per key, across every worker, for writes on the request path.

Recording a key's last use or a user's last activity on every request would write a row per
request. `once_per` says yes at most once per interval per key: a process-local check first (no
round trip on most requests), then `cache.add` in the shared cache (Redis in production), so all
workers together write about once per interval.

Under a clock set by `core.clock.as_of` (the demo seed's history) the interval is one of that
clock's: the key is taken per interval of the set time, so a month of a runtime's reports, made
in seconds, records a last use in each of its minutes rather than only in the first.
"""

from __future__ import annotations

import time

from django.core.cache import cache

from core import clock

_MAX_REMEMBERED = 100_000  # a long-lived worker that has seen very many keys starts over
_last: dict[str, float] = {}


def once_per(key: str, seconds: int) -> bool:
    """True for the first call with `key` in `seconds` (in this process, then in the cache)."""
    if clock.is_set():
        key = f"{key}@{int(clock.now().timestamp()) // seconds}"
    now = time.monotonic()
    if now - _last.get(key, -seconds) < seconds:
        return False
    if len(_last) >= _MAX_REMEMBERED:
        _last.clear()
    _last[key] = now
    return bool(cache.add(key, 1, seconds))
