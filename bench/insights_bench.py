"""`make bench-insights`: issue 14's benchmark, in one run:

(a) the daily analytics roll-up of one day holding 1,000,000 ledger entries and 100,000 agent
    sessions (spread over 1,000 tenants), through insights.services.analytics_rollup, beside the
    equivalent single aggregate (the same figures, GROUP BY GROUPING SETS over the ledger and the
    sessions, no upsert) run directly on the same connection; median of --repeat runs after a
    warm-up, and the ratio;
(b) the audit-log list's latency at 1,000,000 rows of one tenant, through the API (`GET
    /api/v1/tenants/{id}/audit-logs/` with an API key, Django's test client in this process: the
    whole request stack without the network): the first page, a deep cursor page (the cursor of
    the 900,000th entry), and a filtered query (an action 1 % of the entries carry); median of
    --repeat requests after a warm-up each.

The rows are generated with SQL (generate_series) straight into the tables, the audit log's
insert trigger computing each entry's hash chain as it would for the application's own.

Runs against the embedded PostgreSQL (core/devdb.py sets DATABASE_URL) in a database of its
own, `quartermaster_bench_insights` by default (--database), created afresh and dropped at the
end (--keep keeps it).

Usage: python -m core.devdb -- python -m bench.insights_bench [--repeat 5] [--keep]
"""

from __future__ import annotations

# ruff: noqa: S608  # the statements join this module's own constants, never input
import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.billing_bench import bench_url, drop_database, server_env
from bench.seeding import fresh_database

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB = "quartermaster_bench_insights"
TENANTS = 1000
LEDGER_ROWS = 1_000_000
SESSIONS = 100_000
AUDIT_ROWS = 1_000_000
DEEP = 900_000
AUDIT_BATCH = 1000

AUDIT_INSERT = """
INSERT INTO audit_auditlogentry (id, created_at, tenant_id, actor_type, actor_label, action, target_type,
       target_id, target_label, severity, user_agent, request_id, details, actor_role, updated_at,
       prev_hash, hash, chain_seq)
SELECT gen_random_uuid(), %(lo)s - interval '30 days' + n * interval '2 seconds', %(tenant)s, 'user',
       'owner@bench.example', CASE WHEN n %% 100 = 0 THEN 'bench.rare' ELSE 'agent.updated' END,
       'agents.agent', n::text, 'Worker ' || n, 'info', '', '', '{"n": 1}', 'owner', now(), '', '', 0
FROM generate_series(%(first)s::int, %(last)s::int) n
"""

# What the roll-up computes for the day, as one plain aggregate (no upsert, no joins of keys):
# the ledger's and the sessions' figures per tenant and for the platform.
BARE = """
WITH b AS (SELECT %(lo)s::timestamptz AS lo, %(hi)s::timestamptz AS hi)
SELECT COALESCE(l.k, s.k) AS k, l.charged, l.cost, l.tokens, l.granted, l.users,
       s.started, s.completed, s.failed, s.secs
FROM (
    SELECT COALESCE(t.tenant_id::text, '') AS k,
           -SUM(t.amount) FILTER (WHERE t.kind = 'usage') AS charged,
           SUM(t.provider_cost_usd) FILTER (WHERE t.kind IN ('usage', 'bypass')) AS cost,
           SUM(t.input_tokens + t.output_tokens) FILTER (WHERE t.kind IN ('usage', 'bypass')) AS tokens,
           SUM(t.amount) FILTER (WHERE t.kind IN ('grant', 'topup')) AS granted,
           COUNT(DISTINCT t.actor_user_id) AS users
    FROM billing_credittransaction t, b WHERE t.occurred_at >= b.lo AND t.occurred_at < b.hi
    GROUP BY GROUPING SETS ((t.tenant_id), ())
) l
FULL JOIN (
    SELECT COALESCE(s.tenant_id::text, '') AS k,
           COUNT(*) FILTER (WHERE s.started_at >= b.lo AND s.started_at < b.hi) AS started,
           COUNT(*) FILTER (WHERE s.status = 'completed' AND s.ended_at >= b.lo AND s.ended_at < b.hi)
               AS completed,
           COUNT(*) FILTER (WHERE s.status = 'failed' AND s.ended_at >= b.lo AND s.ended_at < b.hi) AS failed,
           AVG(EXTRACT(EPOCH FROM s.ended_at - s.started_at)) AS secs
    FROM agents_agentsession s, b
    WHERE (s.started_at >= b.lo AND s.started_at < b.hi) OR (s.ended_at >= b.lo AND s.ended_at < b.hi)
    GROUP BY GROUPING SETS ((s.tenant_id), ())
) s ON l.k = s.k
"""


