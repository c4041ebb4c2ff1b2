"""The SQL statements of the ledger's write paths.

Why raw SQL: an account row is locked from the moment a statement updates it until COMMIT. If
the lock were taken by `select_for_update()` and the entry written by further ORM calls, the
row would stay locked across several Python round trips, and a busy tenant's charges would
queue behind them (a naive ORM charge endpoint manages ~590 charges/s on two cores). Here the
balance check, the balance update, the ledger entry, the stored idempotent response and the
low-balance crossing state are ONE statement (data-modifying CTEs), so the locked section is
that statement plus COMMIT.

Conventions:
- The account's check sits in the UPDATE's WHERE clause. PostgreSQL re-evaluates it against the
  newest row version after waiting for a concurrent writer's lock (READ COMMITTED), so two
  charges can never both spend the same credit; a refused check updates no row, and the
  dependent CTEs then write nothing.
- Statements that need a lock on more than one kind of row take them in one order everywhere:
  idempotency claim, then reservation, then account. No statement locks two accounts.
- The response body is built in Python before the statement, split around balance_after (the
  one value only the statement knows), and joined by the statement: the stored bytes and the
  bytes sent are the same.
"""

from __future__ import annotations

import re

# ruff: noqa: S608  # the f-strings below join this module's own constants, never input

LEDGER_COLUMNS = """
    id, created_at, tenant_id, account_id, kind, amount, balance_after, provider_cost_usd,
    markup_multiplier, model, input_tokens, output_tokens, agent_id, agent_session_id,
    reservation_id, refund_of_id, idempotency_key, actor_user_id, actor_api_key_id, description,
    metadata, occurred_at
"""

# Thresholds whose state flips with the new balance: below=true rows are crossings (one alert
# each), below=false rows re-armed. In the statement that moves the balance, under its lock,
# so two concurrent charges cannot both see the same crossing.
_THRESHOLDS_CTE = """
thr AS (
    UPDATE billing_lowbalancethreshold t
       SET below = (acct.balance < t.threshold),
           last_crossed_at = CASE WHEN acct.balance < t.threshold THEN %(now)s ELSE t.last_crossed_at END,
           alerts_sent = t.alerts_sent + CASE WHEN acct.balance < t.threshold THEN 1 ELSE 0 END,
           updated_at = %(now)s
      FROM acct
     WHERE t.account_id = acct.id AND t.below <> (acct.balance < t.threshold)
    RETURNING t.id, t.threshold, t.below
)"""
_THRESHOLDS_JSON = """(
    SELECT coalesce(json_agg(json_build_object('id', id, 'threshold', threshold::text, 'below', below)), '[]')
      FROM thr
)"""

# The tenant's monthly credit cap (resource_limits.monthly_credit_cap; null: none) and the month
# now is in, the calendar month in the tenant's time zone (its first day). The account keeps what
# usage charged in that month (month_charged, for month_start): the charge that moves the balance
# moves it too, in the same statement, and a charge that would take it past the cap updates no
# row, like one past the balance. A new month starts the count again from 0. Read by primary key
# beside the account's row: no extra round trip on the hot path.
_MONTH_CTE = """
lim AS (
    SELECT a.id, nullif(t.resource_limits->>'monthly_credit_cap', '')::numeric AS cap,
           date_trunc('month', %(now)s AT TIME ZONE t.timezone)::date AS month
      FROM billing_creditaccount a JOIN tenants_tenant t ON t.id = a.tenant_id
     WHERE a.id = %(account)s
)"""
# What usage charged this month before this statement (the row's count is of an older month: 0).
_MONTH_USED = "CASE WHEN a.month_start = lim.month THEN a.month_charged ELSE 0 END"
# Two more result columns where a refusal must say why: this month's usage and the cap.
_MONTH_RESULT = f"""(SELECT {_MONTH_USED} FROM billing_creditaccount a, lim WHERE a.id = lim.id),
       (SELECT cap FROM lim)"""

