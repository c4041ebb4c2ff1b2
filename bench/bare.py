"""A bare WSGI reference for the charge endpoint: what a charge costs in Python without Django.

`make bench-billing` serves this callable with the same gunicorn configuration as the project
(`gunicorn bench.bare:application`) and compares the CPU its workers spend per charge with the
project's `POST /api/v1/tenants/{id}/usage`. It does what that endpoint must do, and nothing
else, in plain Python:

- authenticates the `Api-Key` by its SHA-256 through the same database function
  (`qm_api_key_by_hash`), refusing an unknown, revoked or expired key, an inactive creator, an
  address outside the key's allow-list, a key of another tenant or without `credits:write`;
- sets the row-level-security settings and reads the membership (role permissions, tenant
  status) under them, pipelined in one round trip, and refuses a non-member, a role without
  `credits:write` and a suspended tenant;
- sends the service's own statements from billing/services/_sql.py (the idempotency claim +
  context read, the one-statement charge), as pgbench's script does, over one persistent
  psycopg connection per worker with server-side binding and prepared statements, in one
  transaction, and answers the response body the statement built (a replay for a repeated key).

Left out, though the project's endpoint does them: the per-key rate limit (one Redis round
trip), the last-use write (once a minute per key), the request log and metrics, low-balance
alerts, unlimited accounts' bypass entries (the benchmark's accounts are funded, not unlimited).
Not a product endpoint: it is not in any URL map, and nothing but the benchmark serves it.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import ipaddress
import json
import os
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def _load_sql() -> ModuleType:
    """billing/services/_sql.py on its own: importing the package would set up Django."""
    path = Path(__file__).resolve().parent.parent / "billing" / "services" / "_sql.py"
    spec = importlib.util.spec_from_file_location("bench_billing_sql", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_sql = _load_sql()

PERMISSION = "credits:write"
ENDPOINT = "usage"
DEFAULT_MARKUP = Decimal("5.0")
MILLION = Decimal(1_000_000)
USD, CREDIT, MARKUP = Decimal("0.000000000001"), Decimal("0.000001"), Decimal("0.0001")
MAX_TOKENS = 10**12
# The row-level-security settings (core/tenancy.py), set for the transaction only.
SETTINGS_SQL = (
    "SELECT set_config('app.tenant_id', %s, true), set_config('app.user_id', %s, true),"
    " set_config('app.bypass_rls', '', true)"
)
KEY_SQL = (
    "SELECT k.id, k.tenant_id, k.created_by_id, k.key_hash, k.scopes, k.allowed_ips, k.revoked_at,"
    " k.expires_at, u.is_active, u.platform_role FROM qm_api_key_by_hash(%s) k"
    " JOIN accounts_user u ON u.id = k.created_by_id"
)
MEMBERSHIP_SQL = (
    "SELECT r.permissions, t.status FROM tenants_membership m"
    " JOIN tenants_tenant t ON t.id = m.tenant_id JOIN accounts_role r ON r.id = m.role_id"
    " WHERE m.tenant_id = %s AND m.user_id = %s"
)
TENANT_SQL = "SELECT status FROM tenants_tenant WHERE id = %s"  # a platform admin's key, no membership
PREFIX = (
    '{{"id":"{id}","kind":"usage","amount":"{amount}","provider_cost_usd":"{cost}",'
    '"markup_multiplier":"{markup}","model":{model},"input_tokens":{input_tokens},'
    '"output_tokens":{output_tokens},"agent_id":null,"session_id":null,'
    '"reservation_id":null,"refund_of":null,"idempotency_key":{key},"description":"",'
    '"metadata":{{}},"occurred_at":"{at}","created_at":"{at}","balance_after":"'
)
SUFFIX = '"}'

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
Cursor = psycopg.Cursor[Any]


class Refused(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required"}
_REASONS |= {403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict"}
_connection: psycopg.Connection[Any] | None = None


def _conn() -> psycopg.Connection[Any]:
    """This worker's connection, opened on its first request (after gunicorn's fork)."""
    global _connection  # one persistent connection per worker process
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["DATABASE_URL"], prepare_threshold=5)
    return _connection


def _answer(start_response: StartResponse, status: int, body: str) -> Iterable[bytes]:
    data = body.encode()
    start_response(
        f"{status} {_REASONS.get(status, '')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


def _event(body: bytes) -> tuple[str, int, int]:
    try:
        data = json.loads(body)
    except ValueError:
        raise Refused(400, "parse_error", "The body is not JSON.") from None
    model, tokens_in, tokens_out = data.get("model"), data.get("input_tokens"), data.get("output_tokens")
    if not isinstance(model, str) or not 0 < len(model) <= 100:
        raise Refused(400, "invalid", "model: a model name is required.")
    for value in (tokens_in, tokens_out):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOKENS:
            raise Refused(400, "invalid", "input_tokens, output_tokens: whole numbers.")
    return model, tokens_in, tokens_out


def _authenticate(cursor: Cursor, header: str, remote: str, tenant: uuid.UUID) -> tuple[Any, Any]:
    """(user id, key id) of a usable key of this tenant allowed to charge, else Refused."""
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "api-key" or not raw or len(raw) > 256:
        raise Refused(401, "not_authenticated", "Authentication credentials were not provided.")
    digest = hashlib.sha256(raw.strip().encode()).hexdigest()
    cursor.execute(KEY_SQL, [digest])
    row = cursor.fetchone()
    now = datetime.now(UTC)
    if (
        row is None
        or not hmac.compare_digest(row[3], digest)
        or row[6] is not None
        or (row[7] is not None and row[7] <= now)
        or not row[8]
    ):
        raise Refused(401, "invalid_api_key", "Invalid API key.")
    key_id, key_tenant, user_id, _hash, scopes, allowed, _revoked, _expires, _active, platform_role = row
    address = ipaddress.ip_address(remote) if allowed else None
    if allowed and not any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowed):
        raise Refused(403, "ip_not_allowed", "This API key may not be used from this IP address.")
    if key_tenant != tenant:
        raise Refused(403, "api_key_wrong_tenant", "This API key belongs to another tenant.")
    # The membership under the tenant's RLS settings, set in the same round trip.
    with cursor.connection.pipeline():
        cursor.execute(SETTINGS_SQL, [str(tenant), str(user_id)])
        cursor.execute(MEMBERSHIP_SQL, [tenant, user_id])
        member = cursor.fetchone()
    admin = platform_role == "platform_admin"
    if member is None and admin:
        cursor.execute(TENANT_SQL, [tenant])
        member = ([PERMISSION], (cursor.fetchone() or ("",))[0])
    if member is None:
        raise Refused(403, "not_a_member", "You are not a member of this tenant.")
    permissions, status = member
    if PERMISSION not in scopes or not (admin or PERMISSION in permissions):
        raise Refused(403, "missing_permission", f"This needs the {PERMISSION} permission.")
    if status == "suspended":
        raise Refused(403, "tenant_suspended", "This tenant is suspended.")
    return user_id, key_id


def _charge(
    cursor: Cursor, tenant: uuid.UUID, key: str, event: tuple[str, int, int], who: tuple[Any, Any]
) -> tuple[int, str]:
    model, tokens_in, tokens_out = event
    now = datetime.now(UTC)
    fingerprint = hashlib.sha256(f"{ENDPOINT}\x1f{model}\x1f{tokens_in}\x1f{tokens_out}".encode()).hexdigest()
    cursor.execute(
        _sql.CONTEXT,
        {
            "now": now,
            "tenant": tenant,
            "key": key,
            "endpoint": ENDPOINT,
            "fingerprint": fingerprint,
            "default_markup": DEFAULT_MARKUP,
            "model": model,
            "at": now,
            "reservation": None,
        },
    )
    row = cursor.fetchone()
    assert row is not None
    account, _unlimited, markup, price_in, price_out, claim = row[:6]
    if claim is None:  # a repeated key: the stored answer
        record = row[6:10]
        if record[0] is None:
            cursor.execute(_sql.RECORD, {"tenant": tenant, "key": key})
            record = cursor.fetchone()
        if record is None or record[1] != fingerprint or not record[2]:
            raise Refused(409, "idempotency_key_reused", "This Idempotency-Key was used for another request.")
        return record[2], str(record[3])
    if price_in is None or account is None:
        raise Refused(400, "unknown_model", "No price in force for this model.")
    markup = Decimal(markup).quantize(MARKUP, rounding=ROUND_HALF_UP)
    cost = ((tokens_in * price_in + tokens_out * price_out) / MILLION).quantize(USD, rounding=ROUND_HALF_UP)
    debit = (cost * markup).quantize(CREDIT, rounding=ROUND_HALF_UP)
    entry = uuid.uuid4()
    at = now.isoformat().replace("+00:00", "Z")
    prefix = PREFIX.format(
        id=entry,
        amount=f"{-debit:f}" if debit else "0.000000",
        cost=f"{cost:f}",
        markup=f"{markup:f}",
        model=json.dumps(model),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        key=json.dumps(key),
        at=at,
    )
    cursor.execute(
        _sql.POST_ENTRY,
        {
            "now": now,
            "account": account,
            "delta": -debit,
            "count_held": True,
            "entry": entry,
            "kind": "usage",
            "cost": cost,
            "markup": markup,
            "model": model,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "agent": None,
            "session": None,
            "reservation": None,
            "refund_of": None,
            "key": key,
            "actor": who[0],
            "api_key": who[1],
            "description": "",
            "metadata": Jsonb({}),
            "occurred_at": now,
            "prefix": prefix,
            "suffix": SUFFIX,
            "claim": claim,
            "status": 201,
        },
    )
    charged = cursor.fetchone()
    if charged is None or charged[0] is None:  # (balance, body, thresholds, available)
        raise Refused(402, "insufficient_credits", "Not enough credits.")
    return 201, charged[1]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """POST /bare/tenants/{tenant_id}/usage with `Authorization: Api-Key ...` and an
    `Idempotency-Key`; the body `{"model": ..., "input_tokens": ..., "output_tokens": ...}`."""
    parts = environ.get("PATH_INFO", "").split("/")
    if environ.get("REQUEST_METHOD") == "GET" and parts[1:] == ["healthz"]:
        return _answer(start_response, 200, '{"status":"ok"}')
    if len(parts) != 5 or parts[1:3] != ["bare", "tenants"] or parts[4] != "usage":
        return _answer(start_response, 404, '{"type":"error","code":"not_found"}')
    if environ.get("REQUEST_METHOD") != "POST":
        return _answer(start_response, 405, '{"type":"error","code":"method_not_allowed"}')
    conn = _conn()
    try:
        try:
            tenant = uuid.UUID(parts[3])
        except ValueError:
            raise Refused(404, "not_found", "No such tenant.") from None
        key = environ.get("HTTP_IDEMPOTENCY_KEY", "")
        if not key or len(key) > 255:
            raise Refused(400, "idempotency_key_required", "An Idempotency-Key header is required.")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        event = _event(environ["wsgi.input"].read(min(length, 1 << 20)))
        with conn.cursor() as cursor:
            who = _authenticate(
                cursor, environ.get("HTTP_AUTHORIZATION", ""), environ.get("REMOTE_ADDR", ""), tenant
            )
            status, body = _charge(cursor, tenant, key, event, who)
        conn.commit()
    except Refused as refused:
        conn.rollback()
        detail = json.dumps({"type": "error", "code": refused.code, "detail": refused.detail, "errors": {}})
        return _answer(start_response, refused.status, detail)
    except BaseException:
        conn.rollback()
        raise
    return _answer(start_response, status, body)
