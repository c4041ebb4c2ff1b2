"""N concurrent API requests against a running server, none may be reset (issue 12).

    make run                                  # in one terminal
    .venv/bin/python -m bench.concurrency     # in another: 100 clients, 3 rounds

Each round opens N connections at once, then sends one API request on every one of them at the
same moment and reads every answer. With a login in `.data/admin-login.txt` (what `make run`
generates) the request is `GET /api/v1/auth/me` with that admin's token, a request that goes
through authentication and the database; without one, `GET /api/v1/tenants/` unauthenticated
(a 401 from DRF). Exits 1 when a connection is refused, reset or left unanswered, or an answer
is not the expected status. Only loopback addresses are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import socket
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    status: int | None
    error: str | None
    seconds: float


def read_login(path: Path) -> tuple[str, str] | None:
    """The e-mail and password in bootstrap_admin's login file, if it is there."""
    if not path.exists():
        return None
    fields = dict(line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
    email, password = fields.get("e-mail", "").strip(), fields.get("password", "").strip()
    return (email, password) if email and password else None


def login(base_url: str, email: str, password: str) -> str:
    request = urllib.request.Request(  # noqa: S310  # a loopback URL, checked in main()
        f"{base_url}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # loopback
        body = json.loads(response.read())
    if "access" not in body:
        sys.exit(f"login did not return tokens (second factor required?): {sorted(body)}")
    return str(body["access"])


def api_request(host: str, port: int, path: str, token: str | None = None) -> bytes:
    """One HTTP/1.1 GET of `path`, with the bearer token if any, closing the connection after."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}"
        "Accept: application/json\r\nConnection: close\r\n\r\n"
    ).encode()


async def one(host: str, port: int, request: bytes, start: asyncio.Event, timeout: float) -> Outcome:
    began = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return Outcome(None, f"connect: {type(exc).__name__}", time.monotonic() - began)
    try:
        await start.wait()
        began = time.monotonic()
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)  # Connection: close: read to EOF
        if not raw:
            return Outcome(None, "closed without an answer", time.monotonic() - began)
        status = int(raw.split(b" ", 2)[1])
        return Outcome(status, None, time.monotonic() - began)
    except (OSError, TimeoutError, ValueError, IndexError) as exc:
        return Outcome(None, type(exc).__name__, time.monotonic() - began)
    finally:
        writer.close()


async def round_(host: str, port: int, request: bytes, clients: int, timeout: float) -> list[Outcome]:
    start = asyncio.Event()
    tasks = [asyncio.create_task(one(host, port, request, start, timeout)) for _ in range(clients)]
    await asyncio.sleep(0.5)  # every connection opened (or refused) before the first request
    start.set()
    return await asyncio.gather(*tasks)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for each answer")
    parser.add_argument(
        "--login-file",
        type=Path,
        default=Path(os.environ.get("QM_DATA_DIR", BASE_DIR / ".data")) / "admin-login.txt",
    )
    args = parser.parse_args(argv)
    address = ipaddress.ip_address(socket.gethostbyname(args.host))
    if not address.is_loopback:
        sys.exit(f"{args.host} is not a loopback address: this check only runs against this machine")
    host = str(address)
    base_url = f"http://{host}:{args.port}"

    credentials = read_login(args.login_file)
    if credentials:
        token: str | None = login(base_url, *credentials)
        path, expected = "/api/v1/auth/me", 200
        print(f"{args.clients} clients x {args.rounds} rounds: GET {path} as {credentials[0]}")
    else:
        token, path, expected = None, "/api/v1/tenants/", 401
        print(f"{args.clients} clients x {args.rounds} rounds: GET {path} (no login file: expecting 401)")
    request = api_request(host, args.port, path, token)

    failed = 0
    for number in range(1, args.rounds + 1):
        began = time.monotonic()
        outcomes = asyncio.run(round_(host, args.port, request, args.clients, args.timeout))
        wall = time.monotonic() - began - 0.5
        statuses = Counter(o.status for o in outcomes if o.status is not None)
        errors = Counter(o.error for o in outcomes if o.error is not None)
        bad = sum(n for status, n in statuses.items() if status != expected) + sum(errors.values())
        failed += bad
        slowest = max(o.seconds for o in outcomes)
        print(
            f"round {number}: {dict(statuses)} errors {dict(errors) or 'none'}; "
            f"all answered in {wall:.2f} s, slowest {slowest:.2f} s"
        )
    if failed:
        print(f"FAILED: {failed} requests were refused, reset, unanswered or not {expected}")
        return 1
    print(f"ok: {args.clients * args.rounds} requests, every one answered {expected}, none reset")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