# Claim the idempotency key (if any) and read what a write needs: the account, the markup in
# force (tenant override, else plan, else the default), the model's (else the reservation's
# model's) price in force at the usage time, the reservation named (if any), and a previous
# response under this key. One row, read as billing.services.idempotency.WriteContext: the
# column names are its field names, in its order (a test holds them equal).
# A claim that collides with a concurrent, uncommitted claim waits for it; if that one commits,
# this claim returns no row and the caller re-reads the record in a new statement.
CONTEXT = """
WITH claim AS (
    INSERT INTO billing_idempotencyrecord
           (id, created_at, updated_at, tenant_id, key, endpoint, fingerprint, status_code, response_body)
    SELECT gen_random_uuid(), %(now)s, %(now)s, %(tenant)s, %(key)s, %(endpoint)s, %(fingerprint)s, 0, ''
     WHERE %(key)s <> ''
    ON CONFLICT (tenant_id, key) DO NOTHING
    RETURNING id
)
SELECT a.id AS account_id, a.unlimited,
       coalesce(s.markup_multiplier_override, p.markup_multiplier, %(default_markup)s) AS markup,
       pr.input_usd_per_mtok AS input_price, pr.output_usd_per_mtok AS output_price,
       (SELECT id FROM claim) AS claim_id,
       r.endpoint AS record_endpoint, r.fingerprint AS record_fingerprint,
       r.status_code AS record_status_code, r.response_body AS record_body,
       res.id AS hold_id, res.account_id AS hold_account_id, res.amount AS hold_amount,
       res.status AS hold_status, res.expires_at AS hold_expires_at, res.model AS hold_model,
       res.agent_id AS hold_agent_id, res.agent_session_id AS hold_session_id,
       res.description AS hold_description, res.idempotency_key AS hold_key,
       res.created_at AS hold_created_at
  FROM (SELECT 1) AS one
  LEFT JOIN billing_creditaccount a ON a.tenant_id = %(tenant)s
  LEFT JOIN billing_subscription s ON s.tenant_id = %(tenant)s
  LEFT JOIN billing_plan p ON p.id = s.plan_id
  LEFT JOIN billing_reservation res ON res.id = %(reservation)s AND res.tenant_id = %(tenant)s
  LEFT JOIN LATERAL (
        SELECT input_usd_per_mtok, output_usd_per_mtok FROM billing_modelprice
         WHERE model = coalesce(nullif(%(model)s, ''), res.model) AND effective_from <= %(at)s
         ORDER BY effective_from DESC LIMIT 1
  ) pr ON true
  LEFT JOIN billing_idempotencyrecord r ON r.tenant_id = %(tenant)s AND r.key = %(key)s AND %(key)s <> ''
"""

# A key's record, as billing.services.idempotency.Stored (the batch's: the key, then that).
RECORD = """
SELECT endpoint, fingerprint, status_code, response_body AS body FROM billing_idempotencyrecord
 WHERE tenant_id = %(tenant)s AND key = %(key)s
"""

ENSURE_ACCOUNT = """
INSERT INTO billing_creditaccount
       (id, created_at, updated_at, tenant_id, balance, held, unlimited, overdraft_limit)
VALUES (gen_random_uuid(), now(), now(), %(tenant)s, 0, 0, false, 0)
ON CONFLICT (tenant_id) DO NOTHING
"""

