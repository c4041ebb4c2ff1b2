"""Retention: `archive` runs audit.archive's steps and audit.services' removal, each in a
transaction of its own under the platform bypass (the command and the weekly task call it).

The read (plan and file) is one transaction: a consistent snapshot. The removal is another, short
one. No transaction is open while the file is verified, and none holds a chain's head lock
while the file is written, so appends to every chain go on meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from audit.archive import plan, verify_file, write_file
from audit.services import audit_archive_remove
from core.tenancy import platform_bypass


@dataclass
class Outcome:
    entries: int
    chains: int
    file: Path | None
    sha256: str = ""


class ArchiveError(Exception):
    """The archive could not be written or did not verify: nothing was removed."""


def archive(
    *,
    before: datetime,
    out: Path,
    chunk: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Archive every chain's entries created before `before` to `out`, verify the file, then
    remove them (see the module's docstring). Nothing to archive: no file, nothing removed.
    `progress(done, total)` is called as the file is written."""
    partial = out.with_name(out.name + ".partial")
    with platform_bypass(reason="audit archive: read"):
        slices = plan(before=before)
        total = sum(s.expected for s in slices)
        if not total:
            return Outcome(entries=0, chains=0, file=None)
        if out.exists():
            raise ArchiveError(f"{out} exists: choose another file (archives are never overwritten).")
        out.parent.mkdir(parents=True, exist_ok=True)
        written = write_file(
            partial, slices, chunk=chunk, progress=(lambda n: progress(n, total)) if progress else None
        )
    check = verify_file(partial, slices)
    if not check.ok or written != total:
        raise ArchiveError(
            f"{partial} did not verify, nothing removed: "
            + "; ".join(check.problems[:10] or ["count mismatch"])
        )
    partial.rename(out)
    with platform_bypass(reason="audit archive: remove"):
        audit_archive_remove(slices=slices, file=str(out), file_sha256=check.sha256, before=before)
    return Outcome(entries=written, chains=len(slices), file=out, sha256=check.sha256)
