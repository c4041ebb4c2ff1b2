"""`make bench-agents`: the task queue through HTTP against a bare SKIP LOCKED loop in pgbench,
and a 10,000-node session tree's cost and cancel through the selector and service against their
single SQL statement run directly, in the same run (issue 13's benchmark).

Runs against the embedded PostgreSQL (core/devdb.py sets DATABASE_URL) in a database of its
own, `quartermaster_bench_agents` by default (--database), created afresh and dropped at the end
(--keep keeps it):

1. migrate; seed one tenant through the services (owner, an API key with tasks:read/write, an
   agent), as production would have it;
2. tasks: a queue of pending tasks (refilled before each figure), then
   - pgbench, 8 clients: the service's own statements (agents/services/tasks.py: the claim and
     the completion, each in its own transaction with the tenant's RLS setting), one task per
     loop: claim with LIMIT 1, complete it;
   - HTTP, 8 workers (asyncio clients, bench/loadgen.py's wire format) against gunicorn serving
     the project (bench/servers.py): POST .../tasks/claim with limit N, then one POST
     .../tasks/complete with every task claimed (the batch), again and again;
   - the same workers completing each task on its own (POST .../tasks/{id}/complete), the
     figure before the batch, as a reference row (no target);
   tasks completed per second, the ratio, and the target (HTTP batch at least 25 % of pgbench);
3. the tree: 10,000 sessions in five levels (1, 9, 90, 900, 9,000) written directly, each with
   its own cost; then, timed (median of --repeat runs, after one warm-up):
   - the tree cost through agents.selectors.session_tree (rows into TreeNode objects) against
     its SQL statement alone (cursor.execute + fetchall);
   - the cancel of the whole tree through agents.services.session_cancel (its audit entry
     included) against its SQL statement alone; the tree is set back to running between runs;
   the ratios and the target (within 2x).

Usage: python -m core.devdb -- python -m bench.agents_bench [--seconds 10] [--keep]
"""

from __future__ import annotations

# ruff: noqa: S608  # pgbench scripts built from the services' own statements
import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import loadgen, pgbench, servers
from bench.billing_bench import bench_url, drop_database, server_env
from bench.seeding import fresh_database

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = "quartermaster_bench_agents"
DEFAULT_PORT = 9265  # clear of bench-billing (8765 and its bare reference, 8865 on)
TASK_TARGET = 0.25  # HTTP tasks/s at least this share of pgbench's
TREE_TARGET = 2.0  # the service and selector within this factor of their statement
TREE_LEVELS = (1, 9, 90, 900, 9000)  # 10,000 sessions


# --- Seeding --------------------------------------------------------------------------------------


def seed(out: Path) -> None:
    """(In a subprocess with the bench settings.) One tenant, its owner, an API key, an agent."""
    import django

    django.setup()
    from agents import services as agents
    from bench.seeding import bench_tenant
    from core.tenancy import tenant_context

    tenant, owner, raw = bench_tenant(key_name="runtime", scopes=["tasks:write", "tasks:read"])
    with tenant_context(tenant):
        agent = agents.agent_create(
            tenant=tenant, actor=owner, data={"name": "Worker", "role": "engineering"}
        )
    out.write_text(json.dumps({"tenant": str(tenant.pk), "agent": str(agent.pk), "key": raw}))


# --- The queue --------------------------------------------------------------------------------------