def seed(out: Path) -> None:
    """(In a subprocess with the bench settings.) One tenant through the services (an owner, an
    API key reading the audit log); the other 999 tenants and their accounts, agents, users."""
    import django

    django.setup()
    from django.db import connection, transaction

    from bench.seeding import bench_tenant
    from core.tenancy import platform_bypass

    tenant, _owner, raw = bench_tenant(key_name="reader", scopes=["audit:read"])
    with transaction.atomic(), platform_bypass(reason="benchmark seed", log=False), connection.cursor() as c:
        c.execute(
            f"""
            INSERT INTO tenants_tenant (id, created_at, updated_at, name, slug, admin_email, status, plan,
                   timezone, model_defaults, resource_limits, suspension_reason, require_2fa)
            SELECT gen_random_uuid(), now(), now(), 'T' || n, 't-' || n, 't' || n || '@bench.example',
                   'active', 'growth', 'UTC', '{{}}', '{{}}', '', false
            FROM generate_series(2, {TENANTS}) n
            """
        )
        c.execute(
            """
            INSERT INTO billing_creditaccount (id, created_at, updated_at, tenant_id, balance, held,
                   unlimited, overdraft_limit)
            SELECT gen_random_uuid(), now(), now(), t.id, 1000000, 0, false, 0 FROM tenants_tenant t
            ON CONFLICT (tenant_id) DO NOTHING
            """
        )
        c.execute(
            f"""
            INSERT INTO accounts_user (id, password, is_superuser, email, full_name, is_staff, is_active,
                   date_joined, platform_role, locked_reason, updated_at)
            SELECT gen_random_uuid(), '!', false, 'u' || n || '@bench.example', '', false, true, now(),
                   'none', '', now()
            FROM generate_series(1, {TENANTS * 5}) n
            """
        )
        c.execute(
            """
            INSERT INTO agents_agent (id, created_at, updated_at, tenant_id, name, description, avatar_icon,
                   role, status, model_tier, thinking_mode, tool_policy, configuration, status_reason,
                   status_changed_at)
            SELECT gen_random_uuid(), now(), now(), t.id, 'Worker', '', '', 'engineering', 'active', 'sonnet',
                   'off', '{}', '{}', '', now() FROM tenants_tenant t
            """
        )
    out.write_text(json.dumps({"tenant": str(tenant.pk), "key": raw}))


