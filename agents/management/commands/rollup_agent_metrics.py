"""`manage.py rollup_agent_metrics --from WHEN --to WHEN`: recompute agents' hourly metrics.

WHEN is a UTC day (YYYY-MM-DD: the whole day) or hour (YYYY-MM-DDTHH, or with :MM, which is
ignored); both ends are included. Each day is one SQL aggregate over the sessions table, upserted
in its own transaction (agents.services.telemetry); re-running any range leaves the same rows, so
it is safe to repeat or to interrupt. The hourly beat task keeps the last two hours current.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents import services
from audit.progress import Progress
from core.errors import DomainError

MAX_HOURS = 24 * 3660  # ten years: a typo in a year is an error, not hours of work
FORMATS = (("%Y-%m-%d", timedelta(days=1)), ("%Y-%m-%dT%H", timedelta(hours=1)), ("%Y-%m-%dT%H:%M", None))


def _when(value: str, option: str, *, end: bool) -> datetime:
    """The first hour of `value` (for --from) or the hour after its last (for --to), UTC."""
    for fmt, span in FORMATS:
        try:
            moment = datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        moment = moment.replace(minute=0)
        return moment + (span or timedelta(hours=1)) if end else moment
    raise CommandError(f"{option}: not a day (YYYY-MM-DD) or an hour (YYYY-MM-DDTHH): {value!r}")


class Command(BaseCommand):
    help = "Recompute agents' hourly metrics from --from to --to (UTC days or hours, both included)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", required=True, help="First day or hour (UTC).")
        parser.add_argument("--to", dest="end", required=True, help="Last day or hour (UTC, included).")

    def handle(self, *args: Any, start: str, end: str, **options: Any) -> None:
        first, last = _when(start, "--from", end=False), _when(end, "--to", end=True)
        if last <= first:
            raise CommandError(f"--to ({end}) is before --from ({start}).")
        total = int((last - first) / timedelta(hours=1))
        if total > MAX_HOURS:
            raise CommandError(f"{total} hours: at most {MAX_HOURS} at a time.")
        progress = Progress(self.stdout, label="rollup_agent_metrics", total=total)
        try:
            done = services.metrics_rollup_range(start=first, end=last, progress=progress)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        progress.finish(done)
        self.stdout.write(
            self.style.SUCCESS(
                f"rollup_agent_metrics: {done} hours, {first:%Y-%m-%d %H:00} to {last:%Y-%m-%d %H:00}"
            )
        )