def fill_queue(tenant: str, agent: str, count: int) -> None:
    """Empty the tenant's queue and put `count` pending tasks in it (priorities 0-9, enqueued a
    millisecond apart, as a queue fills: created_at orders the claim within a priority), analysed."""
    from django.db import connection, transaction

    from core.tenancy import platform_bypass

    with (
        transaction.atomic(),
        platform_bypass(reason="benchmark: refill the queue", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM agents_agenttask WHERE tenant_id = %s", [tenant])
        cursor.execute(
            """
            INSERT INTO agents_agenttask
                   (id, created_at, updated_at, tenant_id, agent_id, payload, status, priority,
                    platform_priority, attempts, max_attempts, run_after, claimed_by, result, error)
            SELECT gen_random_uuid(), now() - (%(count)s - n) * interval '1 millisecond', now(),
                   %(tenant)s, %(agent)s, '{"n": 1}', 'pending',
                   n %% 10, false, 0, 3, now() - interval '1 second', '', NULL, ''
              FROM generate_series(1, %(count)s) AS n
            """,
            {"tenant": tenant, "agent": agent, "count": count},
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) agents_agenttask")


def pgbench_script(directory: Path, tenant: str) -> Path:
    """The claim and the completion as the service sends them, one task per loop."""
    from agents.services import tasks

    set_tenant = f"SELECT set_config('app.tenant_id', '{tenant}', true);"
    claim = pgbench._fill(
        tasks._CLAIM_SQL.format(agent=""),
        {
            "worker": "'pgbench-' || :client_id",
            "lease": "now() + interval '300 seconds'",
            "now": "now()",
            "tenant": f"'{tenant}'::uuid",
            "limit": "1",
        },
    )
    complete = pgbench._fill(
        tasks._COMPLETE_SQL,
        {
            "result": "'{\"ok\": true}'",
            "now": "now()",
            "id": ":task::uuid",
            "tenant": f"'{tenant}'::uuid",
            "worker": "'pgbench-' || :client_id",
        },
    )
    text = "\n".join(
        [
            "BEGIN;",
            set_tenant,
            f"WITH c AS ({claim}) SELECT id AS task FROM c \\gset",
            "END;",
            "BEGIN;",
            set_tenant,
            f"WITH d AS ({complete}) SELECT count(*) AS done FROM d \\gset",
            "END;",
        ]
    )
    path = directory / "claim-complete.sql"
    path.write_text(text + "\n")
    return path


@dataclass
class HttpOutcome:
    seconds: float
    claims: int = 0
    completed: int = 0
    failures: int = 0
    empty: int = 0

    @property
    def rate(self) -> float:
        return self.completed / self.seconds


def http_workers(
    *,
    ports: list[int],
    tenant: str,
    key: str,
    workers: int,
    limit: int,
    seconds: float,
    warmup: float,
    batch: bool = True,
) -> HttpOutcome:
    """`workers` runtimes, each on its own keep-alive connection: claim up to `limit`, complete
    them (`batch`: in one request; else one request each), repeat. Counts the tasks completed
    inside the measured window."""
    headers = {
        "Authorization": f"Api-Key {key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    base = f"/api/v1/tenants/{tenant}/tasks/"

    async def call(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str, body: dict[str, Any]
    ) -> tuple[int, bytes]:
        raw = json.dumps(body).encode()
        writer.write(loadgen._encode(host, ("POST", path, headers, raw, 1)))
        status, _close, answer = await loadgen._read(reader)
        return status, answer

    async def worker(i: int, start: float, stop: float, out: HttpOutcome) -> None:
        port = ports[i % len(ports)]
        host = f"{servers.HOST}:{port}"
        reader, writer = await asyncio.open_connection(servers.HOST, port)
        name = f"http-worker-{i}"
        try:
            while time.monotonic() < stop:
                status, answer = await call(
                    reader, writer, host, base + "claim", {"worker_id": name, "limit": limit}
                )
                if status != 200:
                    out.failures += 1
                    continue
                ids = [task["id"] for task in json.loads(answer)]
                if start <= time.monotonic() <= stop:
                    out.claims += 1
                if not ids:
                    out.empty += 1
                    await asyncio.sleep(0.01)
                    continue
                if batch:
                    items = [{"task_id": task_id, "result": {"ok": True}} for task_id in ids]
                    status, answer = await call(
                        reader, writer, host, base + "complete", {"worker_id": name, "items": items}
                    )
                    now = time.monotonic()
                    if status != 200:
                        out.failures += len(ids)
                        continue
                    done = sum(1 for item in json.loads(answer)["results"] if item["outcome"] == "done")
                    out.failures += len(ids) - done
                    if start <= now <= stop:
                        out.completed += done
                    continue
                for task_id in ids:
                    status, _ = await call(
                        reader,
                        writer,
                        host,
                        f"{base}{task_id}/complete",
                        {"worker_id": name, "result": {"ok": True}},
                    )
                    now = time.monotonic()
                    if status != 200:
                        out.failures += 1
                    elif start <= now <= stop:
                        out.completed += 1
        finally:
            writer.close()

    async def main() -> HttpOutcome:
        out = HttpOutcome(seconds=seconds)
        now = time.monotonic()
        start, stop = now + warmup, now + warmup + seconds
        await asyncio.gather(*(worker(i, start, stop, out) for i in range(workers)))
        return out

    return asyncio.run(main())


# --- The tree ---------------------------------------------------------------------------------------


def build_tree(tenant: str, agent: str) -> uuid.UUID:
    """10,000 running sessions in five levels, each with its own cost; returns the root's id."""
    from django.db import connection, transaction

    from core.tenancy import platform_bypass

    root = uuid.uuid4()
    rows: list[tuple[Any, ...]] = [(root, None, 0)]
    level = [root]
    for depth, size in enumerate(TREE_LEVELS[1:], start=1):
        nodes = [(uuid.uuid4(), level[i % len(level)], depth) for i in range(size)]
        rows += nodes
        level = [node[0] for node in nodes]
    with (
        transaction.atomic(),
        platform_bypass(reason="benchmark: the tree", log=False),
        connection.cursor() as cursor,
    ):
        cursor.executemany(
            """
            INSERT INTO agents_agentsession
                   (id, created_at, updated_at, tenant_id, agent_id, parent_id, root_id, depth, status,
                    started_at, input_tokens, output_tokens, provider_cost_usd, credits_charged,
                    tree_credits_charged, result, error)
            VALUES (%s, now(), now(), %s, %s, %s, %s, %s, 'running', now(), 100, 20, 0.0002, 0.001,
                    0, NULL, '')
            """,
            [(node, tenant, agent, parent, root, depth) for node, parent, depth in rows],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) agents_agentsession")
    return root


def reopen_tree(root: uuid.UUID) -> None:
    from django.db import connection, transaction

    from core.tenancy import platform_bypass

    with (
        transaction.atomic(),
        platform_bypass(reason="benchmark: reopen the tree", log=False),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE agents_agentsession SET status = 'running', ended_at = NULL, error = ''"
            " WHERE root_id = %s",
            [root],
        )


def timed(repeat: int, before: Callable[[], None], work: Callable[[], Any]) -> float:
    """The median seconds of `work` over `repeat` runs after a warm-up (`before` untimed)."""
    times = []
    for n in range(repeat + 1):
        before()
        began = time.perf_counter()
        work()
        if n:
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def tree_figures(tenant: str, agent: str, repeat: int) -> list[tuple[str, float, float]]:
    """(what, through the app, the statement alone) in seconds."""
    from django.db import connection, transaction
    from django.utils import timezone

    from agents import selectors, services
    from agents.models import AgentSession
    from agents.services import sessions
    from core.tenancy import tenant_context

    root_id = build_tree(tenant, agent)
    with tenant_context(tenant):
        root = AgentSession.objects.get(pk=root_id)
    params = {"id": root.pk, "root": root.root_id, "tenant": root.tenant_id}

    def nothing() -> None:
        pass

    def tree_app() -> None:
        with tenant_context(tenant):
            nodes = selectors.session_tree(session=root)
        assert len(nodes) == sum(TREE_LEVELS)

    def tree_sql() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT set_config('app.tenant_id', '{tenant}', true)")
            cursor.execute(selectors._TREE_SQL, params)
            assert len(cursor.fetchall()) == sum(TREE_LEVELS)

    def reopen() -> None:
        reopen_tree(root_id)

    def cancel_app() -> None:
        with tenant_context(tenant):
            cancelled, _tasks = services.session_cancel(session=root, actor=None, reason="benchmark")
        assert cancelled == sum(TREE_LEVELS)

    def cancel_sql() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT set_config('app.tenant_id', '{tenant}', true)")
            cursor.execute(sessions._CANCEL_SQL, {**params, "now": timezone.now(), "reason": "benchmark"})
            assert cursor.fetchone()[0] == sum(TREE_LEVELS)

    figures = [
        ("tree cost, 10,000 nodes", timed(repeat, nothing, tree_app), timed(repeat, nothing, tree_sql)),
        ("cancel, 10,000 nodes", timed(repeat, reopen, cancel_app), timed(repeat, reopen, cancel_sql)),
    ]
    return figures


# --- The run ------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured seconds per task figure.")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=8, help="Workers claiming (HTTP) / pgbench clients.")
    parser.add_argument("--limit", type=int, default=10, help="Tasks per HTTP claim.")
    parser.add_argument("--queue", type=int, default=60_000, help="Pending tasks before each figure.")
    parser.add_argument("--repeat", type=int, default=5, help="Timed runs per tree figure (median).")
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1) + 1))
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", DEFAULT_PORT)))
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", DEFAULT_DB))
    parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    app_url = os.environ.get("DATABASE_URL", "")
    if not app_url:
        sys.exit("DATABASE_URL is not set: run through `make bench-agents` (core/devdb.py).")
    url = bench_url(app_url, args.database)
    env = server_env(url)
    work = Path(tempfile.mkdtemp(prefix="qm-bench-agents-"))
    print(
        f"agents benchmark: {os.cpu_count()} CPUs, database {args.database}, gunicorn {args.workers} workers"
    )
    print(f"creating {args.database}, migrating, seeding ...", flush=True)
    made = fresh_database(
        app_url=app_url, database=args.database, env=env, module="bench.agents_bench", work=work
    )
    tenant, agent, key = made["tenant"], made["agent"], made["key"]

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DATABASE_URL"] = url
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()

    print(
        f"tasks: {args.clients} workers, a queue of {args.queue:,} pending tasks before each figure",
        flush=True,
    )
    fill_queue(tenant, agent, args.queue)
    bare = pgbench.run(url, pgbench_script(work, tenant), args.clients, args.seconds)
    print(f"  pgbench claim(1) + complete, {args.clients} clients: {bare.tps:8.0f} tasks/s", flush=True)

    fill_queue(tenant, agent, args.queue)
    project = servers.start(
        app="config.wsgi:application",
        base_port=args.port,
        workers=args.workers,
        threads=1,
        worker_class="gthread",
        placement="pinned",
        env=env,
        cwd=BASE_DIR,
    )
    try:
        http = http_workers(
            ports=project.ports,
            tenant=tenant,
            key=key,
            workers=args.clients,
            limit=args.limit,
            seconds=args.seconds,
            warmup=args.warmup,
        )
        print(
            f"  HTTP claim({args.limit}) + one batch complete, {args.clients} workers:"
            f" {http.rate:8.0f} tasks/s"
            f"  ({http.claims} claims, {http.empty} empty, {http.failures} failures)",
            flush=True,
        )
        fill_queue(tenant, agent, args.queue)
        single = http_workers(
            ports=project.ports,
            tenant=tenant,
            key=key,
            workers=args.clients,
            limit=args.limit,
            seconds=args.seconds,
            warmup=args.warmup,
            batch=False,
        )
        print(
            f"  HTTP claim({args.limit}) + complete each, {args.clients} workers: {single.rate:8.0f} tasks/s"
            f"  ({single.claims} claims, {single.empty} empty, {single.failures} failures)",
            flush=True,
        )
    finally:
        project.stop()

    print(
        f"tree: {sum(TREE_LEVELS):,} sessions in {len(TREE_LEVELS)} levels, median of {args.repeat}",
        flush=True,
    )
    trees = tree_figures(tenant, agent, args.repeat)

    workers = f"{args.clients} workers"
    rows = [
        (f"tasks claimed + completed /s, {workers}, batch", f"{http.rate:,.0f}", f"{bare.tps:,.0f}"),
        (
            f"(reference) the same, {workers}, one complete per task",
            f"{single.rate:,.0f}",
            f"{bare.tps:,.0f}",
        ),
    ]
    ratio = http.rate / bare.tps if bare.tps else 0.0
    ratio_single = single.rate / bare.tps if bare.tps else 0.0
    verdicts: list[tuple[str, str, bool | None]] = [
        (f"{ratio:.0%} of pgbench", f">= {TASK_TARGET:.0%}", ratio >= TASK_TARGET),
        (f"{ratio_single:.0%} of pgbench", "-", None),
    ]
    for what, app, statement in trees:
        rows.append((what, f"{app * 1000:,.1f} ms", f"{statement * 1000:,.1f} ms"))
        factor = app / statement if statement else 0.0
        verdicts.append((f"{factor:.2f}x the statement", f"<= {TREE_TARGET:.0f}x", factor <= TREE_TARGET))
    print()
    print("| figure | through the app | bare (pgbench / the statement) | ratio | target | |")
    print("|---|---|---|---|---|---|")
    for (what, app_text, bare_text), (ratio_text, target, met) in zip(rows, verdicts, strict=True):
        print(f"| {what} | {app_text} | {bare_text} | {ratio_text} | {target} | {_verdict(met)} |")

    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop_database(app_url, args.database)
    sys.exit(0 if all(met is not False for _, _, met in verdicts) else 1)


def _verdict(met: bool | None) -> str:
    return "reference" if met is None else "met" if met else "missed"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "seed":
        seed(Path(sys.argv[2]))
    else:
        main()
