"""`manage.py seed_demo`: fill an empty platform with demo data, once.

Four tenants (Starter, Growth, Enterprise; Berlin, New York, Tokyo, Sydney; one suspended) with
teams, members in every role, invites in every state, API keys, settings with history, flags,
secrets and a month of usage, all made through the services (console/demo/). A second run adds
nothing. The logins are generated now, written to .data/demo-logins.txt (mode 600) and printed
once (`--quiet`: not printed). The platform admin comes from `bootstrap_admin --demo`, which
this runs first when there is none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from console import demo
from console.demo import logins


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = width if not total else min(width, width * done // total)
    percent = 100 if not total else 100 * done // total
    return f"[{'#' * filled}{'.' * (width - filled)}] {percent:3d}% {done}/{total}"


class ProgressBar:
    """One line on stderr, redrawn in place on a terminal; elsewhere (a log file, CI) only the
    last state is written, so the output stays one line."""

    def __init__(self, stream: OutputWrapper, *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.interactive = stream.isatty()
        self._width = 0

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        line = f"Seeding the demo {_bar(done, total)} {label}"
        if self.interactive:
            self.stream.write("\r" + line.ljust(self._width), ending="\n" if done == total else "")
            self._width = len(line)
        elif done == total:
            self.stream.write(line)
        self.stream.flush()


@contextmanager
def _quiet_logs(verbosity: int) -> Iterator[None]:
    """The seed fails logins on purpose (django-axes warns of each) and opens the platform
    bypass for platform settings (logged at info): below -v 2 those lines would only bury the
    progress bar. Errors still show; the audit log keeps every event."""
    if verbosity >= 2:
        yield
        return
    levels = {"axes": logging.ERROR, "core.tenancy": logging.WARNING}
    before = {name: logging.getLogger(name).level for name in levels}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


class Command(BaseCommand):
    help = (
        "Fill an empty platform with demo tenants, people and a month of usage (once; re-runs add nothing)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet", action="store_true", help="Do not print the logins (they are in the file)."
        )

    def handle(self, *args: Any, quiet: bool = False, **options: Any) -> None:
        verbosity = int(options.get("verbosity", 1))
        if demo.demo_present() == sorted(demo.scenario.DEMO_SLUGS):
            self._already_there()
            return
        if demo.platform_admin() is None:
            call_command("bootstrap_admin", demo=True, stdout=self.stdout, stderr=self.stderr)
        bar = ProgressBar(self.stderr, enabled=verbosity > 0)
        try:
            with _quiet_logs(verbosity):
                result = demo.demo_seed(progress=bar)
        except demo.PartlySeeded as exc:
            raise CommandError(str(exc)) from exc
        if result is None:  # seeded by another run meanwhile
            self._already_there()
            return
        scenario = result.scenario
        self.stdout.write(
            self.style.SUCCESS(f"Demo data in place in {result.seconds:.1f}s: ")
            + ", ".join(f"{n} {what}" for what, n in result.counts.items())
            + "."
        )
        if scenario.refused:
            self.stdout.write(f"{scenario.refused} usage events were refused for lack of credits.")
        if quiet:
            self.stdout.write(f"Logins: {result.logins_file} (mode 600).")
            return
        admin = demo.platform_admin()
        assert admin is not None
        rows = logins.table(scenario, admin=admin, admin_password=logins.read_admin_login(admin))
        width = max(len(r[0]) for r in rows)
        pw_width = max(len(r[1]) for r in rows)
        self.stdout.write("Demo logins (shown this once; kept in the file below):")
        for email, password, where, note in rows:
            self.stdout.write(
                f"  {email:<{width}}  {password:<{pw_width}}  {where}{f'  [{note}]' if note else ''}"
            )
        self.stdout.write(
            f"Second factors (otpauth URIs, backup codes), API keys and invite links: {result.logins_file}"
        )

    def _already_there(self) -> None:
        path = demo.logins_path()
        where = f"its logins are in {path}" if path.exists() else f"its logins file {path} is gone"
        self.stdout.write(f"Demo data is already in place; nothing added ({where}).")