# One entry of any kind. delta is the signed change of the balance. A debit must fit: with
# count_held, in the available balance (balance less open holds: usage); without, above the
# overdraft floor (staff adjustments, which may dip into credits held for others).
POST_ENTRY = f"""
WITH {_MONTH_CTE}, acct AS (
    UPDATE billing_creditaccount a
       SET balance = a.balance + %(delta)s, updated_at = %(now)s,
           month_charged = {_MONTH_USED} + CASE WHEN %(kind)s = 'usage' THEN -%(delta)s ELSE 0 END,
           month_start = lim.month
      FROM lim
     WHERE a.id = lim.id
       AND (%(delta)s >= 0
            OR a.balance + %(delta)s - CASE WHEN %(count_held)s THEN a.held ELSE 0 END >= -a.overdraft_limit)
       AND (%(kind)s <> 'usage' OR lim.cap IS NULL OR {_MONTH_USED} - %(delta)s <= lim.cap)
    RETURNING a.id, a.tenant_id, a.balance
), entry AS (
    INSERT INTO billing_credittransaction ({LEDGER_COLUMNS})
    SELECT %(entry)s, %(now)s, acct.tenant_id, acct.id, %(kind)s, %(delta)s, acct.balance,
           %(cost)s, %(markup)s, %(model)s, %(input_tokens)s, %(output_tokens)s, %(agent)s, %(session)s,
           %(reservation)s, %(refund_of)s, %(key)s, %(actor)s, %(api_key)s, %(description)s,
           %(metadata)s, %(occurred_at)s
      FROM acct
    RETURNING id
), body AS (
    SELECT %(prefix)s || acct.balance::text || %(suffix)s AS text FROM acct
), stored AS (
    UPDATE billing_idempotencyrecord r
       SET status_code = %(status)s, response_body = body.text, updated_at = %(now)s
      FROM body
     WHERE r.id = %(claim)s
    RETURNING r.id
), {_THRESHOLDS_CTE}
SELECT acct.balance, body.text, {_THRESHOLDS_JSON},
       (SELECT balance - held + overdraft_limit FROM billing_creditaccount WHERE id = %(account)s),
       {_MONTH_RESULT}
  FROM (SELECT 1) AS one LEFT JOIN acct ON true LEFT JOIN body ON true
"""

HOLD = """
WITH acct AS (
    UPDATE billing_creditaccount
       SET held = held + %(amount)s, updated_at = %(now)s
     WHERE id = %(account)s AND (unlimited OR balance - held - %(amount)s >= -overdraft_limit)
    RETURNING id, tenant_id
), res AS (
    INSERT INTO billing_reservation
           (id, created_at, updated_at, tenant_id, account_id, amount, status, expires_at, model,
            agent_id, agent_session_id, description, idempotency_key, created_by_id,
            created_by_api_key_id)
    SELECT %(reservation)s, %(now)s, %(now)s, acct.tenant_id, acct.id, %(amount)s, 'open',
           %(expires_at)s, %(model)s, %(agent)s, %(session)s, %(description)s, %(key)s, %(actor)s,
           %(api_key)s
      FROM acct
    RETURNING id
), stored AS (
    UPDATE billing_idempotencyrecord r
       SET status_code = %(status)s, response_body = %(body)s, updated_at = %(now)s
     WHERE r.id = %(claim)s AND EXISTS (SELECT 1 FROM acct)
    RETURNING r.id
)
SELECT (SELECT count(*) FROM res),
       (SELECT balance - held + overdraft_limit FROM billing_creditaccount WHERE id = %(account)s)
"""

# Close an open hold and charge the actual usage, releasing the rest, in one statement. If the
# hold is closed already, nothing happens; if the charge does not fit, the caller rolls back.
SETTLE = f"""
WITH res AS (
    UPDATE billing_reservation
       SET status = 'settled', settled_amount = %(debit)s, closed_at = %(now)s, updated_at = %(now)s
     WHERE id = %(reservation)s AND tenant_id = %(tenant)s AND status = 'open'
    RETURNING id, account_id, amount
), {_MONTH_CTE}, acct AS (
    UPDATE billing_creditaccount a
       SET balance = a.balance - %(debit)s, held = a.held - res.amount, updated_at = %(now)s,
           month_charged = {_MONTH_USED} + %(debit)s, month_start = lim.month
      FROM res, lim
     WHERE a.id = res.account_id AND a.id = lim.id
       AND (%(debit)s = 0 OR a.balance - (a.held - res.amount) - %(debit)s >= -a.overdraft_limit)
       AND (%(debit)s = 0 OR lim.cap IS NULL OR {_MONTH_USED} + %(debit)s <= lim.cap)
    RETURNING a.id, a.tenant_id, a.balance
), entry AS (
    INSERT INTO billing_credittransaction ({LEDGER_COLUMNS})
    SELECT %(entry)s, %(now)s, acct.tenant_id, acct.id, %(kind)s, -%(debit)s, acct.balance,
           %(cost)s, %(markup)s, %(model)s, %(input_tokens)s, %(output_tokens)s, %(agent)s, %(session)s,
           %(reservation)s, NULL, %(key)s, %(actor)s, %(api_key)s, %(description)s, %(metadata)s,
           %(occurred_at)s
      FROM acct
    RETURNING id
), body AS (
    SELECT %(prefix)s || acct.balance::text || %(suffix)s AS text FROM acct
), stored AS (
    UPDATE billing_idempotencyrecord r
       SET status_code = %(status)s, response_body = body.text, updated_at = %(now)s
      FROM body
     WHERE r.id = %(claim)s
    RETURNING r.id
), {_THRESHOLDS_CTE}
SELECT (SELECT count(*) FROM res), acct.balance, body.text, {_THRESHOLDS_JSON},
       (SELECT balance - held + overdraft_limit FROM billing_creditaccount WHERE id = %(account)s),
       {_MONTH_RESULT}
  FROM (SELECT 1) AS one LEFT JOIN acct ON true LEFT JOIN body ON true
"""

