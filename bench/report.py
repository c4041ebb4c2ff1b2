"""The billing benchmark's tables: every figure, then the ratios against issue 11's targets.

CPU per operation = CPU seconds of a process tree over the measured window / operations
completed in that window: HTTP requests (or, for batches, events) answered with a 2xx, pgbench
transactions (x 100 events for the batch script). "DB" is the whole PostgreSQL process tree
(postmaster, backends, background writers, autovacuum); "web" the gunicorn workers.
"""

from __future__ import annotations

# ruff: noqa: E501  # wide tables
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import cpu, loadgen

# Issue 11: ratio <= target for CPU, >= for throughput.
DB_CPU_TARGET = 1.3
WEB_CPU_TARGET = 1.5
BATCH_TARGET = 0.50


@dataclass
class Figure:
    kind: str  # "pgbench" or "http"
    name: str
    clients: int
    rate: float  # transactions or requests a second
    event_rate: float
    ops: int  # completed in the CPU window
    events: int
    window: cpu.Window | None = field(default=None, repr=False)  # the CPU over the measured window
    group: str = ""  # "" for the main figures, "round N" for the interleaved ones
    ports: list[int] = field(default_factory=list)  # the servers' (one worker each when pinned)
    outcome: loadgen.Outcome | None = field(default=None, repr=False)

    @property
    def db_cpu(self) -> float | None:
        return self.window.db if self.window else None

    @property
    def web_cpu(self) -> float | None:
        return self.window.web if self.window and self.kind == "http" else None

    @property
    def others(self) -> float:
        """How many CPUs the rest of the machine kept busy meanwhile (noise)."""
        return self.window.other / self.window.seconds if self.window and self.window.seconds else 0.0

    def db_ms(self, per_event: bool = False) -> float | None:
        count = self.events if per_event else self.ops
        return self.db_cpu * 1000 / count if self.db_cpu is not None and count else None

    def web_ms(self, per_event: bool = False) -> float | None:
        count = self.events if per_event else self.ops
        return self.web_cpu * 1000 / count if self.web_cpu is not None and count else None

    def cpu_text(self) -> str:
        per_event = self.name.startswith("batch")
        unit = "event" if per_event else ("tx" if self.kind == "pgbench" else "req")
        parts = []
        db, web = self.db_ms(per_event), self.web_ms(per_event)
        if db is not None:
            parts.append(f"DB {db:.3f} ms/{unit}")
        if web is not None:
            parts.append(f"web {web:.3f} ms/{unit}")
        if self.window and self.window.background is not None and self.window.db:
            parts.append(f"(DB background >= {self.window.background / self.window.db:.0%})")
        parts.append(f"others {self.others:.2f} CPUs")
        return "  ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        out = self.outcome
        return {
            "kind": self.kind,
            "name": self.name,
            "clients": self.clients,
            "group": self.group,
            "rate": self.rate,
            "event_rate": self.event_rate,
            "ops": self.ops,
            "events": self.events,
            "db_cpu_s": self.db_cpu,
            "db_background_cpu_s": self.window.background if self.window else None,
            "web_cpu_s": self.web_cpu,
            "others_cpus": self.others,
            "failures": out.failures if out else 0,
            "per_worker": dict(out.per_port) if out else {},
        }


def spread_text(out: loadgen.Outcome, ports: list[int]) -> str:
    """Requests per server port (one worker each when pinned): min/median/max and each."""
    counts = [out.per_port.get(port, 0) for port in ports]
    if len(counts) < 2:
        return f"{counts[0] if counts else 0} (one server)"
    return f"{min(counts)}/{statistics.median(counts):.0f}/{max(counts)} ({' '.join(map(str, counts))})"


