"""The time that services stamp on what they write: the real time, unless the caller has set the
clock for its own context.

Services ask `clock.now()` where they would ask `django.utils.timezone.now()`, and the base
model's `created_at` / `updated_at` (`core.models.ClockDateTimeField`) do too. In production
nothing sets the clock, and `now()` is exactly `timezone.now()`.

`as_of(moment)` sets it for the code inside a `with` block, and only there: the value lives in
a `contextvars.ContextVar`, so other threads, other requests, Celery's workers and the
`transaction.on_commit` callbacks that run after the block see the real time. Nothing global is
patched (unlike a time-machine library, which moves `time.time()` for the whole process: the
web server and the worker that `make run` starts beside the seed included). Its one caller is
the demo seed (`console.demo`), which builds a month of history through the same services and
the same code paths as production, each step at the moment it happened; a test keeps it so.

Things outside this project keep their own time: django-otp's TOTP codes, django-axes'
lockouts, JWT lifetimes, the cache's expiry. Under `as_of`, compare with `now()` only what a
service itself stamped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

# (the moment set, the real time it was set at)
_moment: ContextVar[tuple[datetime, datetime] | None] = ContextVar("qm_clock_moment", default=None)


def now() -> datetime:
    """The current time (aware UTC); under `as_of`, its moment plus the real time since."""
    real = timezone.now()
    held = _moment.get()
    return real if held is None else held[0] + (real - held[1])


def is_set() -> bool:
    """Whether `as_of` holds the clock in this context."""
    return _moment.get() is not None


@contextmanager
def as_of(moment: datetime) -> Iterator[datetime]:
    """Within the block, this context's clock starts at `moment` and runs on from there (so what
    is written in the block keeps its order); a nested block restores the outer clock on leaving."""
    if timezone.is_naive(moment):
        raise ValueError("clock.as_of needs an aware datetime")
    token = _moment.set((moment, timezone.now()))
    try:
        yield moment
    finally:
        _moment.reset(token)
