"""Profile one kind of request in-process, one at a time, as a gunicorn worker serves it.

    python -m core.devdb -- python -m bench.profile_charge [--database quartermaster_bench]
        [--requests 2000] [--what charge|batch|tenant-noop|bare] [--sort tottime] [--top 35]

Against a seeded bench database (`make bench-billing BENCH_ARGS="--keep"` leaves one, with its
keys in `.data/bench-keys-<database>.json`). The project's WSGI application (bench.settings,
DEBUG off, persistent connection, Redis when REDIS_URL is set) is called directly, with the
request a load generator would send: no sockets, no gunicorn, so what is printed is what a
worker's Python spends per request, and the top of the cProfile table is where it goes. The
first requests (warm-up, not measured) open the connection, prepare the statements and write
each key's last use.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.billing_bench import (
    BASE_DIR,
    bare_request,
    batch_request,
    bench_url,
    charge_request,
    noop_request,
    server_env,
)

Call = Callable[[], None]


def _environ(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8765",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": headers.pop("Content-Type", ""),
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def _caller(application: Any, make: Callable[[], tuple[str, str, bytes, dict[str, str]]]) -> Call:
    statuses: dict[str, int] = {}

    def start_response(status: str, headers: Iterable[tuple[str, str]], exc_info: Any = None) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    def call() -> None:
        method, path, body, headers = make()
        response = application(_environ(method, path, body, headers), start_response)
        for _chunk in response:
            pass
        close = getattr(response, "close", None)
        if close is not None:
            close()  # request_finished, as a WSGI server does

    call.statuses = statuses  # type: ignore[attr-defined]  # read by main()
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", default="quartermaster_bench")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--what", choices=("charge", "batch", "tenant-noop", "bare"), default="charge")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--no-profile", action="store_true", help="Only the CPU per request.")
    parser.add_argument(
        "--tenants",
        type=int,
        default=50,
        help="Spread over this many tenants (keys): a key's last use is written on its first request"
        " of each minute, so with all 1,000 nearly every request of a short run would write it.",
    )
    args = parser.parse_args()

    url = bench_url(os.environ["DATABASE_URL"], args.database)
    os.environ.update(server_env(url))
    sys.path.insert(0, str(BASE_DIR))
    tenants = json.loads((BASE_DIR / ".data" / f"bench-keys-{args.database}.json").read_text())
    spread = [t for t in tenants if t["n"] != 0][: args.tenants]

    application: Any
    if args.what == "bare":
        from bench import bare

        application = bare.application
    else:
        import django
        from django.core.wsgi import get_wsgi_application

        django.setup()
        application = get_wsgi_application()

    makers = {
        "charge": charge_request(spread),
        "batch": batch_request(spread, 100),
        "tenant-noop": noop_request(spread, tenant_scoped=True),
        "bare": bare_request(spread),
    }
    request = makers[args.what]

    def make() -> tuple[str, str, bytes, dict[str, str]]:
        method, path, headers, body, _events = request()
        return method, path, body, dict(headers)

    call = _caller(application, make)
    for _ in range(args.warmup):
        call()
    call.statuses.clear()  # type: ignore[attr-defined]

    started, wall = time.process_time(), time.perf_counter()
    # CPU time, not wall time: waiting for PostgreSQL or Redis is not the worker's cost.
    profiler = None if args.no_profile else cProfile.Profile(time.process_time)
    if profiler is not None:
        profiler.enable()
    for _ in range(args.requests):
        call()
    if profiler is not None:
        profiler.disable()
    cpu, elapsed = time.process_time() - started, time.perf_counter() - wall
    print(
        f"{args.what}: {args.requests} requests, {cpu / args.requests * 1000:.3f} ms CPU and"
        f" {elapsed / args.requests * 1000:.3f} ms wall each"
        f"{' (under cProfile)' if profiler else ''}; statuses {call.statuses}"  # type: ignore[attr-defined]
    )
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
        Path(f"/tmp/profile-{args.what}.prof").write_text("")  # noqa: S108  # a scratch file to load
        profiler.dump_stats(f"/tmp/profile-{args.what}.prof")  # noqa: S108


if __name__ == "__main__":
    main()
