"""CPU time of process trees, for the per-operation CPU figures of `make bench-billing`.

A process tree's CPU is read from the kernel's own accounting (psutil): each live process's
user + system time, plus the root's `children_user`/`children_system`, which hold the times of
every child the root has already waited for. PostgreSQL's backends are children of the
postmaster and gunicorn's workers children of their master, so a backend that ends mid-run
(pgbench disconnects; an autovacuum worker finishes) is still counted, by its parent, once it
is reaped: the total is cumulative and exact, and the difference of two readings is the tree's
CPU between them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psutil


def _own(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _reaped(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.children_user + times.children_system


@dataclass
class Tree:
    """One root process and its children. `with_root`: count the root's own CPU too (the
    postmaster does real work; a gunicorn master only watches its workers)."""

    root: psutil.Process
    with_root: bool = True

    def seconds(self) -> float:
        # A child reaped while the tree is read would be counted twice (read live, then in the
        # root's total) or not at all, depending on the moment: the reading is taken again until
        # no child went away during it.
        for _attempt in range(50):
            live = {}
            for child in self.root.children():
                try:
                    live[child.pid] = _own(child)
                except psutil.NoSuchProcess:
                    continue
            total = _reaped(self.root) + (_own(self.root) if self.with_root else 0.0)
            if set(live) <= {child.pid for child in self.root.children()}:
                return total + sum(live.values())
        raise RuntimeError(f"process {self.root.pid}: children kept ending while being read")


# Process titles of PostgreSQL's own processes ("postgres: checkpointer", "postgres: autovacuum
# worker DB", "postgres: io worker 0", ...); client backends say "postgres: ROLE DATABASE HOST STATE".
_BACKGROUND = {
    "archiver", "autovacuum", "background", "checkpointer", "io", "logical", "parallel", "startup",
    "walreceiver", "walsummarizer", "walwriter",
}  # fmt: skip


def _title(process: psutil.Process) -> list[str]:
    try:
        return " ".join(process.cmdline()).split()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _is_background(words: list[str]) -> bool:
    return len(words) >= 2 and words[0] == "postgres:" and (len(words) < 4 or words[1] in _BACKGROUND)


def machine_busy() -> float:
    """CPU seconds all the machine's processes have spent since boot (user + system time, as
    the processes' own figures count it: interrupt and softirq time, which the loopback
    traffic of the HTTP figures causes, is in no process's figure, so it is left out here too)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system


@dataclass
class Reading:
    db: float
    web: float
    bench: float
    machine: float
    background: dict[int, float]


class Window:
    """The CPU spent over a measured window: the PostgreSQL tree (`db`), the web workers
    (`web`), and, to judge the figure, the part of the database's spent by its background
    processes (`background`: checkpointer, WAL writer, I/O workers, autovacuum; a lower bound,
    as an autovacuum worker that ends inside the window is not seen) and the CPU the rest of
    the machine used meanwhile (`other`: other test suites, Redis; not this benchmark)."""

    def __init__(self, postmaster: psutil.Process | None, web: list[Tree]) -> None:
        self.db_tree = Tree(postmaster) if postmaster is not None else None
        self.web_trees = web
        self.bench_tree = Tree(psutil.Process())  # this process: the load generator, pgbench
        self.first: Reading | None = None
        self.db: float | None = None
        self.web = 0.0
        self.background: float | None = None
        self.other = 0.0
        self.seconds = 0.0
        self._began = 0.0

    def _read(self) -> Reading:
        background = {}
        if self.db_tree is not None:
            for child in self.db_tree.root.children():
                if _is_background(_title(child)):
                    try:
                        background[child.pid] = _own(child)
                    except psutil.NoSuchProcess:
                        continue
        return Reading(
            db=self.db_tree.seconds() if self.db_tree is not None else 0.0,
            web=sum(tree.seconds() for tree in self.web_trees),
            bench=self.bench_tree.seconds(),
            machine=machine_busy(),
            background=background,
        )

    def start(self) -> None:
        self.first = self._read()
        self._began = time.monotonic()

    def stop(self) -> None:
        if self.first is None:
            return
        first, last = self.first, self._read()
        self.seconds = time.monotonic() - self._began
        self.web = last.web - first.web
        if self.db_tree is not None:
            self.db = last.db - first.db
            before = first.background
            self.background = sum(cpu - before.get(pid, 0.0) for pid, cpu in last.background.items())
        ours = (self.db or 0.0) + self.web + (last.bench - first.bench)
        self.other = max(0.0, last.machine - first.machine - ours)


def postmaster_of(backend_pid: int) -> psutil.Process | None:
    """The postmaster of the server a connection's backend runs in (`SELECT pg_backend_pid()`),
    or None when it is not on this machine or not readable by this user."""
    try:
        backend = psutil.Process(backend_pid)
        parent = backend.parent()
        if parent is None:
            return None
        _own(parent)  # readable?
        if "postgres" not in parent.name() and "postmaster" not in parent.name():
            return None
        return parent
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def backends_of(postmaster: psutil.Process, database: str) -> list[psutil.Process]:
    """Client backends connected to `database`."""
    found = []
    for child in postmaster.children():
        words = _title(child)
        if len(words) >= 4 and words[0] == "postgres:" and words[2] == database and not _is_background(words):
            found.append(child)
    return found


def unreaped(postmaster: psutil.Process) -> int:
    """Children ending or ended but not yet reaped by the postmaster (their title is gone): a
    reading taken while the postmaster reaps one can miss its CPU."""
    count = 0
    for child in postmaster.children():
        try:
            count += child.status() == psutil.STATUS_ZOMBIE or not child.cmdline()
        except psutil.NoSuchProcess:
            continue
    return count


def other_databases(postmaster: psutil.Process, database: str) -> set[str]:
    """Databases other than `database` with client backends now: their CPU is in the tree's."""
    names = set()
    for child in postmaster.children():
        words = _title(child)
        if len(words) >= 4 and words[0] == "postgres:" and words[2] != database and not _is_background(words):
            names.add(words[2])
    return names
