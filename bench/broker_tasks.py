"""The task bench/broker_bench.py queues (its worker imports this module; the app does not)."""

from __future__ import annotations

import fcntl
import time

from celery import shared_task


@shared_task(name="bench.broker_probe")
def probe(sent_at: float, path: str) -> None:
    """Append how long the task waited in the queue (0 when sent_at is 0) to `path`."""
    waited = time.time() - sent_at if sent_at else 0.0
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two pool processes append to one file
        handle.write(f"{waited:.6f}\n")
