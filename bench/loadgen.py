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
    requests: int = 0
    events: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

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
        if sent >= start and done <= stop:
            out.requests += 1
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
    *, host: str, port: int, clients: int, seconds: float, warmup: float, make: Callable[[], Request]
) -> Outcome:
    """`clients` connections sending requests back to back for warmup + seconds; only requests
    sent and answered in the measured window count."""

    async def main() -> Outcome:
        out = Outcome()
        now = time.monotonic()
        start, stop = now + warmup, now + warmup + seconds
        await asyncio.gather(*(_client(host, port, make, start, stop, out) for _ in range(clients)))
        out.seconds = seconds
        return out

    return asyncio.run(main())
