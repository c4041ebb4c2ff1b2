"""`make run`: prepare the database, then run web, worker and beat until Ctrl-C.

    python -m core.devdb -- python -m core.runner --host 127.0.0.1 --port 8000 [--dev]

core/devdb.py holds PostgreSQL (the embedded one unless DATABASE_URL is set) for as long as this
runs. This process imports no Django: it starts

1. the preparation, one Django process (`python -m core.runner --prepare`): migrate (summarised in
   one line), the platform admin (`bootstrap_admin --demo`) and, on the first run, the demo data
   (`seed_demo --quiet`, when that command exists). Skipped when `.data/prepared` shows that
   nothing it depends on has changed since it last succeeded (PreparedMarker);
2. the web server: gunicorn with gthread workers and a listen backlog of 2048, as production runs
   (`--dev`: Django's auto-reloading development server instead, its log on the terminal);
3. once the web server answers: the Celery worker and beat (django-celery-beat's DatabaseScheduler),
   on the broker the settings choose (Redis, or a queue in PostgreSQL: config/broker.py), and the
   live stream's websocket server: uvicorn (ASGI, config/asgi.py) on PORT + 1 with
   CONN_MAX_AGE=0, which the console's pages are told about (QM_STREAM_PORT) and connect to;

then prints the URLs and the demo logins, last. The processes' output goes to `.data/logs/`
(`web.log`, `access.log`, `worker.log`, `beat.log`), not the terminal. Ctrl-C (or SIGTERM, or
SIGHUP when the terminal closes) stops them all, SIGTERM to each at once; each child also gets
SIGTERM from the kernel if this process dies without cleaning up. If one of them ends on its
own, the others are stopped and the end of its log printed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

import psycopg

from core.processes import BASE_DIR, Child, Manager, StopRequest

# How long the web server may take to answer its first request.
START_TIMEOUT = 60.0


def data_dir() -> Path:
    return Path(os.environ.get("QM_DATA_DIR", BASE_DIR / ".data"))


def say(message: str) -> None:
    print(message, flush=True)


# --- The commands -------------------------------------------------------------------------------


def web_command(*, host: str, port: int, dev: bool, logs: Path) -> list[str]:
    """gunicorn as production runs it (bench/README.md: gthread, DRF under ASGI is slower), or
    Django's auto-reloading development server for `make dev`."""
    if dev:
        return [sys.executable, "manage.py", "runserver", f"{host}:{port}"]
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        bind,
        "--worker-class",
        "gthread",
        "--workers",
        os.environ.get("QM_WEB_WORKERS") or str(max(2, os.cpu_count() or 2)),
        "--threads",
        os.environ.get("QM_WEB_THREADS") or "4",
        # Connections waiting to be accepted: the development server's 10 reset a burst of 100.
        "--backlog",
        "2048",
        # The application is imported once, then forked: workers start together, and fast.
        "--preload",
        "--graceful-timeout",
        "10",
        "--access-logfile",
        str(logs / "access.log"),
        "--no-control-socket",
    ]


def worker_command() -> list[str]:
    # No mingle, gossip or heartbeat: they need a broadcast exchange, which the PostgreSQL
    # broker has not; with Redis one worker on one machine needs them no more.
    return [
        str(Path(sys.executable).parent / "celery"),
        "--app",
        "config",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        os.environ.get("QM_WORKER_CONCURRENCY") or "2",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]


def beat_command(logs: Path) -> list[str]:
    return [
        str(Path(sys.executable).parent / "celery"),
        "--app",
        "config",
        "beat",
        "--loglevel",
        "INFO",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "--pidfile",
        str(logs / "beat.pid"),
    ]


def stream_command(*, host: str, port: int) -> list[str]:
    """uvicorn serving the ASGI application for the live stream's websockets (DESIGN.md: HTTP
    stays on gunicorn). One process: an event loop holds thousands of idle sockets."""
    return [
        str(Path(sys.executable).parent / "uvicorn"),
        "config.asgi:application",
        "--host",
        host.strip("[]"),
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--no-access-log",
        "--ws",
        "websockets",
    ]


# The websocket server runs beside the web server, on the next port.
STREAM_PORT_OFFSET = 1
# Its database connections are opened per consumer call and closed after (no pool across an
# event loop's threads).
STREAM_ENV = {"DATABASE_CONN_MAX_AGE": "0"}


def link_host(host: str) -> str:
    """The host to print in URLs: a listen-everywhere address is not one to open."""
    return {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)  # noqa: S104


