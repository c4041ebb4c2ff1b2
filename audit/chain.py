"""The audit log's hash chains: how a link is computed, and verifying them.

The database appends (the insert trigger of audit migration 0003): each entry's `hash` is
SHA-256 over its `prev_hash` followed by its canonical content, `qm_audit_content(entry)`, the
text form of a jsonb object of every field but `hash` and `prev_hash` (jsonb's text form is
deterministic: fixed key order and one spelling per value). `link_hash` is the same computation
in Python, for archives read back from files. One chain per tenant (its id), one for entries
without a tenant ("platform"). `AuditChainHead` holds each chain's last link; `AuditArchive`
the anchor of the entries archived and removed from its start.

Verification re-reads every entry in chain order (the unique index on tenant, chain_seq), has
PostgreSQL recompute each hash from the stored content, and checks for each entry: its position
follows the previous one (nothing removed in between), its `prev_hash` is the previous entry's
`hash` (or the archive's anchor, or the genesis hash), and its `hash` matches its content; at the
end, that the head names the last entry (nothing removed from the end). Editing, removing or
inserting a row behind the application's back breaks one of these. What it cannot catch: someone
who can write SQL as the table's owner rewriting an entry *and* every hash after it *and* the head;
against that, keep the hashes elsewhere too (exports and archives carry them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection

from audit.models import GENESIS_HASH, AuditArchive, AuditChainHead
from core.tenancy import tenant_pk
from core.types import TenantRef

PLATFORM_CHAIN = "platform"


def chain_key(tenant: TenantRef | None) -> str:
    """The chain's name: the tenant's id, or "platform" for entries without a tenant."""
    pk = tenant_pk(tenant)
    return str(pk) if pk is not None else PLATFORM_CHAIN


def link_hash(prev_hash: str, content: str) -> str:
    """The hash of an entry whose canonical content is `content` (as qm_audit_hash computes it)."""
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain."""

    chain: str
    entry_id: str | None  # None: the break is at the chain's end (the head)
    seq: int | None
    problem: str
    expected: str
    found: str

    def __str__(self) -> str:
        where = f"entry {self.entry_id} (seq {self.seq})" if self.entry_id else "the chain's end"
        return f"chain {self.chain}: {where}: {self.problem}: expected {self.expected}, found {self.found}"


@dataclass
class ChainResult:
    chain: str
    entries: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    broken: Break | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


_SELECT = """
    SELECT coalesce(e.tenant_id::text, 'platform'), e.id::text, e.chain_seq, e.prev_hash, e.hash,
           qm_audit_hash(e.prev_hash, qm_audit_content(e))
      FROM audit_auditlogentry e
"""


def entry_count(*, tenant: TenantRef | None = None, only: bool = False) -> int:
    """How many entries verification reads (`only`: just `tenant`'s chain, platform if None)."""
    where, params = _where(tenant, only)
    with connection.cursor() as cursor:
        # `where` is one of _where's two fixed clauses; the tenant id is a parameter.
        cursor.execute(f"SELECT count(*) FROM audit_auditlogentry e {where}", params)  # noqa: S608
        return int(cursor.fetchone()[0])


def _where(tenant: TenantRef | None, only: bool) -> tuple[str, list[Any]]:
    if not only:
        return "", []
    pk = tenant_pk(tenant)
    return ("WHERE e.tenant_id = %s", [pk]) if pk is not None else ("WHERE e.tenant_id IS NULL", [])


def _rows(where: str, params: list[Any], chunk: int) -> Iterator[tuple[Any, ...]]:
    # A server-side cursor: a million entries are read `chunk` at a time, not all at once.
    # Order: the unique index's (tenant_id, chain_seq), platform (NULL) last.
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"{_SELECT} {where} ORDER BY e.tenant_id, e.chain_seq", params)
        while rows := cursor.fetchmany(chunk):
            yield from rows


def verify_chains(
    *,
    tenant: TenantRef | None = None,
    only: bool = False,
    chunk: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> list[ChainResult]:
    """Verify every chain (or, with `only`, just `tenant`'s, the platform's when it is None);
    each result names its first broken link. Run under the platform bypass (every tenant's
    rows) or in the tenant's context (its own chain)."""
    where, params = _where(tenant, only)
    heads = {h.chain: h for h in AuditChainHead.objects.all()}
    anchors: dict[str, AuditArchive] = {}
    anchor: AuditArchive | None
    for anchor in AuditArchive.objects.order_by("chain", "-last_seq"):
        anchors.setdefault(anchor.chain, anchor)
    if only:
        key = chain_key(tenant)
        heads = {k: v for k, v in heads.items() if k == key}
        anchors = {k: v for k, v in anchors.items() if k == key}

    results: dict[str, ChainResult] = {}
    current: ChainResult | None = None
    expected_seq, expected_prev = 1, GENESIS_HASH
    read = 0
    for chain, entry_id, seq, prev_hash, stored, computed in _rows(where, params, chunk):
        read += 1
        if progress is not None and read % chunk == 0:
            progress(read)
        if current is None or current.chain != chain:
            current = results[chain] = ChainResult(chain=chain)
            anchor = anchors.get(chain)
            expected_seq = anchor.last_seq + 1 if anchor else 1
            expected_prev = anchor.last_hash if anchor else GENESIS_HASH
        current.entries += 1
        if current.broken is not None:
            continue  # the first break is the one reported
        if seq != expected_seq:
            problem = "entries missing before this one" if seq > expected_seq else "entry out of place"
            current.broken = Break(chain, entry_id, seq, problem, f"seq {expected_seq}", f"seq {seq}")
        elif prev_hash != expected_prev:
            current.broken = Break(chain, entry_id, seq, "link broken (prev_hash)", expected_prev, prev_hash)
        elif computed != stored:
            current.broken = Break(chain, entry_id, seq, "content altered (hash)", computed, stored)
        current.last_seq, current.last_hash = seq, stored
        expected_seq, expected_prev = seq + 1, stored
    if progress is not None:
        progress(read)

    # Each chain's end: the head names its last entry. A chain with a head and no entries left
    # (all archived) ends at its anchor.
    for key, head in heads.items():
        result = results.get(key)
        if result is None:
            anchor = anchors.get(key)
            result = results[key] = ChainResult(
                chain=key,
                last_seq=anchor.last_seq if anchor else 0,
                last_hash=anchor.last_hash if anchor else GENESIS_HASH,
            )
        if result.broken is None and (head.seq, head.last_hash) != (result.last_seq, result.last_hash):
            result.broken = Break(
                key,
                None,
                None,
                "entries missing at the end (head)",
                f"seq {head.seq} {head.last_hash}",
                f"seq {result.last_seq} {result.last_hash}",
            )
    for key, result in results.items():
        if key not in heads and result.broken is None:
            result.broken = Break(key, None, None, "chain has no head", "a head row", "none")
    return sorted(results.values(), key=lambda r: (r.chain == PLATFORM_CHAIN, r.chain))
