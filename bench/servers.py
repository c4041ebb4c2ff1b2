"""gunicorn for the billing benchmark: the project, or the bare WSGI reference, one config.

Placement: with keep-alive, a connection stays on the worker that accepted it, and with one
server holding several gthread workers the kernel decides which: all 8 client connections on
one worker happened (163-190 charges/s, against 348-356/s spread), so 8-client figures swung
2x from run to run. "pinned" (the default) starts one gunicorn per worker, each on its own
port, and the load generator spreads its connections over the ports round-robin: the same
placement on every run, and per-worker counts to show it. "shared" is one gunicorn with all
the workers on one port, as production runs behind a load balancer (to see the swing).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.cpu import Tree

HOST = "127.0.0.1"


@dataclass
class Servers:
    """The gunicorn masters serving one app, and the ports clients should spread over."""

    app: str
    ports: list[int]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def trees(self) -> list[Tree]:
        """The workers' CPU (not the masters': they only watch)."""
        return [Tree(psutil.Process(p.pid), with_root=False) for p in self.processes]

    def worker_count(self) -> int:
        return sum(len(psutil.Process(p.pid).children()) for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(30)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0


def _healthy(port: int, path: str) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as conn:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
            return b"200 OK" in conn.recv(200)
    except OSError:
        return False


def start(
    *,
    app: str,
    base_port: int,
    workers: int,
    threads: int,
    worker_class: str,
    placement: str,
    env: dict[str, str],
    cwd: Path,
    health: str = "/healthz",
) -> Servers:
    """`workers` workers of `app` (a WSGI path such as config.wsgi:application), pinned one per
    port from `base_port`, or shared on `base_port`; returns once every server answers."""
    masters = workers if placement == "pinned" else 1
    ports = [base_port + i for i in range(masters)]
    busy = [port for port in ports if not port_free(port)]
    if busy:
        sys.exit(f"ports {busy} are in use (another benchmark?): pass --port with a free range")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    servers = Servers(app=app, ports=ports)
    for port in ports:
        command = [
            gunicorn,
            app,
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(1 if placement == "pinned" else workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
            "--no-control-socket",  # one per user by default: several servers would contend for it
        ]
        servers.processes.append(subprocess.Popen(command, env=env, cwd=cwd))  # our own command
    deadline = time.monotonic() + 90
    waiting = list(ports)
    while waiting and time.monotonic() < deadline:
        waiting = [port for port in waiting if not _healthy(port, health)]
        if waiting:
            time.sleep(0.3)
    if waiting:
        servers.stop()
        sys.exit(f"gunicorn ({app}) did not come up on {waiting}")
    return servers
