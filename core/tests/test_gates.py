"""`core.gates.once_per`: at most once per interval per key, in a worker and across workers."""

from __future__ import annotations

import uuid

from core import gates


def test_once_per__same_key_twice__only_the_first_call_says_yes():
    key = f"test:{uuid.uuid4()}"

    assert gates.once_per(key, 60) is True
    assert gates.once_per(key, 60) is False
    assert gates.once_per(f"{key}:other", 60) is True


def test_once_per__another_worker__the_shared_cache_says_no():
    key = f"test:{uuid.uuid4()}"
    assert gates.once_per(key, 60) is True

    gates._last.pop(key)  # another worker: nothing remembered locally, the same cache

    assert gates.once_per(key, 60) is False


def test_once_per__interval_over__yes_again(monkeypatch):
    key = f"test:{uuid.uuid4()}"
    clock = [1000.0]
    monkeypatch.setattr(gates.time, "monotonic", lambda: clock[0])
    assert gates.once_per(key, 1) is True

    clock[0] += 2
    from django.core.cache import cache

    cache.delete(key)  # the cache entry expired with the interval

    assert gates.once_per(key, 1) is True
