"""A small HTTP/1.1 load generator: N concurrent keep-alive clients on asyncio, raw sockets.

Deliberately lean (no HTTP library): on a two-core machine the generator shares the CPU with
the server and PostgreSQL, and every microsecond it spends is one the server does not get.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# A request: (method, path, headers, body) and how many events it carries (1, or a batch's size).
Request = tuple[str, str, dict[str, str], bytes, int]


@dataclass
class Outcome:
    seconds: float = 0.0
    requests: int = 0  # sent and answered inside the window: the rates
    events: int = 0
    # Answered (2xx/3xx) inside the window, whenever sent: the denominators of CPU per request,
    # read over the same window.
    completed: int = 0
    completed_events: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    per_port: Counter[int] = field(default_factory=Counter)  # requests per server port

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def event_rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 400)


def _encode(host: str, request: Request) -> bytes:
    method, path, headers, body, _events = request
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, close, chunked = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"connection":
            close = value.strip().lower() == b"close"
        elif key == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if not chunked:
        return status, close, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, close, body
        body += chunk[:-2]


async def _client(
    host: str, port: int, make: Callable[[], Request], start: float, stop: float, out: Outcome
) -> None:
    """One connection to `port`, reopened when the server closes it."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.monotonic() < stop:
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        assert reader is not None
        request = make()
        sent = time.monotonic()
        writer.write(_encode(f"{host}:{port}", request))
        try:
            status, close, _body = await _read(reader)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            writer.close()
            writer = None
            continue
        done = time.monotonic()
        if start <= done <= stop and status < 400:
            out.completed += 1
            out.completed_events += request[4]
        if sent >= start and done <= stop:
            out.requests += 1
            out.per_port[port] += 1
            out.statuses[status] += 1
            if status < 400:
                out.events += request[4]
            out.latencies.append(done - sent)
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def run(
    *,
    host: str,
    ports: list[int],
    clients: int,
    seconds: float,
    warmup: float,
    make: Callable[[], Request],
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> Outcome:
    """`clients` connections sending requests back to back for warmup + seconds; only requests
    sent and answered in the measured window count.

    Client i connects to `ports[i % len(ports)]`: with one server per worker, the connections
    are spread over the workers evenly and in the same way on every run (one server with
    several workers lets the kernel place them, and with keep-alive a worker can end up with
    most of them while others idle). `on_start` and `on_stop` run at the window's edges (CPU
    readings).
    """

    async def clock(start: float, stop: float) -> None:
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        if on_start is not None:
            on_start()
        await asyncio.sleep(max(0.0, stop - time.monotonic()))
        if on_stop is not None:
            on_stop()

    async def main() -> Outcome:
        out = Outcome()
        now = time.monotonic()
        start, stop = now + warmup, now + warmup + seconds
        await asyncio.gather(
            clock(start, stop),
            *(_client(host, ports[i % len(ports)], make, start, stop, out) for i in range(clients)),
        )
        out.seconds = seconds
        return out

    return asyncio.run(main())
