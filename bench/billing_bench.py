"""`make bench-billing`: how fast credits are charged, and at what CPU, beside PostgreSQL's own.

Runs against the embedded PostgreSQL (core/devdb.py sets DATABASE_URL) in a database of its
own, `quartermaster_bench` by default (--database), created afresh and dropped at the end
(--keep keeps it):

1. migrate; seed 1,000 tenants (each an owner, an API key, a funded account) and one hot
   tenant, through the services, as production would have them;
2. pgbench with the very SQL statements the service sends (bench/pgbench.py), for single
   charges on 1,000 accounts and on one, for a 100-event batch, and a plain UPDATE + INSERT;
3. gunicorn serving the project (API-key auth, idempotency keys: the production path) and,
   with the same configuration, the bare WSGI reference (bench/bare.py), one server per worker
   (bench/servers.py), driven by a lean asyncio client (bench/loadgen.py) at 8 and 32 clients;
4. three short interleaved rounds of pgbench, the HTTP charge and the bare charge, for the
   spread of the ratios;
5. the CPU of the PostgreSQL process tree and of the gunicorn workers over every measured
   window (bench/cpu.py), per charge, transaction or event; then the table of ratios against
   issue 11's targets (bench/report.py), and `manage.py verify_ledger` on the database.

Usage: python -m core.devdb -- python -m bench.billing_bench [--seconds 10] [--keep]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench import cpu, loadgen, pgbench, report, servers
from bench.constants import TENANTS, USAGE
from bench.report import Figure

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = "quartermaster_bench"
DEFAULT_PORT = 8765
BARE_PORT_OFFSET = 100  # the bare reference's servers: --port + 100 onwards


# --- The database ---------------------------------------------------------------------------------


def bench_url(app_url: str, database: str) -> str:
    parts = urlsplit(app_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def drop_database(app_url: str, database: str) -> None:
    """Drop the bench database, waiting out autovacuum workers still connected to it (the
    application role may not terminate them, so no FORCE)."""
    with psycopg.connect(app_url, autocommit=True) as conn:
        for attempt in range(30):
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise
                time.sleep(1)


def refuse_if_in_use(app_url: str, database: str) -> None:
    """Another run on the same database would drop it under this one (or this one under it)."""
    with psycopg.connect(app_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            [database],
        ).fetchone()
    if row and row[0]:
        sys.exit(
            f"{row[0]} connection(s) to {database} already: another benchmark is running on it."
            " Pass --database NAME (and --port) to run beside it."
        )


def recreate_database(app_url: str, database: str) -> None:
    refuse_if_in_use(app_url, database)
    drop_database(app_url, database)
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def server_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "false",  # DEBUG keeps every query in memory
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",  # persistent connections, as production runs gunicorn
        "PYTHONPATH": str(BASE_DIR),
    }


def seed(out: Path) -> None:
    """(In a subprocess with the bench settings.) Tenants, owners, keys, credits."""
    import django

    django.setup()
    from django.db import connection, transaction

    from accounts.api_key_auth import hash_key
    from accounts.models import User
    from accounts.services.api_keys import api_key_create
    from billing import services
    from core.tenancy import tenant_context
    from tenants.services import tenant_create

    admin = User.objects.create(
        email="bench-admin@example.com", platform_role="platform_admin", is_staff=True, is_superuser=True
    )
    scopes = ["credits:write", "credits:read"]
    # Issue 11's gate work makes the creator's permissions an argument; the owner holds these.
    # (Passed only where the service takes it, so the benchmark runs before and after.)
    key_extra: dict[str, Any] = {}
    if "actor_permissions" in inspect.signature(api_key_create).parameters:
        key_extra["actor_permissions"] = frozenset(scopes)
    made: list[dict[str, Any]] = []
    started = time.monotonic()
    for n in range(TENANTS + 1):  # n = 0: the hot tenant
        with transaction.atomic():
            owner = User(email=f"owner{n}@bench.example")
            owner.set_unusable_password()
            owner.save()
            tenant = tenant_create(
                actor=admin, owner=owner, name=f"Bench {n}", slug=f"bench-{n}", admin_email=owner.email
            )
            with tenant_context(tenant):
                _key, raw = api_key_create(
                    tenant=tenant,
                    actor=owner,
                    name="runtime",
                    scopes=scopes,
                    rate_limit_per_minute=100_000,
                    **key_extra,
                )
                services.credits_post(
                    tenant=tenant, kind="grant", amount=Decimal(10**9), reason="benchmark", actor=admin
                )
                with connection.cursor() as cursor:
                    cursor.execute("SELECT id FROM billing_creditaccount WHERE tenant_id = %s", [tenant.pk])
                    account_id = cursor.fetchone()[0]
            made.append({"n": n, "tenant": str(tenant.pk), "account": str(account_id), "key": raw})
        if n and n % 250 == 0:
            print(f"  seeded {n} tenants ({time.monotonic() - started:.0f}s)", flush=True)
    with connection.cursor() as cursor:
        # pgbench's map from a random number to a tenant and its account (no RLS: bench only).
        cursor.execute(
            "CREATE TABLE bench_accounts (n int PRIMARY KEY, tenant_id uuid, account_id uuid, key_hash text)"
        )
        cursor.executemany(
            "INSERT INTO bench_accounts VALUES (%s, %s, %s, %s)",
            [(t["n"], t["tenant"], t["account"], hash_key(t["key"])) for t in made],
        )
        # Vacuumed and analysed now, not by autovacuum in the middle of the first figures (its
        # workers' CPU is the database's, and would land on whichever figure runs then).
        cursor.execute("VACUUM (ANALYZE)")
    out.write_text(json.dumps(made))


def _map_key_hashes(tenants: list[dict[str, Any]]) -> None:
    """pgbench's authenticated charge finds each tenant's key by its hash in bench_accounts (a
    database seeded before that column existed gets it here, for --reuse)."""
    from django.db import connection

    from accounts.api_key_auth import hash_key

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE bench_accounts ADD COLUMN IF NOT EXISTS key_hash text")
        cursor.executemany(
            "UPDATE bench_accounts SET key_hash = %s WHERE n = %s AND key_hash IS DISTINCT FROM %s",
            [(hash_key(t["key"]), t["n"], hash_key(t["key"])) for t in tenants],
        )
    connection.close()


# --- The clients ------------------------------------------------------------------------------------


def _headers(key: str) -> dict[str, str]:
    return {
        "Authorization": f"Api-Key {key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def charge_request(tenants: list[dict[str, Any]]) -> Callable[[], loadgen.Request]:
    body = json.dumps(USAGE).encode()
    headers = [(t, _headers(t["key"])) for t in tenants]

    def make() -> loadgen.Request:
        tenant, base = random.choice(headers)  # load spreading, not security
        return (
            "POST",
            f"/api/v1/tenants/{tenant['tenant']}/usage",
            {**base, "Idempotency-Key": uuid.uuid4().hex},
            body,
            1,
        )

    return make


def batch_request(tenants: list[dict[str, Any]], size: int) -> Callable[[], loadgen.Request]:
    template = json.dumps(USAGE)[1:-1]

    def make() -> loadgen.Request:
        tenant = random.choice(tenants)  # load spreading
        stem = uuid.uuid4().hex
        events = ",".join(f'{{"idempotency_key":"{stem}-{i}",{template}}}' for i in range(size))
        body = f'{{"events":[{events}]}}'.encode()
        return (
            "POST",
            f"/api/v1/tenants/{tenant['tenant']}/usage/batch",
            _headers(tenant["key"]),
            body,
            size,
        )

    return make


def naive_request(tenants: list[dict[str, Any]]) -> Callable[[], loadgen.Request]:
    body = json.dumps(USAGE).encode()

    def make() -> loadgen.Request:
        tenant = random.choice(tenants)  # load spreading
        path = f"/bench/tenants/{tenant['tenant']}/naive-charge"
        return ("POST", path, {"Content-Type": "application/json", "Accept": "application/json"}, body, 1)

    return make


def bare_request(tenants: list[dict[str, Any]]) -> Callable[[], loadgen.Request]:
    """The same charge as charge_request, to the bare WSGI reference (bench/bare.py)."""
    body = json.dumps(USAGE).encode()
    headers = [(t, _headers(t["key"])) for t in tenants]

    def make() -> loadgen.Request:
        tenant, base = random.choice(headers)  # load spreading, not security
        path = f"/bare/tenants/{tenant['tenant']}/usage"
        return ("POST", path, {**base, "Idempotency-Key": uuid.uuid4().hex}, body, 1)

    return make


def noop_request(tenants: list[dict[str, Any]], *, tenant_scoped: bool) -> Callable[[], loadgen.Request]:
    def make() -> loadgen.Request:
        tenant = random.choice(tenants)  # load spreading
        path = f"/bench/tenants/{tenant['tenant']}/noop" if tenant_scoped else "/bench/noop"
        return ("POST", path, _headers(tenant["key"]), b"{}", 1)

    return make


# --- The run ------------------------------------------------------------------------------------------


class Run:
    """One benchmark run: the database's process tree, the servers, and every figure measured."""

    def __init__(self, args: argparse.Namespace, url: str, scripts: dict[str, Path]) -> None:
        self.args, self.url, self.scripts = args, url, scripts
        self.figures: list[Figure] = []
        with psycopg.connect(url, autocommit=True) as conn:  # (its backend must be alive to be asked)
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()
            self.postmaster = cpu.postmaster_of(pid[0]) if pid else None

    def _our_backends(self) -> int:
        """Client backends of the bench database, and any backend ended but not yet reaped."""
        if self.postmaster is None:
            return 0
        return len(cpu.backends_of(self.postmaster, self.args.database)) + cpu.unreaped(self.postmaster)

    def pgbench(self, name: str, clients: int, seconds: float, *, group: str = "") -> Figure:
        window = cpu.Window(self.postmaster, [])
        before = self._our_backends()
        result = pgbench.run(
            self.url,
            self.scripts[name],
            clients,
            seconds,
            on_start=window.start,
            on_stop=window.stop,
            settled=lambda: self._our_backends() <= before,
        )
        size = 100 if name.startswith("batch-100") else 1
        figure = Figure(
            kind="pgbench",
            name=name,
            clients=clients,
            group=group,
            rate=result.tps,
            event_rate=result.tps * size,
            ops=result.transactions,
            events=result.transactions * size,
            window=window,
        )
        self.figures.append(figure)
        line = f"  pgbench {name:14} {clients:2} clients: {figure.rate:9.0f} tx/s  {figure.cpu_text()}"
        print(line, flush=True)
        return figure

    def http(
        self,
        name: str,
        served: servers.Servers,
        make: Callable[[], loadgen.Request],
        clients: int,
        seconds: float,
        *,
        group: str = "",
    ) -> Figure:
        window = cpu.Window(self.postmaster, served.trees())
        out = loadgen.run(
            host=servers.HOST,
            ports=served.ports,
            clients=clients,
            seconds=seconds,
            warmup=self.args.warmup,
            make=make,
            on_start=window.start,
            on_stop=window.stop,
        )
        figure = Figure(
            kind="http",
            name=name,
            clients=clients,
            group=group,
            rate=out.rate,
            event_rate=out.event_rate,
            ops=out.completed,
            events=out.completed_events,
            window=window,
            outcome=out,
            ports=served.ports,
        )
        self.figures.append(figure)
        print(
            f"  http    {name:14} {clients:2} clients: {out.rate:9.0f} req/s {out.event_rate:9.0f} events/s"
            f"  p50 {out.percentile(0.5):6.1f} ms  p99 {out.percentile(0.99):6.1f} ms  {figure.cpu_text()}"
            f"  per worker {report.spread_text(out, served.ports)}  statuses {dict(out.statuses)}",
            flush=True,
        )
        return figure


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured seconds per figure.")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds for the ratios' spread.")
    parser.add_argument("--round-seconds", type=float, default=5.0, help="Measured seconds per round.")
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1) + 1))
    )
    # gthread workers with one thread each: keep-alive (sync workers close every connection),
    # and no threads contending for one GIL.
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "1")))
    parser.add_argument("--worker-class", default=os.environ.get("BENCH_WORKER_CLASS", "gthread"))
    parser.add_argument(
        "--placement",
        choices=("pinned", "shared"),
        default=os.environ.get("BENCH_PLACEMENT", "pinned"),
        help="pinned: one gunicorn per worker, connections spread round-robin; shared: one gunicorn.",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", DEFAULT_PORT)))
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", DEFAULT_DB))
    parser.add_argument(
        "--only",
        default="",
        help="Comma-separated parts to run: HTTP figures (single-spread, bare-charge, ...), 'pgbench'"
        " (its figures), 'rounds' (the interleaved rounds). Keeps the database. Default: everything.",
    )
    parser.add_argument("--no-pgbench", action="store_true", help="Skip pgbench and the rounds (tuning).")
    parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
    parser.add_argument("--reuse", action="store_true", help="Reuse a kept, seeded bench database.")
    args = parser.parse_args()
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.database):
        parser.error("--database: lower-case letters, digits and underscores")
    return args