RELEASE = """
WITH res AS (
    UPDATE billing_reservation
       SET status = 'released', closed_at = %(now)s, updated_at = %(now)s
     WHERE id = %(reservation)s AND tenant_id = %(tenant)s AND status = 'open'
    RETURNING id, account_id, amount
), acct AS (
    UPDATE billing_creditaccount a
       SET held = a.held - res.amount, updated_at = %(now)s
      FROM res
     WHERE a.id = res.account_id
    RETURNING a.id
), stored AS (
    UPDATE billing_idempotencyrecord r
       SET status_code = %(status)s, response_body = %(body)s, updated_at = %(now)s
     WHERE r.id = %(claim)s AND EXISTS (SELECT 1 FROM res)
    RETURNING r.id
)
SELECT (SELECT count(*) FROM res), (SELECT count(*) FROM acct)
"""

# Expire one account's due holds. SKIP LOCKED: a hold being settled or released right now is
# that request's; if it is still open afterwards, the next run takes it. Exactly once: only a
# hold still 'open' is closed, whoever gets there first.
EXPIRE_ACCOUNT = """
WITH due AS (
    SELECT id FROM billing_reservation
     WHERE account_id = %(account)s AND status = 'open' AND expires_at <= %(now)s
     ORDER BY id
       FOR UPDATE SKIP LOCKED
), res AS (
    UPDATE billing_reservation r
       SET status = 'expired', closed_at = %(now)s, updated_at = %(now)s
      FROM due
     WHERE r.id = due.id AND r.status = 'open'
    RETURNING r.id, r.amount
), acct AS (
    UPDATE billing_creditaccount a
       SET held = a.held - (SELECT sum(amount) FROM res), updated_at = %(now)s
     WHERE a.id = %(account)s AND EXISTS (SELECT 1 FROM res)
    RETURNING a.id
)
SELECT count(*), coalesce(sum(amount), 0), (SELECT count(*) FROM acct) FROM res
"""

# --- The batch ---------------------------------------------------------------------------------

BATCH_CONTEXT = """
SELECT a.id AS account_id, a.unlimited,
       coalesce(s.markup_multiplier_override, p.markup_multiplier, %(default_markup)s) AS markup,
       (SELECT coalesce(array_agg(ARRAY[mp.model, mp.effective_from::text, mp.input_usd_per_mtok::text,
                                        mp.output_usd_per_mtok::text]), '{}')
          FROM billing_modelprice mp WHERE mp.model = ANY(%(models)s)) AS prices
  FROM (SELECT 1) AS one
  LEFT JOIN billing_creditaccount a ON a.tenant_id = %(tenant)s
  LEFT JOIN billing_subscription s ON s.tenant_id = %(tenant)s
  LEFT JOIN billing_plan p ON p.id = s.plan_id
"""