def generate(day: date, audit_tenant: str) -> dict[str, float]:
    """The day's ledger and sessions, and the tenant's audit log, written with SQL: seconds each."""
    from django.db import connection, transaction

    from core.tenancy import platform_bypass

    lo = datetime.combine(day, day_time.min, tzinfo=UTC)
    spent: dict[str, float] = {}
    with transaction.atomic(), platform_bypass(reason="benchmark data", log=False), connection.cursor() as c:
        began = time.perf_counter()
        c.execute(
            """
            CREATE TEMP TABLE bench_tenants ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY t.id) - 1 AS k, t.id AS tenant_id, a.id AS account_id,
                   g.id AS agent_id
            FROM tenants_tenant t JOIN billing_creditaccount a ON a.tenant_id = t.id
            JOIN agents_agent g ON g.tenant_id = t.id
            """
        )
        c.execute(
            "CREATE TEMP TABLE bench_users ON COMMIT DROP AS"
            " SELECT row_number() OVER (ORDER BY id) - 1 AS k, id FROM accounts_user"
        )
        c.execute("SELECT count(*) FROM bench_tenants")
        tenants = c.fetchone()[0]
        c.execute("SELECT count(*) FROM bench_users")
        users = c.fetchone()[0]
        c.execute(
            f"""
            INSERT INTO billing_credittransaction (id, created_at, tenant_id, account_id, kind, amount,
                   balance_after, provider_cost_usd, markup_multiplier, model, input_tokens, output_tokens,
                   agent_id, idempotency_key, actor_user_id, description, metadata, occurred_at)
            SELECT gen_random_uuid(), %(lo)s + (n %% 86400) * interval '1 second', bt.tenant_id,
                   bt.account_id,
                   CASE WHEN n %% 100 = 0 THEN 'grant' ELSE 'usage' END,
                   CASE WHEN n %% 100 = 0 THEN 50 ELSE -0.0125 END, 1000,
                   CASE WHEN n %% 100 = 0 THEN 0 ELSE 0.0025 END, 5, 'claude-sonnet',
                   1000 + n %% 500, 200 + n %% 50, bt.agent_id, '', bu.id, '', '{{}}',
                   %(lo)s + (n %% 86400) * interval '1 second'
            FROM generate_series(0, {LEDGER_ROWS - 1}) n
            JOIN bench_tenants bt ON bt.k = n %% {tenants}
            JOIN bench_users bu ON bu.k = n %% {users}
            """,
            {"lo": lo},
        )
        spent["ledger"] = time.perf_counter() - began
        began = time.perf_counter()
        c.execute(
            f"""
            INSERT INTO agents_agentsession (id, created_at, updated_at, tenant_id, agent_id, root_id, depth,
                   status, started_at, ended_at, input_tokens, output_tokens, provider_cost_usd,
                   credits_charged, tree_credits_charged, error)
            SELECT s.id, now(), now(), bt.tenant_id, bt.agent_id, s.id, 0,
                   CASE WHEN n %% 10 = 0 THEN 'failed' WHEN n %% 10 = 1 THEN 'running' ELSE 'completed' END,
                   %(lo)s + (n %% 80000) * interval '1 second',
                   CASE WHEN n %% 10 = 1 THEN NULL
                        ELSE %(lo)s + (n %% 80000 + 30 + n %% 300) * interval '1 second' END,
                   1000, 200, 0.0025, 0.0125, 0.0125, ''
            FROM (SELECT n, gen_random_uuid() AS id FROM generate_series(0, {SESSIONS - 1}) n) s
            JOIN bench_tenants bt ON bt.k = s.n %% {tenants}
            """,
            {"lo": lo},
        )
        spent["sessions"] = time.perf_counter() - began
    # One tenant's log, oldest first, AUDIT_BATCH entries a transaction as the application writes
    # them (one or a few a transaction): the chain trigger numbers and hashes each entry and moves
    # the chain's head row, whose row versions one huge transaction would pile up (each entry then
    # walking all of them: quadratic).
    began = time.perf_counter()
    for first in range(1, AUDIT_ROWS + 1, AUDIT_BATCH):
        with (
            transaction.atomic(),
            platform_bypass(reason="benchmark data", log=False),
            connection.cursor() as c,
        ):
            c.execute(
                AUDIT_INSERT,
                {"lo": lo, "tenant": audit_tenant, "first": first, "last": first + AUDIT_BATCH - 1},
            )
    spent["audit"] = time.perf_counter() - began
    with connection.cursor() as c:
        for table in ("billing_credittransaction", "agents_agentsession", "audit_auditlogentry"):
            c.execute(f"VACUUM (ANALYZE) {table}")
    return spent


def timed(repeat: int, work: Callable[[], Any]) -> float:
    """The median seconds of `work` over `repeat` runs after a warm-up."""
    times = []
    for n in range(repeat + 1):
        began = time.perf_counter()
        work()
        if n:
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def rollup_figures(day: date, repeat: int) -> tuple[float, float, int]:
    from django.db import connection, transaction

    from core.tenancy import platform_bypass
    from insights.models import DailyAnalytics
    from insights.services import analytics_rollup

    lo = datetime.combine(day, day_time.min, tzinfo=UTC)
    rows = 0

    def app() -> None:
        analytics_rollup(day=day)

    def bare() -> None:
        nonlocal rows
        with transaction.atomic(), platform_bypass(reason="benchmark", log=False), connection.cursor() as c:
            c.execute(BARE, {"lo": lo, "hi": lo + timedelta(days=1)})
            rows = len(c.fetchall())

    through_app = timed(repeat, app)
    statement = timed(repeat, bare)
    with platform_bypass(reason="benchmark", log=False):
        written = DailyAnalytics.objects.filter(date=day).count()
    assert written == rows, (written, rows)
    return through_app, statement, written