def main() -> None:
    args = parse_args()
    app_url = os.environ.get("DATABASE_URL", "")
    if not app_url:
        sys.exit("DATABASE_URL is not set: run through `make bench-billing` (core/devdb.py).")
    url = bench_url(app_url, args.database)
    env = server_env(url)
    work = Path(tempfile.mkdtemp(prefix="qm-bench-"))
    default_keys = BASE_DIR / ".data" / f"bench-keys-{args.database}.json"
    keys_file = Path(os.environ.get("QM_BENCH_KEYS", str(default_keys)))
    cache = "Redis" if os.environ.get("REDIS_URL") else "local memory per worker"
    print(
        f"billing benchmark: {os.cpu_count()} CPUs, database {args.database}, gunicorn {args.workers} workers"
        f" x {args.threads} threads ({args.worker_class}, {args.placement}), cache: {cache}"
    )
    if not (args.reuse and keys_file.exists()):
        print(f"creating {args.database}, migrating, seeding {TENANTS} + 1 tenants ...", flush=True)
        recreate_database(app_url, args.database)
        subprocess.run(  # our own command
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            env=env,
            cwd=BASE_DIR,
            check=True,
        )
        subprocess.run(  # our own command
            [sys.executable, "-m", "bench.billing_bench", "seed", str(keys_file)],
            env=env,
            cwd=BASE_DIR,
            check=True,
        )
    else:
        refuse_if_in_use(app_url, args.database)
    tenants = json.loads(keys_file.read_text())
    hot, spread = [t for t in tenants if t["n"] == 0], [t for t in tenants if t["n"] != 0]

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DATABASE_URL"] = url
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    _map_key_hashes(tenants)
    run = Run(args, url, pgbench.scripts(work))
    if run.postmaster is None:
        print("  (PostgreSQL is not on this machine or its processes are not readable: no database CPU)")
    else:
        others = cpu.other_databases(run.postmaster, args.database)
        in_use = sorted(others) or "none"
        print(f"  PostgreSQL postmaster pid {run.postmaster.pid}; other databases in use: {in_use}")

    only = set(filter(None, args.only.split(",")))
    pg_names: tuple[str, ...] = (
        "single-spread",
        "authenticated-spread",
        "single-hot",
        "plain-spread",
        "batch-100",
    )
    if args.no_pgbench or (only and "pgbench" not in only):
        pg_names = ()
    for name in pg_names:
        for clients in (8, 32):
            run.pgbench(name, clients, args.seconds)

    common = {
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": args.worker_class,
        "placement": args.placement,
        "env": env,
        "cwd": BASE_DIR,
    }
    project = servers.start(app="config.wsgi:application", base_port=args.port, **common)
    bare = servers.start(app="bench.bare:application", base_port=args.port + BARE_PORT_OFFSET, **common)
    print(f"  gunicorn: project on {project.ports}, bare reference on {bare.ports}", flush=True)
    try:
        plans: list[tuple[str, servers.Servers, Callable[[], loadgen.Request], tuple[int, ...]]] = [
            ("noop", project, noop_request(spread, tenant_scoped=False), (8, 32)),
            ("tenant-noop", project, noop_request(spread, tenant_scoped=True), (8, 32)),
            ("naive-charge", project, naive_request(spread), (8, 32)),
            ("single-spread", project, charge_request(spread), (8, 32)),
            ("single-hot", project, charge_request(hot), (8, 32)),
            ("batch-100", project, batch_request(spread, 100), (8, 32)),
            ("batch-1000", project, batch_request(spread, 1000), (8,)),
            ("bare-charge", bare, bare_request(spread), (8, 32)),
        ]
        for name, served, make, client_counts in plans:
            if only and name not in only:
                continue
            for clients in client_counts:
                run.http(name, served, make, clients, args.seconds)
        if not args.no_pgbench and (not only or "rounds" in only) and args.rounds:
            print(f"interleaved rounds at 8 clients, {args.round_seconds:.0f} s each:", flush=True)
            if only and "single-spread" not in only:
                # Fresh workers: connections, prepared statements, and a last-use write for every
                # key's first request of the minute (1,000 keys); as the main figures would have.
                print("  (warming the servers up first: 10 s of each charge, not measured)", flush=True)
                for served, make in ((project, charge_request(spread)), (bare, bare_request(spread))):
                    loadgen.run(
                        host=servers.HOST, ports=served.ports, clients=8, seconds=10, warmup=0, make=make
                    )
            for n in range(1, args.rounds + 1):
                group = f"round {n}"
                run.pgbench("single-spread", 8, args.round_seconds, group=group)
                run.pgbench("authenticated-spread", 8, args.round_seconds, group=group)
                run.http("single-spread", project, charge_request(spread), 8, args.round_seconds, group=group)
                run.http("bare-charge", bare, bare_request(spread), 8, args.round_seconds, group=group)
        if run.postmaster is not None:
            others = cpu.other_databases(run.postmaster, args.database)
            if others:
                print(f"  note: other databases had clients on this server during the run: {sorted(others)}")
    finally:
        project.stop()
        bare.stop()

    print()
    print(report.render(run.figures))
    (work / "results.json").write_text(json.dumps([f.as_dict() for f in run.figures], indent=2))
    print(f"\nraw figures: {work / 'results.json'}")

    print("\nverify_ledger on the benchmark database:")
    verified = subprocess.run(  # our own command
        [sys.executable, "manage.py", "verify_ledger", "--chunk", "1000"], env=env, cwd=BASE_DIR, check=False
    )
    if not (args.keep or only or args.no_pgbench):
        drop_database(app_url, args.database)
        keys_file.unlink(missing_ok=True)
    sys.exit(verified.returncode)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "seed":
        seed(Path(sys.argv[2]))
    else:
        main()
