"""The process manager of `make run` (core/runner.py): starts children in process groups of their
own with their logs, stops them in reverse order (SIGTERM, then SIGKILL past a timeout), notices
when one ends, and turns Ctrl-C, SIGTERM and SIGHUP into a flag. Imports no Django."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# How long a child may take to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 15.0


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGTERM when the manager dies (Linux only), so
    a killed manager leaves no server or worker behind."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(libc_name, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class Child:
    """One process the manager started, with its log."""

    name: str
    argv: list[str]
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # on top of the manager's

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 20) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Manager:
    """Starts children in their own process groups (the terminal's Ctrl-C reaches only the
    manager), stops them in reverse order of start, and notices when one ends."""

    env: dict[str, str]
    cwd: Path = BASE_DIR
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    def start(self, child: Child) -> Child:
        output: IO[bytes] | int | None = None
        if child.log is not None:
            child.log.parent.mkdir(parents=True, exist_ok=True)
            output = child.log.open("ab")
        try:
            child.process = subprocess.Popen(  # noqa: S603  # our own commands, no shell
                child.argv,
                env={**self.env, **child.env},
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        finally:
            if output is not None and not isinstance(output, int):
                output.close()
        self.children.append(child)
        return child

    def ended(self) -> Child | None:
        """A child that has ended (on its own, unless we are stopping), if any."""
        return next((c for c in self.children if not c.running), None)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to each running child, last started first; SIGKILL to whatever outlives timeout."""
        self.stopping = True
        # SIGTERM to the leader only: gunicorn's master and Celery's main process stop their
        # own workers gracefully (a pool child signalled directly dies mid-task).
        for child in reversed(self.children):
            if child.running and child.process is not None:
                child.process.terminate()
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
            else:
                _signal_group(child.process, signal.SIGKILL)  # whatever the leader left behind

    def watch(self, should_stop: Callable[[], bool], interval: float = 0.2) -> Child | None:
        """Wait until asked to stop (None) or until a child ends on its own (that child)."""
        while not should_stop():
            ended = self.ended()
            if ended is not None:
                return ended
            time.sleep(interval)
        return None


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # The child leads its own process group (start_new_session): the signal reaches what it
    # started too (gunicorn's workers, Celery's pool), should the leader have left them behind.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


class StopRequest:
    """Turns Ctrl-C, SIGTERM and SIGHUP into a flag the manager's loop reads."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum

    def __call__(self) -> bool:
        return self.signum is not None