def audit_figures(tenant: str, key: str, repeat: int) -> list[tuple[str, float, int]]:
    from django.db import connection
    from django.test import Client

    from core.tenancy import platform_bypass

    with platform_bypass(reason="benchmark", log=False), connection.cursor() as c:
        c.execute(
            "SELECT created_at FROM audit_auditlogentry WHERE tenant_id = %s"
            " ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
            [tenant, DEEP],
        )
        (deep_at,) = c.fetchone()
    # DRF's cursor: base64 of its tokens, the position being the ordering field's text.
    deep = base64.b64encode(urlencode({"p": str(deep_at)}).encode("ascii")).decode("ascii")
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Api-Key {key}")
    base = f"/api/v1/tenants/{tenant}/audit-logs/"
    out = []
    for what, query in (
        ("first page (100 entries)", ""),
        (f"deep cursor page (after entry {DEEP:,})", f"?{urlencode({'cursor': deep})}"),
        ("filtered: action=bench.rare (1 %), first page", "?action=bench.rare"),
    ):
        count = 0

        def call(url: str = base + query) -> None:
            nonlocal count
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]
            count = len(response.json()["results"])

        out.append((what, timed(repeat, call), count))
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Timed runs of each figure (median).")
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE", DEFAULT_DB))
    parser.add_argument("--keep", action="store_true", help="Keep the bench database afterwards.")
    return parser.parse_args()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "seed":
        seed(Path(sys.argv[2]))
        return
    args = parse_args()
    app_url = os.environ.get("DATABASE_URL", "")
    if not app_url:
        sys.exit("DATABASE_URL is not set: run through `make bench-insights` (core/devdb.py).")
    url = bench_url(app_url, args.database)
    env = server_env(url)
    work = Path(tempfile.mkdtemp(prefix="qm-bench-insights-"))
    print(f"insights benchmark: {os.cpu_count()} CPUs, database {args.database}")
    print(f"creating {args.database}, migrating, seeding ...", flush=True)
    made = fresh_database(
        app_url=app_url, database=args.database, env=env, module="bench.insights_bench", work=work
    )
    os.environ.update(
        {k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_DEBUG", "LOG_LEVEL")}
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()

    day = datetime.now(UTC).date() - timedelta(days=1)
    print(
        f"generating {LEDGER_ROWS:,} ledger entries and {SESSIONS:,} sessions on {day}"
        f" over {TENANTS:,} tenants,"
        f" {AUDIT_ROWS:,} audit entries of one tenant ...",
        flush=True,
    )
    spent = generate(day, made["tenant"])
    print("  " + ", ".join(f"{what} {seconds:.1f} s" for what, seconds in spent.items()), flush=True)

    through_app, statement, written = rollup_figures(day, args.repeat)
    audit = audit_figures(made["tenant"], made["key"], args.repeat)

    print()
    print(
        f"| roll-up of one day (median of {args.repeat}) | through the service"
        " | the single aggregate | ratio |"
    )
    print("|---|---|---|---|")
    print(
        f"| {LEDGER_ROWS:,} ledger entries, {SESSIONS:,} sessions, {written:,} rows"
        f" | {through_app * 1000:,.0f} ms | {statement * 1000:,.0f} ms | {through_app / statement:.2f}x |"
    )
    print()
    print(f"| audit-log list, {AUDIT_ROWS:,} entries (median of {args.repeat}) | latency | entries |")
    print("|---|---|---|")
    for what, seconds, count in audit:
        print(f"| {what} | {seconds * 1000:,.1f} ms | {count} |")

    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop_database(app_url, args.database)


if __name__ == "__main__":
    main()
