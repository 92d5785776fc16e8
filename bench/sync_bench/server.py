"""Running the app under gunicorn on a free loopback port, and always stopping it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROFILE_CONFIG = Path(__file__).with_name("gunicorn_profile.py")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ServerOptions:
    workers: int = 2
    worker_class: str = "sync"
    threads: int = 1


@dataclass
class RunningServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the gunicorn workers so far (to show where the cores went)."""
        return sum(process_cpu_seconds(pid) for pid in self.worker_pids())


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far, from /proc (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], options: ServerOptions, log_path: Path,
             profile_dir: Path | None = None) -> Iterator[RunningServer]:
    """Start gunicorn in its own process group; on exit terminate the group, then kill it."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", str(options.workers),
               "--worker-class", options.worker_class, "--bind", f"127.0.0.1:{port}",
               "--backlog", "2048", "--timeout", "120", "--keep-alive", "30",
               "--graceful-timeout", "120" if profile_dir is not None else "5"]
    if options.worker_class == "gthread":
        command += ["--threads", str(options.threads)]
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDSYNC_")}
    server_env.update(env)
    if profile_dir is not None:
        command += ["--config", str(PROFILE_CONFIG)]
        server_env["FIELDSYNC_BENCH_PROFILE_DIR"] = str(profile_dir)
    command.append("wsgi:app")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=server_env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = RunningServer(process, port, log_path)
    try:
        _wait_ready(server, options.workers)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: RunningServer, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{server.log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=2):
                if len(server.worker_pids()) >= workers:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready in time")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
