"""A PostgreSQL cluster of the test's own (initdb + pg_ctl in a temporary folder, on a free port) that the
test may stop (as a crash: immediate mode) and start again. The server refuses to run as root: when the
suite runs as root, the cluster runs as the `postgres` system user."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2

from tests.outage import free_port

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def missing() -> str | None:
    if not BINARIES:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run a private cluster as"
    return None


class PostgresCluster:
    def __init__(self) -> None:
        self.bin = Path(BINARIES[-1])
        self.port = free_port()
        # Not under pytest's tmp_path: the server's user must reach it (/tmp/pytest-of-root is 0700).
        self.directory = Path(tempfile.mkdtemp(prefix="veza-pg-"))
        self.data = self.directory / "data"
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._user is not None:
            os.chown(self.directory, self._user.pw_uid, self._user.pw_gid)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"), "-o", options, "-w", "start"
        )

    def crash(self) -> None:
        """Stop at once, as a crash: every connection cut, no checkpoint."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> str:
        conn = psycopg2.connect(self.url())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def terminate(self, dbname: str) -> int:
        """pg_terminate_backend on every other session of the database; how many there were."""
        conn = psycopg2.connect(self.url(dbname))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            count = cur.fetchone()[0]
        conn.close()
        return count

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.crash()
        shutil.rmtree(self.directory, ignore_errors=True)
