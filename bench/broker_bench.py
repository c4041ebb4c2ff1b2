"""Celery on the configured broker: how soon a queued task starts, and tasks a second (issue 12).

    .venv/bin/python -m core.devdb -- .venv/bin/python -m bench.broker_bench [--polling 0.1 1.0]

On the broker the settings choose (the PostgreSQL queue of config/broker.py unless REDIS_URL or
CELERY_BROKER_URL is set), for each polling interval asked for, it starts a Celery worker of its
own (concurrency 2, on a queue of its own, so a running `make run` is not disturbed), then

1. latency: queues one task at a time, 50 times, spaced out; each task writes when it started,
   and the figure is start minus enqueue (median, 95th percentile, worst), what a task queued
   by a request waits before it runs;
2. throughput: queues 1,000 empty tasks at once and times until the last has run (tasks/s),
   and how fast they were queued (enqueues/s, what a web process pays per task);
3. idle cost: the worker's CPU over 10 s with nothing queued, and that of the database server
   processes serving the broker's connections (their polling).

Nothing is kept: the queue is purged and the probe files removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
QUEUE = "qm-bench-broker"


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _start_worker(polling: float, env: dict[str, str]) -> subprocess.Popen[bytes]:
    celery = str(Path(sys.executable).parent / "celery")
    worker_env = {**env, "CELERY_POLLING_INTERVAL": str(polling)}
    command = [
        celery, "--app", "config", "worker", "--include", "bench.broker_tasks", "--queues", QUEUE,
        "--concurrency", "2", "--loglevel", "WARNING",
        "--without-mingle", "--without-gossip", "--without-heartbeat",
        "--hostname", f"bench-{os.getpid()}@%h",
    ]  # fmt: skip
    return subprocess.Popen(command, env=worker_env, cwd=BASE_DIR)  # our own command


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_for(path: Path, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_lines(path)) >= count:
            return time.monotonic()
        time.sleep(0.005)
    raise SystemExit(f"only {len(_lines(path))} of {count} tasks ran within {timeout:.0f} s")


def _broker_backends() -> list[psutil.Process]:
    """The database server processes serving the broker's connections (application_name
    quartermaster-broker, this database): the queue's own cost, not the other databases' on a
    shared server. Empty when the broker is not the PostgreSQL queue, or the server is remote."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = 'quartermaster-broker' AND datname = current_database()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    backends = []
    for pid in pids:
        try:
            backends.append(psutil.Process(pid))
        except psutil.Error:
            continue
    return backends


def _cpu(process: psutil.Process) -> float:
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _own_cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def measure(polling: float, workdir: Path) -> dict[str, float]:
    from bench.broker_tasks import probe

    env = dict(os.environ)
    worker = _start_worker(polling, env)
    try:
        warm = workdir / f"warm-{polling}"
        probe.apply_async(args=(time.time(), str(warm)), queue=QUEUE)
        _wait_for(warm, 1, 60)  # the worker is up and consuming

        latency_file = workdir / f"latency-{polling}"
        for _ in range(50):
            count = len(_lines(latency_file))
            probe.apply_async(args=(time.time(), str(latency_file)), queue=QUEUE)
            _wait_for(latency_file, count + 1, 30)
            time.sleep(0.137)  # off the polling rhythm
        waits = sorted(float(line) for line in _lines(latency_file))

        burst_file = workdir / f"burst-{polling}"
        began = time.monotonic()
        for _ in range(1000):
            probe.apply_async(args=(0.0, str(burst_file)), queue=QUEUE)
        queued = time.monotonic()
        done = _wait_for(burst_file, 1000, 300)

        backends = _broker_backends()
        worker_proc = psutil.Process(worker.pid)
        cpu_before = (_cpu(worker_proc), sum(_own_cpu(b) for b in backends))
        time.sleep(10)
        cpu_after = (_cpu(worker_proc), sum(_own_cpu(b) for b in backends))
    finally:
        worker.terminate()
        worker.wait(30)
    return {
        "latency_median_ms": statistics.median(waits) * 1000,
        "latency_p95_ms": waits[int(len(waits) * 0.95) - 1] * 1000,
        "latency_max_ms": waits[-1] * 1000,
        "enqueue_per_s": 1000 / (queued - began),
        "tasks_per_s": 1000 / (done - began),
        "idle_worker_cpu_pct": (cpu_after[0] - cpu_before[0]) / 10 * 100,
        "idle_db_cpu_pct": (cpu_after[1] - cpu_before[1]) / 10 * 100,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--polling", type=float, nargs="+", default=[0.1, 1.0])
    args = parser.parse_args(argv)
    _setup()
    from django.conf import settings

    from config.celery import app

    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    print(f"broker: {broker}://...  (CPU: {os.cpu_count()} cores)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="qm-broker-bench-") as workdir:
        for polling in args.polling:
            print(f"polling interval {polling} s ...", flush=True)
            rows.append((polling, measure(polling, Path(workdir))))
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        channel.queue_purge(QUEUE)

    header = (
        "polling s | wait median ms | p95 ms | max ms | enqueues/s | tasks/s"
        " | idle worker CPU % | idle DB CPU %"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for polling, r in rows:
        print(
            f"{polling:9.2f} | {r['latency_median_ms']:14.1f} | {r['latency_p95_ms']:6.1f} | "
            f"{r['latency_max_ms']:6.1f} | {r['enqueue_per_s']:10.0f} | {r['tasks_per_s']:7.0f} | "
            f"{r['idle_worker_cpu_pct']:17.2f} | {r['idle_db_cpu_pct']:13.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