# Claims in key order: two batches sharing keys then wait on each other in the same order and
# cannot deadlock. Per-event values travel as one JSON document (json_to_recordset): quoting a
# thousand-element array per column costs the client far more than PostgreSQL's JSON parser.
BATCH_CLAIM = """
INSERT INTO billing_idempotencyrecord
       (id, created_at, updated_at, tenant_id, key, endpoint, fingerprint, status_code, response_body)
SELECT gen_random_uuid(), %(now)s, %(now)s, %(tenant)s, e.key, %(endpoint)s, e.fingerprint, 0, ''
  FROM json_to_recordset(%(claims)s::json) AS e(key text, fingerprint text)
 ORDER BY e.key
ON CONFLICT (tenant_id, key) DO NOTHING
RETURNING key, id
"""

BATCH_RECORDS = """
SELECT key, endpoint, fingerprint, status_code, response_body AS body FROM billing_idempotencyrecord
 WHERE tenant_id = %(tenant)s AND key = ANY(%(keys)s)
"""

# The whole batch under one lock, in one statement: events are admitted in order, each as if it
# were a single charge (a refused event leaves the balance for the next ones): by a running sum
# when the whole batch fits, else by a recursive walk over the debits; admitted events get their
# entries and stored responses, refused ones lose their claims (nothing is written for them, as
# for a single charge).
BATCH_CHARGE = f"""
WITH RECURSIVE ev AS (
    SELECT * FROM json_to_recordset(%(events)s::json) AS e(
        i bigint, id uuid, claim uuid, kind text, debit numeric, cost numeric, model text,
        input_tokens bigint, output_tokens bigint, agent uuid, session uuid, key text,
        description text, metadata jsonb, occurred_at timestamptz, prefix text)
), debits AS (
    SELECT array_agg(debit ORDER BY i) AS d FROM ev
), {_MONTH_CTE}, acct AS (
    -- used: what usage charged this month before the batch (the monthly credit cap's count).
    SELECT a.id, a.tenant_id, a.balance, a.held, a.overdraft_limit, {_MONTH_USED} AS used, lim.cap
      FROM billing_creditaccount a JOIN lim ON lim.id = a.id
       FOR UPDATE OF a
), fits AS (
    -- The common case: the whole batch fits, so every event is admitted (debits are never
    -- negative, so each prefix fits too) and a running sum gives the balances. Only a batch
    -- that does not fit takes the walk below, which is quadratic in the batch's size.
    SELECT acct.balance - acct.held - (SELECT coalesce(sum(debit), 0) FROM ev) >= -acct.overdraft_limit
           AND (acct.cap IS NULL OR acct.used + (SELECT coalesce(sum(debit), 0) FROM ev) <= acct.cap)
           AS ok
      FROM acct
), run (i, bal, used, ok, capped) AS (
    SELECT 0::bigint, acct.balance::numeric, acct.used::numeric, false, false
      FROM acct WHERE NOT (SELECT ok FROM fits)
    UNION ALL
    SELECT run.i + 1, CASE WHEN s.ok THEN run.bal - s.d ELSE run.bal END,
           CASE WHEN s.ok THEN run.used + s.d ELSE run.used END, s.ok, s.capped
      FROM run
     CROSS JOIN acct
     CROSS JOIN debits
     CROSS JOIN LATERAL (SELECT debits.d[run.i + 1] AS d) AS dd
     CROSS JOIN LATERAL (
           SELECT dd.d AS d, (dd.d > 0 AND acct.cap IS NOT NULL AND run.used + dd.d > acct.cap) AS capped,
                  (dd.d = 0 OR run.bal - acct.held - dd.d >= -acct.overdraft_limit
                               AND (acct.cap IS NULL OR run.used + dd.d <= acct.cap)) AS ok
     ) AS s
     WHERE run.i < %(n)s
), walk AS (
    SELECT i, bal, used, ok, capped FROM run WHERE i > 0
    UNION ALL
    SELECT ev.i, acct.balance - sum(ev.debit) OVER (ORDER BY ev.i),
           acct.used + sum(ev.debit) OVER (ORDER BY ev.i), true, false
      FROM ev CROSS JOIN acct
     WHERE (SELECT ok FROM fits)
), adm AS (
    SELECT i, bal FROM walk WHERE ok
), fin AS (
    SELECT bal AS balance, used FROM walk ORDER BY i DESC LIMIT 1
), upd AS (
    UPDATE billing_creditaccount a
       SET balance = fin.balance, updated_at = %(now)s, month_charged = fin.used,
           month_start = (SELECT month FROM lim)
      FROM fin
     WHERE a.id = %(account)s AND EXISTS (SELECT 1 FROM adm)
    RETURNING a.id, a.balance
), entry AS (
    INSERT INTO billing_credittransaction ({LEDGER_COLUMNS})
    SELECT ev.id, %(now)s, %(tenant)s, %(account)s, ev.kind, -ev.debit, adm.bal, ev.cost, %(markup)s,
           ev.model, ev.input_tokens, ev.output_tokens, ev.agent, ev.session, NULL, NULL, ev.key,
           %(actor)s, %(api_key)s, ev.description, ev.metadata, ev.occurred_at
      FROM adm JOIN ev ON ev.i = adm.i
     ORDER BY adm.i
    RETURNING id
), stored AS (
    UPDATE billing_idempotencyrecord r
       SET status_code = 201, response_body = ev.prefix || adm.bal::text || %(suffix)s, updated_at = %(now)s
      FROM adm JOIN ev ON ev.i = adm.i
     WHERE r.id = ev.claim
    RETURNING r.id
), dropped AS (
    DELETE FROM billing_idempotencyrecord r
     USING ev
     WHERE r.id = ev.claim AND ev.i NOT IN (SELECT i FROM adm)
    RETURNING r.id
), {_THRESHOLDS_CTE.replace("FROM acct", "FROM upd AS acct")}
SELECT (SELECT array_agg(bal::text ORDER BY i) FROM walk),
       (SELECT array_agg(ok ORDER BY i) FROM walk),
       (SELECT held - overdraft_limit FROM acct),
       {_THRESHOLDS_JSON},
       (SELECT array_agg(capped ORDER BY i) FROM walk),
       (SELECT array_agg(used::text ORDER BY i) FROM walk),
       (SELECT cap FROM acct)
"""


