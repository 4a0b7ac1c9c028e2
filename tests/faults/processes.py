"""Real `veza serve` and `veza worker` processes for the fault tests, and PostgreSQL lock hooks that hold a
job (or a request) at a known statement until the test has done its damage."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg2

from tests.outage import free_port, wait_until
from veza.settings import SECRETS, Settings


def process_env(settings: Settings, **overrides: Any) -> dict[str, str]:
    """The environment of a `veza` subprocess that shares the test app's database, Redis, data folder and
    secrets (so that what one signs, the other accepts)."""
    env = {
        **os.environ,
        "VEZA_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "DATA_DIR": str(settings.data_dir),
        "PUBLIC_URL": settings.public_url,
        "LOG_LEVEL": "INFO",
    }
    env |= {name.upper(): getattr(settings, name) for name in SECRETS if getattr(settings, name)}
    env |= {name.upper(): str(value) for name, value in overrides.items()}
    return env


class VezaProcess:
    """`python -m veza <command>` that the test starts, SIGKILLs and starts again; its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "veza", *self.command], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as with the out-of-memory killer or a lost host."""
        if self.alive:
            self.process.kill()
            self.process.wait()

    def stop(self) -> int | None:
        """SIGTERM, and the exit status."""
        if not self.alive:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def worker_process(settings: Settings, directory: Path, **overrides: Any) -> VezaProcess:
    # A short job lease: a killed worker's jobs are taken again one second later.
    env = process_env(settings, worker_job_lease=1, **overrides)
    return VezaProcess(["worker"], env, directory / "worker.log")


class WebProcess(VezaProcess):
    def __init__(self, settings: Settings, directory: Path, **overrides: Any) -> None:
        self.port = free_port()
        env = process_env(settings, public_url=f"http://127.0.0.1:{self.port}", **overrides)
        super().__init__(["serve", "--host", "127.0.0.1", "--port", str(self.port)], env, directory / "web.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_listening(self, timeout: float = 30) -> None:
        def listening() -> bool:
            assert self.alive, self.log()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
            return False

        await wait_until(listening, timeout=timeout, every=0.1)


class LockHook:
    """A transaction of the test's own that holds locks a job will need, so that the job stops at a known
    statement: `waiting(query_like)` returns once a session of this database waits on a lock running a
    statement like `query_like` (pg_stat_activity), and `release()` rolls the hold back."""

    def __init__(self, database_url: str) -> None:
        self.conn = psycopg2.connect(database_url)
        self.conn.autocommit = False
        self.watch = psycopg2.connect(database_url)
        self.watch.autocommit = True

    def hold(self, statement: str, params: tuple = ()) -> None:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)

    def _waiters(self, query_like: str) -> int:
        with self.watch.cursor() as cur:
            cur.execute(
                """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                AND wait_event_type = 'Lock' AND pid <> %s AND query ILIKE %s""",
                (self.conn.get_backend_pid(), query_like),
            )
            return cur.fetchone()[0]

    async def waiting(self, query_like: str, timeout: float = 30) -> None:
        await wait_until(lambda: self._waiters(query_like) > 0, timeout=timeout, every=0.05)

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()

    def close(self) -> None:
        self.release()
        self.conn.close()
        self.watch.close()
