"""`manage.py archive_audit_logs --before DATE --out FILE`: retention of the audit log.

Writes every chain's entries created before DATE to FILE (gzip JSON Lines), re-reads and verifies
the file (count and every hash), and only then removes those entries, recording each chain's
anchor and an `audit.archived` entry (audit.archive and audit.retention say how). Running it
again with nothing older left says so and writes nothing. Exit status 1 when the file does not
verify (nothing is removed then).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.progress import Progress
from audit.retention import ArchiveError, archive
from core.errors import Conflict


def _cut_off(value: str) -> datetime:
    """A date (midnight UTC) or an ISO date-time (UTC unless it says otherwise)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--before: not a date: {value!r} (YYYY-MM-DD)") from exc
    if len(value) == 10:
        moment = datetime.combine(date.fromisoformat(value), time.min)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Archive audit entries older than --before to a gzip JSON Lines file, verify it, then remove them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--before", required=True, help="Cut-off: entries created before it (YYYY-MM-DD)."
        )
        parser.add_argument("--out", required=True, help="The archive file to write (never overwritten).")
        parser.add_argument("--chunk", type=int, default=5000, help="Entries per fetch (default 5000).")

    def handle(self, *args: Any, before: str, out: str, chunk: int = 5000, **options: Any) -> None:
        cut_off = _cut_off(before)
        if cut_off > datetime.now(tz=UTC):
            raise CommandError("--before is in the future: that would archive entries still being written.")
        bar: Progress | None = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            bar = bar or Progress(self.stdout, label="archive_audit_logs", total=total)
            bar.update(done)

        try:
            outcome = archive(before=cut_off, out=Path(out), chunk=max(chunk, 1), progress=progress)
        except ArchiveError as exc:
            self.stderr.write(f"archive_audit_logs: FAILED: {exc}")
            raise SystemExit(1) from exc
        except Conflict as exc:
            raise CommandError(str(exc)) from exc
        if outcome.file is None:
            self.stdout.write(f"archive_audit_logs: nothing to archive before {cut_off.isoformat()}")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"archive_audit_logs: {outcome.entries} entries of {outcome.chains} chains archived to "
                f"{outcome.file} (sha256 {outcome.sha256}), verified, and removed"
            )
        )
