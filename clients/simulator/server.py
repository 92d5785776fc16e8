"""The real server for a simulation: a fresh database, gunicorn with several workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_BASE_URL = os.environ.get("FIELDSYNC_TEST_PG_URL",
                             "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "simulator-secret-" + "0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Database:
    """A fresh SQLite file or a private PostgreSQL schema, migrated to head."""

    kind: str
    workdir: Path
    url: str = ""
    _scratch: ExitStack = field(default_factory=ExitStack)

    def create(self) -> None:
        from server.migrations.scratch import scratch_database

        self.url = self._scratch.enter_context(
            scratch_database(self.kind, self.workdir, prefix="fs_sim", pg_url=PG_BASE_URL))

    def drop(self) -> None:
        self._scratch.close()


@dataclass
class SimulatedServer:
    """gunicorn on a loopback port; the master restarts a worker that we kill -9."""

    database: Database
    workers: int = 3
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fieldsync-sim-")))
    process: subprocess.Popen | None = None
    url: str = ""
    killed_workers: list[int] = field(default_factory=list)

    @property
    def media_root(self) -> Path:
        return self.workdir / "media"

    def settings(self) -> dict[str, object]:
        return {"database_url": self.database.url, "media_root": str(self.media_root),
                "secret_key": SECRET, "password_hash_method": "pbkdf2:sha256:1000"}

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDSYNC_")}
        env.update({
            "FIELDSYNC_DATABASE_URL": self.database.url,
            "FIELDSYNC_MEDIA_ROOT": str(self.media_root),
            "FIELDSYNC_SECRET_KEY": SECRET,
            "FIELDSYNC_PASSWORD_HASH": "pbkdf2:sha256:1000",
            "FIELDSYNC_PULL_MIN_INTERVAL": "0.05",
            "FIELDSYNC_PULL_BURST": "40",
        })
        return env

    def start(self) -> str:
        port = free_port()
        self.log_path = self.workdir / "gunicorn.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--bind",
             f"127.0.0.1:{port}", "--graceful-timeout", "2", "--timeout", "60", "wsgi:app"],
            cwd=ROOT, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return self.url
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready in 60 s")

    def worker_pids(self) -> list[int]:
        """Children of the gunicorn master, read from /proc."""
        assert self.process is not None
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid:
                children.append(int(entry.name))
        return sorted(children)

    def kill_worker(self) -> int | None:
        """kill -9 one worker, as a crash would; gunicorn's master starts a replacement."""
        pids = self.worker_pids()
        if not pids:
            return None
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        self.killed_workers.append(victim)
        return victim

    def verify_audit(self) -> tuple[int, str]:
        """Run `flask --app wsgi verify-audit` against the simulation database."""
        completed = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "verify-audit"], cwd=ROOT,
            env=self.environment(), capture_output=True, text=True, timeout=300, check=False)
        return completed.returncode, (completed.stdout + completed.stderr).strip()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self._log.close()
            self.process = None
