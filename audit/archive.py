"""Retention: old audit entries to a gzip JSON Lines file, verified, and only then removed.

What is archived of each chain is a prefix: the entries after its last anchor up to the last one
before the first entry created on or after the cut-off, so that what remains is still one chain,
whose first entry links to the anchor (`AuditArchive.last_hash`) that verification starts from.

A file line is one entry: {"chain", "seq", "id", "created_at", "prev_hash", "hash", "content"},
where `content` is the entry's canonical text exactly as it was hashed (`qm_audit_content`;
`json.loads(line["content"])` gives every field), so the file can be checked without the
database: `hash == sha256(prev_hash + content)` and each `prev_hash` is the previous `hash`.

Steps (`archive_audit_logs` and the weekly task): `plan`, `write_file`, `verify_file` (re-reads
the file from disk), then `audit.services.audit_archive_remove`, the one path around the
insert-only trigger, in one transaction with the anchors and its own audit entry.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import connection

from audit.chain import link_hash
from audit.models import GENESIS_HASH, AuditArchive


@dataclass
class ChainSlice:
    """Entries first_seq..last_seq of one chain, to archive."""

    chain: str
    tenant_id: Any
    first_seq: int
    last_seq: int
    prev_hash: str  # the anchor the first one links to
    count: int = 0
    last_hash: str = ""

    @property
    def expected(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass
class FileCheck:
    ok: bool
    entries: int
    sha256: str
    problems: list[str] = field(default_factory=list)


def plan(*, before: datetime) -> list[ChainSlice]:
    """What each chain would archive for the cut-off `before` (run under the platform bypass)."""
    anchors: dict[str, AuditArchive] = {}
    for found in AuditArchive.objects.order_by("chain", "-last_seq"):
        anchors.setdefault(found.chain, found)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT coalesce(tenant_id::text, 'platform'), tenant_id, min(chain_seq),
                   min(chain_seq) FILTER (WHERE created_at >= %s), max(chain_seq)
              FROM audit_auditlogentry GROUP BY tenant_id
            """,
            [before],
        )
        rows = cursor.fetchall()
    slices = []
    for chain, tenant_id, first, first_new, last in rows:
        upto = first_new - 1 if first_new is not None else last
        if upto < first:
            continue
        anchor = anchors.get(chain)
        slices.append(
            ChainSlice(
                chain=chain,
                tenant_id=tenant_id,
                first_seq=first,
                last_seq=upto,
                prev_hash=anchor.last_hash if anchor else GENESIS_HASH,
            )
        )
    return sorted(slices, key=lambda s: s.chain)


def _slice_arrays(slices: list[ChainSlice]) -> list[Any]:
    return [[s.tenant_id for s in slices], [s.last_seq for s in slices]]


# Entries of the planned slices: one statement for every chain, chain by chain in order.
_SLICE_JOIN = """
    JOIN unnest(%s::uuid[], %s::bigint[]) AS l(tid, upto)
      ON ((l.tid IS NULL AND e.tenant_id IS NULL) OR e.tenant_id = l.tid) AND e.chain_seq <= l.upto
"""


def write_file(
    path: Path, slices: list[ChainSlice], *, chunk: int = 5000, progress: Callable[[int], None] | None = None
) -> int:
    """Write the slices' entries to `path` (gzip JSON Lines); return how many."""
    by_chain = {s.chain: s for s in slices}
    written = 0
    with gzip.open(path, "wt", encoding="utf-8") as out, connection.chunked_cursor() as cursor:
        cursor.execute(
            f"""
            SELECT coalesce(e.tenant_id::text, 'platform'), e.chain_seq, e.id::text, e.created_at,
                   e.prev_hash, e.hash, qm_audit_content(e)
              FROM audit_auditlogentry e {_SLICE_JOIN}
             ORDER BY e.tenant_id, e.chain_seq
            """,  # noqa: S608  # fixed text; values are parameters
            _slice_arrays(slices),
        )
        while rows := cursor.fetchmany(chunk):
            for chain, seq, entry_id, created_at, prev_hash, stored, content in rows:
                line = {
                    "chain": chain,
                    "seq": seq,
                    "id": entry_id,
                    "created_at": created_at.isoformat(),
                    "prev_hash": prev_hash,
                    "hash": stored,
                    "content": content,
                }
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                by_chain[chain].count += 1
                by_chain[chain].last_hash = stored
                written += 1
            if progress is not None:
                progress(written)
    return written


def verify_file(path: Path, slices: list[ChainSlice]) -> FileCheck:
    """Re-read `path` and check it holds exactly the slices: every entry, in order, each hash
    matching its content and linking to the one before (the first to the chain's anchor)."""
    expected = {s.chain: s for s in slices}
    state: dict[str, tuple[int, str, int]] = {}  # chain -> (next seq, prev hash, count)
    problems: list[str] = []
    entries = 0
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while block := raw.read(1 << 20):
            digest.update(block)
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            entries += 1
            try:
                line = json.loads(text)
                chain = line["chain"]
                planned = expected[chain]
            except (ValueError, KeyError) as exc:
                problems.append(f"line {number}: unreadable or of no planned chain ({exc})")
                continue
            seq, prev, count = state.get(chain, (planned.first_seq, planned.prev_hash, 0))
            content = json.loads(line["content"])
            if line["seq"] != seq or content.get("seq") != seq or content.get("id") != line["id"]:
                problems.append(f"line {number}: chain {chain} expected seq {seq}, found {line['seq']}")
            elif line["prev_hash"] != prev:
                problems.append(f"line {number}: chain {chain} seq {seq} does not link to the one before")
            elif link_hash(line["prev_hash"], line["content"]) != line["hash"]:
                problems.append(f"line {number}: chain {chain} seq {seq} hash does not match its content")
            state[chain] = (seq + 1, line["hash"], count + 1)
    for chain, planned in expected.items():
        _, last_hash, count = state.get(chain, (0, "", 0))
        if count != planned.expected or count != planned.count:
            problems.append(f"chain {chain}: {count} entries in the file, {planned.expected} planned")
        elif last_hash != planned.last_hash:
            problems.append(f"chain {chain}: the file's last hash is not the database's")
    return FileCheck(ok=not problems, entries=entries, sha256=digest.hexdigest(), problems=problems)


_DELETE = """
    DELETE FROM audit_auditlogentry AS e
     USING (SELECT * FROM unnest(%s::uuid[], %s::bigint[])) AS l(tid, upto)
     WHERE ((l.tid IS NULL AND e.tenant_id IS NULL) OR e.tenant_id = l.tid) AND e.chain_seq <= l.upto
"""


def delete_statement() -> tuple[str, Callable[[list[ChainSlice]], list[Any]]]:
    """The DELETE of the slices' entries and how to build its parameters (used by
    audit.services.audit_archive_remove only)."""
    return _DELETE, _slice_arrays