def port_taken(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (another server has it), or None. Asked before
    anything starts: gunicorn would retry for seconds, while the other server answered our
    health check."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def wait_until_serving(url: str, *, alive: Callable[[], bool], timeout: float = START_TIMEOUT) -> bool:
    """True once `url` answers with any HTTP status; False if `alive()` turns false or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310  # our own http://127.x URL
                return True
        except urllib.error.HTTPError:
            return True
        except (OSError, ValueError):
            time.sleep(0.1)
    return False


def banner(*, base_url: str, logs: Path, logins: str, dev: bool, stream_url: str = "") -> str:
    lines = [
        "",
        f"Quartermaster is serving {base_url}/" + ("  (development server, auto-reload)" if dev else ""),
        f"  console   {base_url}/",
        f"  admin     {base_url}/admin/",
        f"  API docs  {base_url}/api/docs/  (Redoc: {base_url}/api/redoc/)",
        *([f"  stream    {stream_url}/ws/tenants/<tenant id>/events/"] if stream_url else []),
        f"  logs      {_relative(logs)}/  "
        + (
            "(worker.log, beat.log, stream.log; the web server's here)"
            if dev
            else "(web.log, access.log, worker.log, beat.log, stream.log)"
        ),
    ]
    if logins:
        lines += ["", "Demo logins:", *("  " + line for line in logins.strip().splitlines())]
    lines += ["", "Ctrl-C stops the web server, the stream, the worker, beat and the database."]
    return "\n".join(lines)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def demo_logins(data: Path) -> str:
    """Who to sign in as: the people in the logins seed_demo wrote (`.data/demo-logins.txt`; its
    second factors, API keys and invite links stay in the file), else the platform admin's login
    (`bootstrap_admin --demo`'s `.data/admin-login.txt`)."""
    demo = data / "demo-logins.txt"
    if demo.exists():
        people: list[str] = []
        lines = iter(demo.read_text().splitlines())
        for line in lines:
            if line.strip() == "People":
                people = list(takewhile(str.strip, lines))
                break
        if people:
            return "\n".join(
                [
                    *(line.strip() for line in people),
                    f"(second factors, API keys and invite links: {_relative(demo)})",
                ]
            )
    admin = data / "admin-login.txt"
    return admin.read_text() if admin.exists() else ""


# --- Warm starts: the preparation skipped when nothing changed -----------------------------------


def database_state(database_url: str) -> str | None:
    """The database's identity and migration record (its oid, the count and last id of
    django_migrations), read with psycopg alone; None if it cannot be read (no such table yet,
    a URL libpq does not take): then the preparation runs."""
    try:
        with psycopg.connect(
            database_url, connect_timeout=5, application_name="quartermaster-runner"
        ) as conn:
            row = conn.execute(
                "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()),"
                " count(*), max(id) FROM django_migrations"
            ).fetchone()
    except (psycopg.Error, ValueError):
        return None
    return ":".join(str(value) for value in row) if row else None


@dataclass
class PreparedMarker:
    """What the last successful preparation saw, so that a warm start needs no Django process of
    its own (about 2 s of CPU) to learn that there is nothing to migrate or seed.

    The fingerprint covers the database (its URL, identity and migration record), every migration
    file's name in this repository, the pinned requirements (third-party apps' migrations) and
    the settings (the installed apps). Any change, or a database that cannot be read, runs the
    preparation; `make clean-data`, or deleting `.data/prepared`, forces it."""

    path: Path
    database_url: str
    base_dir: Path = BASE_DIR

    def fingerprint(self) -> str | None:
        state = database_state(self.database_url) if self.database_url else None
        if state is None:
            return None
        digest = hashlib.sha256()
        for part in (self.database_url, state):
            digest.update(part.encode() + b"\0")
        for path in sorted(self.base_dir.glob("*/migrations/*.py")):
            digest.update(str(path.relative_to(self.base_dir)).encode() + b"\0")
        for name in ("requirements.txt", "config/settings.py"):
            path = self.base_dir / name
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()

    def current(self) -> bool:
        if not self.path.exists():
            return False
        recorded = self.path.read_text().strip()
        return bool(recorded) and recorded == self.fingerprint()

    def record(self) -> None:
        fingerprint = self.fingerprint()
        if fingerprint is None:
            self.path.unlink(missing_ok=True)
        else:
            self.path.write_text(fingerprint + "\n")


# --- The preparation (a Django process of its own) ---------------------------------------------


def prepare(out: Callable[[str], None] = say) -> int:
    """Migrate, make sure of the platform admin, seed the demo data once; one line each.

    Django is imported here, in the preparation's own process: the manager never imports it."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()

    from django.conf import settings
    from django.core.management import CommandError, call_command, get_commands
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor

    started = time.monotonic()
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        call_command("migrate", interactive=False, verbosity=0)
        out(f"database   {len(plan)} migrations applied ({time.monotonic() - started:.1f} s)")
    else:
        # Nothing to apply: no `migrate` at all, whose post-migrate pass (content types and
        # permissions of every app) costs a second on every start.
        out("database   up to date")

    call_command("bootstrap_admin", demo=True, stdout=io.StringIO())

    # seed_demo adds nothing when the demo is there (one query); its progress bar goes to the
    # terminal (stderr), its summary nowhere: the logins file is what the banner reads.
    if "seed_demo" in get_commands():
        logins = settings.DATA_DIR / "demo-logins.txt"
        before = logins.stat().st_mtime_ns if logins.exists() else None
        started = time.monotonic()
        try:
            call_command("seed_demo", quiet=True, stdout=io.StringIO())
        except CommandError as exc:  # tenants with the demo's names: serve without the demo
            out(f"demo data  not loaded: {exc}")
        else:
            after = logins.stat().st_mtime_ns if logins.exists() else None
            if after != before:
                out(f"demo data  loaded ({time.monotonic() - started:.1f} s)")
            else:
                out("demo data  in place")
    connections.close_all()
    return 0


# --- Main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m core.runner", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--dev", action="store_true", help="Django's auto-reloading server instead of gunicorn"
    )
    parser.add_argument("--prepare", action="store_true", help="only migrate, bootstrap and seed (Django)")
    return parser.parse_args(argv)


def child_env(*, host: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    # What the settings derive QM_PUBLIC_URL (e-mailed links) from, unless it is set.
    env["QM_HOST"] = host
    env["QM_PORT"] = str(port)
    # Where the console's pages open the live stream (QM_STREAM_URL, unless it is set).
    env["QM_STREAM_PORT"] = str(port + STREAM_PORT_OFFSET)
    # Under gunicorn a connection per worker thread is kept (README, "Configuration").
    env.setdefault("DATABASE_CONN_MAX_AGE", "600")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run(args: argparse.Namespace) -> int:
    data = data_dir()
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stream_port = args.port + STREAM_PORT_OFFSET
    for port in (args.port, stream_port):
        taken = port_taken(args.host, port)
        if taken:
            say(f"quartermaster: cannot serve on {args.host}:{port} ({taken}); another PORT=... ?")
            return 1
    env = child_env(host=args.host, port=args.port)
    stop = StopRequest()
    stop.install()
    manager = Manager(env=env)

    base_url = f"http://{link_host(args.host)}:{args.port}"
    web = Child(
        "web",
        web_command(host=args.host, port=args.port, dev=args.dev, logs=logs),
        None if args.dev else logs / "web.log",
    )
    stream = Child(
        "stream", stream_command(host=args.host, port=stream_port), logs / "stream.log", env=STREAM_ENV
    )
    marker = PreparedMarker(data / "prepared", env.get("DATABASE_URL", ""))
    prepared = marker.current()
    if not args.dev:
        # gunicorn imports the application while the preparation runs (it asks the database
        # nothing before a request comes), and so does uvicorn when there is a preparation to
        # overlap (a cold start); nothing is announced before the preparation is done. The
        # development server would complain on the terminal about migrations not applied yet.
        manager.start(web)
        if not prepared:
            manager.start(stream)
    if prepared:
        say("database   up to date")
        say("demo data  in place")
    else:
        prep = manager.start(Child("preparation", [sys.executable, "-m", "core.runner", "--prepare"]))
        while prep.running and not stop() and (args.dev or (web.running and stream.running)):
            time.sleep(0.05)
        if stop():
            manager.stop()
            return 130
        if prep.running:  # the web or the stream server ended first
            manager.stop()
            failed, log = (web, logs / "web.log") if not web.running else (stream, logs / "stream.log")
            say(f"quartermaster: the {failed.name} server did not start. The end of {_relative(log)}:")
            say(failed.tail())
            return 1
        manager.children.remove(prep)
        if prep.process is None or prep.process.returncode != 0:
            manager.stop()
            marker.path.unlink(missing_ok=True)
            say("quartermaster: the preparation failed (above); nothing is served.")
            return 1
        marker.record()
    if args.dev:
        manager.start(web)
    if not wait_until_serving(f"{base_url}/healthz", alive=lambda: web.running and not stop()):
        manager.stop()
        if stop():
            return 130
        say(f"quartermaster: the web server did not start. The end of {_relative(logs / 'web.log')}:")
        say(web.tail())
        return 1
    stream_base = f"http://{link_host(args.host)}:{stream_port}"
    if stream.process is None:
        # A warm start: uvicorn's import would only have competed with gunicorn's for the two
        # cores. It comes up a few seconds after the banner; the console's script reconnects,
        # and if it fails, the watch below stops everything and shows its log.
        manager.start(stream)
    elif not wait_until_serving(f"{stream_base}/healthz", alive=lambda: stream.running and not stop()):
        manager.stop()
        if stop():
            return 130
        say(f"quartermaster: the stream server did not start. The end of {_relative(logs / 'stream.log')}:")
        say(stream.tail())
        return 1
    # The worker and beat once the web server answers: their imports would only compete with
    # the servers' for the two cores, and nothing waits for them (their jobs wait in the queue).
    manager.start(Child("worker", worker_command(), logs / "worker.log"))
    manager.start(Child("beat", beat_command(logs), logs / "beat.log"))
    stream_url = env.get("QM_STREAM_URL") or stream_base.replace("http://", "ws://", 1)
    say(banner(base_url=base_url, logs=logs, logins=demo_logins(data), dev=args.dev, stream_url=stream_url))

    ended = manager.watch(stop)
    if ended is None:
        say("\nquartermaster: stopping ...")
        manager.stop()
        say("quartermaster: stopped.")
        return 0
    code = ended.process.returncode if ended.process is not None else 1
    say(f"\nquartermaster: {ended.name} ended (exit {code}); stopping the rest.")
    if ended.log is not None:
        say(f"The end of {_relative(ended.log)}:\n{ended.tail()}")
    manager.stop()
    return 1


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.prepare:
        return prepare()
    return run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
