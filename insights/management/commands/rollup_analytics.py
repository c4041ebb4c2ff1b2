"""`manage.py rollup_analytics --from DATE --to DATE`: recompute the daily analytics of a range.

Each day is one SQL aggregate upserted per tenant and for the platform, in its own transaction
(insights.services.analytics); re-running any range rewrites the same rows, so it is safe to
repeat or to interrupt. Dates are UTC days, YYYY-MM-DD; both ends are included.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.progress import Progress
from core.errors import DomainError
from insights import services

MAX_DAYS = 3660  # ten years: a typo in a year is an error, not hours of work


def _day(value: str, option: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()  # a calendar day, no time
    except ValueError as exc:
        raise CommandError(f"{option}: not a date (YYYY-MM-DD): {value!r}") from exc


class Command(BaseCommand):
    help = "Recompute the daily analytics from --from to --to (UTC days, both included)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="end", required=True, help="Last day, YYYY-MM-DD (included).")

    def handle(self, *args: Any, start: str, end: str, **options: Any) -> None:
        first, last = _day(start, "--from"), _day(end, "--to")
        if last < first:
            raise CommandError(f"--to ({last}) is before --from ({first}).")
        total = (last - first).days + 1
        if total > MAX_DAYS:
            raise CommandError(f"{total} days: at most {MAX_DAYS} at a time.")
        progress = Progress(self.stdout, label="rollup_analytics", total=total)
        try:
            done = services.analytics_rollup_range(start=first, end=last, progress=progress)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        progress.finish(done)
        self.stdout.write(self.style.SUCCESS(f"rollup_analytics: {done} days, {first} to {last}"))
