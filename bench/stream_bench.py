"""Live-stream fan-out: events a second delivered to 200 subscribers of one tenant (issue 13).

    make bench-stream BENCH_ARGS='--subscribers 200 --events 500'

Two processes, as in production: a publisher (a web worker's `core.stream.publish`) and a
subscriber process (uvicorn) holding `--subscribers` channels in one tenant group, each read by a
task of its own as a websocket consumer's is. For each layer (PostgreSQL LISTEN/NOTIFY from
core/channel_layer.py, on DATABASE_URL; Redis, channels-redis, when REDIS_URL is set) the
publisher sends `--events` events as fast as it can, and the subscriber times from the first
delivery to the last: events/s (each reaching every subscriber) and deliveries/s. It measures
the layer's fan-out; the websocket frames themselves (one JSON text send per delivery, done by
uvicorn) are not included. Nothing is written to any table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import time
from typing import Any

GROUP = "tenant.bench"


def make_layer(kind: str) -> Any:
    if kind == "postgresql":
        from core.channel_layer import PostgresChannelLayer

        return PostgresChannelLayer(prefix="bench", conninfo=os.environ["DATABASE_URL"], capacity=10_000)
    from channels_redis.core import RedisChannelLayer

    from config.channel_layers import redis_layer_config

    return RedisChannelLayer(**redis_layer_config(os.environ["REDIS_URL"], prefix="bench", capacity=10_000))


def subscriber(kind: str, subscribers: int, events: int, ready: Any, result: Any) -> None:
    async def main() -> None:
        layer = make_layer(kind)
        channels = [await layer.new_channel() for _ in range(subscribers)]
        for channel in channels:
            await layer.group_add(GROUP, channel)
        firsts: list[float] = []
        lasts: list[float] = []

        async def consume(channel: str) -> None:
            for n in range(events):
                await layer.receive(channel)
                if n == 0:
                    firsts.append(time.perf_counter())
            lasts.append(time.perf_counter())

        tasks = [asyncio.ensure_future(consume(c)) for c in channels]
        await asyncio.sleep(0.5)  # the listener (PostgreSQL) or the receive loops (Redis) are up
        ready.send(True)
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=300)
            result.send((min(firsts), max(lasts)))
        except Exception as exc:  # noqa: BLE001  # the figure is then missing, with the reason
            result.send(repr(exc))
        with contextlib.suppress(Exception):
            await layer.flush()

    asyncio.run(main())


def run(kind: str, subscribers: int, events: int) -> dict[str, Any]:
    # A fresh interpreter for each subscriber process: a fork would inherit the previous layer's
    # connections and event-loop state (the Redis run after the PostgreSQL one failed that way).
    spawn = multiprocessing.get_context("spawn")
    ready_r, ready_w = spawn.Pipe(duplex=False)
    result_r, result_w = spawn.Pipe(duplex=False)
    process = spawn.Process(target=subscriber, args=(kind, subscribers, events, ready_w, result_w))
    process.start()
    ready_r.recv()

    async def publish() -> float:
        layer = make_layer(kind)
        started = time.perf_counter()
        for n in range(events):
            await layer.group_send(
                GROUP, {"type": "stream.event", "event": {"type": "bench", "data": {"n": n}}}
            )
        elapsed = time.perf_counter() - started
        # Close, not flush: channels-redis' flush deletes every key of the prefix, the messages
        # still on their way to the subscriber included.
        await (layer.close_pools() if kind == "redis" else layer.close())
        return elapsed

    send_seconds = asyncio.run(publish())
    times = result_r.recv()
    process.join(30)
    if not isinstance(times, tuple):
        return {"layer": kind, "error": f"not every event reached every subscriber: {times}"}
    seconds = times[1] - times[0]
    return {
        "layer": kind,
        "events_per_s": events / seconds,
        "deliveries_per_s": events * subscribers / seconds,
        "publish_per_s": events / send_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()
    kinds = ["postgresql"] + (["redis"] if os.environ.get("REDIS_URL") else [])
    print(
        f"{args.events} events to {args.subscribers} subscribers of one group, publisher in another process"
    )
    print(f"{'layer':<12} {'events/s':>10} {'deliveries/s':>14} {'publishes/s':>12}")
    for kind in kinds:
        row = run(kind, args.subscribers, args.events)
        if "error" in row:
            print(f"{kind:<12} {row['error']}")
            continue
        figures = (row["events_per_s"], row["deliveries_per_s"], row["publish_per_s"])
        print(f"{kind:<12} {figures[0]:>10,.0f} {figures[1]:>14,.0f} {figures[2]:>12,.0f}")
    if "redis" not in kinds:
        print("(Redis: set REDIS_URL to measure channels-redis beside it.)")


if __name__ == "__main__":
    main()