def _ms(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def render(figures: list[Figure]) -> str:
    main = {(f.kind, f.name, f.clients): f for f in figures if not f.group}
    rounds: dict[str, dict[tuple[str, str], Figure]] = {}
    for f in figures:
        if f.group:
            rounds.setdefault(f.group, {})[(f.kind, f.name)] = f

    def get(kind: str, name: str, clients: int) -> Figure | None:
        return main.get((kind, name, clients))

    lines: list[str] = []
    lines.append("pgbench (the service's own statements, -M prepared; DB CPU per event for the batch;")
    lines.append("others: CPUs the rest of the machine kept busy meanwhile):")
    lines.append(f"  {'script':16} {'clients':>7} {'tx/s':>9} {'DB CPU ms/tx':>13} {'others':>7}")
    for f in figures:
        if f.kind == "pgbench" and not f.group:
            per = f.db_ms(f.name.startswith("batch"))
            lines.append(f"  {f.name:16} {f.clients:>7} {f.rate:>9.0f} {_ms(per):>13} {f.others:>7.2f}")
    lines.append("")
    lines.append("HTTP (gunicorn; CPU per request, per event for batches):")
    lines.append(
        f"  {'figure':42} {'clients':>7} {'HTTP/s':>8} {'pgbench/s':>9} {'vs pgb':>7} {'no-op/s':>8} {'vs no-op':>8}"
        f" {'DB ms':>7} {'web ms':>7} {'others':>7}  per worker min/median/max"
    )

    def row(label: str, name: str, clients: int, pg_name: str, events: bool = False, scale: int = 1) -> None:
        f = get("http", name, clients)
        if f is None:
            return
        rate = f.event_rate if events else f.rate
        pg = get("pgbench", pg_name, clients)
        base = (pg.rate * scale) if pg else 0.0
        noop_figure = get("http", "tenant-noop", clients)
        noop = noop_figure.rate if noop_figure and not events else 0.0
        spread = spread_text(f.outcome, f.ports) if f.outcome else ""
        lines.append(
            f"  {label:42} {clients:>7} {rate:>8.0f} {base:>9.0f} {f'{rate / base:.0%}' if base else '-':>7}"
            f" {f'{noop:.0f}' if noop else '-':>8} {f'{rate / noop:.0%}' if noop else '-':>8}"
            f" {_ms(f.db_ms(events)):>7} {_ms(f.web_ms(events)):>7} {f.others:>7.2f}  {spread.split(' (')[0]}"
        )

    for clients in (8, 32):
        row("no-op DRF endpoint (API key)", "noop", clients, "single-spread")
        row("no-op tenant endpoint (API key)", "tenant-noop", clients, "single-spread")
        row("naive ORM charge (no auth), 1,000 tenants", "naive-charge", clients, "plain-spread")
        row("bare WSGI charge (bench/bare.py)", "bare-charge", clients, "single-spread")
        row("single charge, 1,000 tenants", "single-spread", clients, "single-spread")
        row("single charge, one hot tenant", "single-hot", clients, "single-hot")
        row("batch of 100, events/s", "batch-100", clients, "batch-100", events=True, scale=100)
        row("batch of 1,000, events/s", "batch-1000", clients, "batch-100", events=True, scale=100)
    if rounds:
        lines.append("")
        lines.append("interleaved rounds, 8 clients (pgbench, HTTP charge, bare charge back to back):")
        for group, found in rounds.items():
            pg, http, bare = (
                found.get(("pgbench", "single-spread")),
                found.get(("http", "single-spread")),
                found.get(("http", "bare-charge")),
            )
            if pg and http and bare:
                lines.append(
                    f"  {group}: pgbench {pg.rate:.0f} tx/s DB {_ms(pg.db_ms())} ms;"
                    f" HTTP {http.rate:.0f}/s DB {_ms(http.db_ms())} web {_ms(http.web_ms())} ms;"
                    f" bare {bare.rate:.0f}/s DB {_ms(bare.db_ms())} web {_ms(bare.web_ms())} ms"
                )
    lines.append("")
    lines.extend(_ratios(get, rounds))
    busy = sorted(f.others for f in figures if f.window)
    if busy:
        noisy = " (noisy: repeat on a quiet machine)" if busy[-1] >= 0.25 else ""
        lines.append(
            f"other work on the machine during the windows: median {statistics.median(busy):.2f} CPUs,"
            f" max {busy[-1]:.2f} CPUs{noisy}"
        )
    failures = {
        f"{f.name}@{f.clients}{' ' + f.group if f.group else ''}": f.outcome.failures
        for f in figures
        if f.outcome and f.outcome.failures
    }
    lines.append(f"non-2xx answers: {failures or 'none'}")
    return "\n".join(lines)


def _ratio_of(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _ratios(
    get: Callable[[str, str, int], Figure | None], rounds: dict[str, dict[tuple[str, str], Figure]]
) -> list[str]:
    """The issue's targets, then reference rows."""
    rows: list[tuple[str, str, str, str, str]] = []  # ratio, clients, value, target, result

    def add(
        label: str,
        clients: str,
        value: float | None,
        target: float | None,
        at_most: bool,
        as_percent: bool = False,
    ) -> None:
        if value is None:
            rows.append((label, clients, "-", "-", "not measured"))
            return
        text = f"{value:.0%}" if as_percent else f"{value:.2f}x"
        if target is None:
            rows.append((label, clients, text, "-", "reference"))
            return
        met = value <= target if at_most else value >= target
        goal = ("<= " if at_most else ">= ") + (f"{target:.0%}" if as_percent else f"{target:.1f}x")
        rows.append((label, clients, text, goal, "MET" if met else "MISSED"))

    def round_values(fn: Callable[[dict[tuple[str, str], Figure]], float | None]) -> list[float]:
        return [v for v in (fn(found) for found in rounds.values()) if v is not None]

    def add_rounds(label: str, values: list[float], target: float) -> None:
        if not values:
            return
        median = statistics.median(values)
        text = f"{median:.2f}x ({min(values):.2f}-{max(values):.2f})"
        rows.append(
            (
                label,
                f"8, {len(values)} rounds",
                text,
                f"<= {target:.1f}x",
                "MET" if median <= target else "MISSED",
            )
        )

    def db_ratio(found: dict[tuple[str, str], Figure]) -> float | None:
        http, pg = found.get(("http", "single-spread")), found.get(("pgbench", "single-spread"))
        return _ratio_of(http.db_ms() if http else None, pg.db_ms() if pg else None)

    def web_ratio(found: dict[tuple[str, str], Figure]) -> float | None:
        http, bare = found.get(("http", "single-spread")), found.get(("http", "bare-charge"))
        return _ratio_of(http.web_ms() if http else None, bare.web_ms() if bare else None)

    def main_found(clients: int) -> dict[tuple[str, str], Figure]:
        names = (("http", "single-spread"), ("pgbench", "single-spread"), ("http", "bare-charge"))
        return {k: f for k in names if (f := get(k[0], k[1], clients)) is not None}

    for clients in (8, 32):
        add(
            "DB CPU per HTTP charge / pgbench's per transaction",
            str(clients),
            db_ratio(main_found(clients)),
            DB_CPU_TARGET,
            True,
        )
    add_rounds("DB CPU per HTTP charge / pgbench's per transaction", round_values(db_ratio), DB_CPU_TARGET)
    for clients in (8, 32):
        add(
            "web CPU per charge / bare WSGI reference's",
            str(clients),
            web_ratio(main_found(clients)),
            WEB_CPU_TARGET,
            True,
        )
    add_rounds("web CPU per charge / bare WSGI reference's", round_values(web_ratio), WEB_CPU_TARGET)
    for clients in (8, 32):
        batch, pg = get("http", "batch-100", clients), get("pgbench", "batch-100", clients)
        add(
            "batch of 100: events/s / pgbench's 100-event batch",
            str(clients),
            _ratio_of(batch.event_rate if batch else None, pg.event_rate if pg else None),
            BATCH_TARGET,
            False,
            True,
        )

    # Reference rows: no target of issue 11's (or a retired one).
    # What authentication alone costs the database: pgbench's charge with the gate's statement
    # (key + standing) first, against the plain charge; and the HTTP charge against that.
    def authed_ratio(found: dict[tuple[str, str], Figure]) -> float | None:
        authed, pg = found.get(("pgbench", "authenticated-spread")), found.get(("pgbench", "single-spread"))
        return _ratio_of(authed.db_ms() if authed else None, pg.db_ms() if pg else None)

    def http_authed_ratio(found: dict[tuple[str, str], Figure]) -> float | None:
        http, authed = found.get(("http", "single-spread")), found.get(("pgbench", "authenticated-spread"))
        return _ratio_of(http.db_ms() if http else None, authed.db_ms() if authed else None)

    def with_authenticated(clients: int) -> dict[tuple[str, str], Figure]:
        found = main_found(clients)
        if (authed := get("pgbench", "authenticated-spread", clients)) is not None:
            found[("pgbench", "authenticated-spread")] = authed
        return found

    for clients in (8, 32):
        add(
            "(ref) DB CPU: pgbench's charge with authentication / without",
            str(clients),
            authed_ratio(with_authenticated(clients)),
            None,
            True,
        )
    if values := round_values(authed_ratio):
        add(
            "(ref) DB CPU: pgbench's charge with authentication / without",
            f"8, {len(values)} rounds",
            statistics.median(values),
            None,
            True,
        )
    for clients in (8, 32):
        add(
            "(ref) DB CPU per HTTP charge / pgbench's charge with authentication",
            str(clients),
            http_authed_ratio(with_authenticated(clients)),
            None,
            True,
        )
    if values := round_values(http_authed_ratio):
        add(
            "(ref) DB CPU per HTTP charge / pgbench's charge with authentication",
            f"8, {len(values)} rounds",
            statistics.median(values),
            None,
            True,
        )
    for clients in (8, 32):
        single, pg = get("http", "single-spread", clients), get("pgbench", "single-spread", clients)
        add(
            "(ref) single charges/s / pgbench's tx/s (old target >= 25 %)",
            str(clients),
            _ratio_of(single.rate if single else None, pg.rate if pg else None),
            None,
            False,
            True,
        )
    for clients in (8, 32):
        single, naive = get("http", "single-spread", clients), get("http", "naive-charge", clients)
        add(
            "(ref) single charges/s / naive ORM endpoint's",
            str(clients),
            _ratio_of(single.rate if single else None, naive.rate if naive else None),
            None,
            False,
            True,
        )
    for clients in (8, 32):
        hot, single = get("http", "single-hot", clients), get("http", "single-spread", clients)
        add(
            "(ref) hot tenant / spread charges/s (issue 6: >= 50 %)",
            str(clients),
            _ratio_of(hot.rate if hot else None, single.rate if single else None),
            None,
            False,
            True,
        )
    batch, pg = get("http", "batch-1000", 8), get("pgbench", "batch-100", 8)
    add(
        "(ref) batch of 1,000: events/s / pgbench's 100-event batch",
        "8",
        _ratio_of(batch.event_rate if batch else None, pg.event_rate if pg else None),
        None,
        False,
        True,
    )
    for clients in (8, 32):
        bare, pg = get("http", "bare-charge", clients), get("pgbench", "single-spread", clients)
        add(
            "(ref) DB CPU per bare WSGI charge / pgbench's",
            str(clients),
            _ratio_of(bare.db_ms() if bare else None, pg.db_ms() if pg else None),
            None,
            True,
        )
    for clients in (8, 32):
        bare, single = get("http", "bare-charge", clients), get("http", "single-spread", clients)
        add(
            "(ref) single charges/s / bare WSGI charges/s",
            str(clients),
            _ratio_of(single.rate if single else None, bare.rate if bare else None),
            None,
            False,
            True,
        )

    width = max(len(r[0]) for r in rows)
    out = ["ratios (issue 11's targets first, then reference rows):"]
    out.append(f"  {'ratio':{width}} {'clients':>14} {'value':>22} {'target':>8}  result")
    out.extend(f"  {r[0]:{width}} {r[1]:>14} {r[2]:>22} {r[3]:>8}  {r[4]}" for r in rows)
    return out