# --- Parameter types ---------------------------------------------------------------------------
# The statements run prepared, with server-side binding (core.rows.prepared_cursor): PostgreSQL
# types each parameter from its use, and one parameter used as text in one place and varchar in
# another is refused. Each parameter gets its type here, once, by name.
PARAMETER_TYPES = {
    "account": "uuid", "actor": "uuid", "agent": "uuid", "amount": "numeric", "api_key": "uuid",
    "at": "timestamptz", "body": "text", "claim": "uuid", "cost": "numeric", "count_held": "boolean",
    "debit": "numeric", "default_markup": "numeric", "delta": "numeric", "description": "text",
    "endpoint": "text", "entry": "uuid", "expires_at": "timestamptz", "fingerprint": "text",
    "input_tokens": "bigint", "key": "text", "keys": "text[]", "kind": "text", "markup": "numeric",
    "metadata": "jsonb", "model": "text", "models": "text[]", "n": "integer", "now": "timestamptz",
    "occurred_at": "timestamptz", "output_tokens": "bigint", "prefix": "text", "refund_of": "uuid",
    "reservation": "uuid", "session": "uuid", "status": "integer", "suffix": "text", "tenant": "uuid",
}  # fmt: skip


def _typed(statement: str) -> str:
    """Every `%(name)s` not cast already gets its type from PARAMETER_TYPES."""
    return re.sub(r"%\((\w+)\)s(?!::)", lambda m: f"%({m[1]})s::{PARAMETER_TYPES[m[1]]}", statement)


CONTEXT, RECORD, ENSURE_ACCOUNT, POST_ENTRY, HOLD, SETTLE, RELEASE, EXPIRE_ACCOUNT = map(
    _typed, (CONTEXT, RECORD, ENSURE_ACCOUNT, POST_ENTRY, HOLD, SETTLE, RELEASE, EXPIRE_ACCOUNT)
)
BATCH_CONTEXT, BATCH_CLAIM, BATCH_RECORDS, BATCH_CHARGE = map(
    _typed, (BATCH_CONTEXT, BATCH_CLAIM, BATCH_RECORDS, BATCH_CHARGE)
)
