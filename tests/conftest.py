"""Test fixtures: a database of the suite's own, migrated once; a Redis db; a fresh app per test.

Each test worker (pytest-xdist's gw0, gw1...) has its own database, `veza_test_[<VEZA_TEST_RUN>_]<worker>`
(PYTEST_XDIST_WORKER=<name> set by hand names the run, as VEZA_TEST_RUN does),
and its own Redis db: the configured one (REDIS_URL, else config/test.toml's 15) minus the worker's index.
Only tests that use the database or Redis (through `settings`, `app`, `client` or `clean_state`) touch them:
pure unit tests run with neither server up.
"""

from __future__ import annotations

import os
import re
import threading

os.environ["VEZA_ENV"] = "test"

import psycopg2
import pytest
import redis as redis_sync
import yarl
from aiohttp import web
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from psycopg2 import sql
from werkzeug.serving import make_server

from tests.clients import EdgeTestServer
from tests.outage import RedisServer
from veza.app import create_app
from veza.migrate import migrate
from veza.settings import Settings, load_settings

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")  # gw0, gw1... under pytest-xdist
if not re.fullmatch(r"gw\d+|main", WORKER):
    # A run named with PYTEST_XDIST_WORKER=<name> keeps that name in its xdist workers (which inherit it from here).
    os.environ.setdefault("VEZA_TEST_RUN", WORKER)
RUN = os.environ.get("VEZA_TEST_RUN", "")  # tells apart suites run side by side on one machine


def _worker_redis_url() -> str:
    """The configured Redis URL with db number (configured - worker index) for xdist's worker gw<index>."""
    configured = load_settings().redis_url
    index = re.fullmatch(r"gw(\d+)", WORKER)
    if index is None:
        return configured
    url = yarl.URL(configured)
    number = int(url.path.strip("/") or 0) - int(index[1])
    if number < 0:
        raise RuntimeError(f"no Redis db left for worker {WORKER}: give REDIS_URL a higher db number")
    return str(url.with_path(f"/{number}").with_query(url.query))


# Set before any settings are loaded, so the app and every subprocess that inherits the environment agree.
os.environ["REDIS_URL"] = _worker_redis_url()


def _server_url(database_url: str, dbname: str) -> str:
    base, _, _ = database_url.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def database_url() -> str:
    """Create veza_test_[<run>_]<worker> from scratch and migrate it once for the session."""
    configured = load_settings().database_url
    name = "_".join(filter(None, (configured.rpartition("/")[2], RUN if RUN != WORKER else "", WORKER)))
    admin = psycopg2.connect(_server_url(configured, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    url = _server_url(configured, name)
    migrate(url)
    return url


@pytest.fixture
def fresh_database_url(database_url):
    """An empty database of its own, dropped afterwards (for migration tests)."""
    base, _, name = database_url.rpartition("/")
    fresh = f"{name}_fresh"
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(fresh)))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(fresh)))
    yield f"{base}/{fresh}"
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(fresh)))
    admin.close()


@pytest.fixture(scope="session")
def _truncate_conn(database_url):
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """Files the suite writes (local storage) stay in a temporary folder."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def settings(clean_state, database_url, data_dir) -> Settings:
    return load_settings(database_url=database_url, data_dir=data_dir)


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real S3 HTTP endpoint (moto's server mode) for the S3 backend's tests."""
    # moto's ThreadedMotoServer, built here so that its listening socket can be closed too
    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def clean_state(_truncate_conn):
    """Empty tables and an empty Redis db; every test that uses `settings` (and so `app`, `client`) starts so."""
    with _truncate_conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        tables = [row[0] for row in cur.fetchall()]
        # DELETE with foreign keys and triggers off (replica mode) empties small tables in a few
        # milliseconds; TRUNCATE takes ~90 ms per test whatever the tables hold.
        statements = [sql.SQL("DELETE FROM {}").format(sql.Identifier(table)) for table in tables]
        cur.execute(
            sql.SQL("SET session_replication_role = replica; {}; RESET session_replication_role").format(
                sql.SQL("; ").join(statements)
            )
        )
    client = redis_sync.Redis.from_url(load_settings().redis_url)
    client.flushdb()
    client.close()


def pytest_collection_modifyitems(items):
    for item in items:
        if "redis_server" in getattr(item, "fixturenames", ()):  # starts a redis-server of its own
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of the test's own, which it may kill, start again, freeze and thaw."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def aiohttp_client(aiohttp_client):
    """pytest-aiohttp's client factory; an Application it is given is served through the edge, as `veza serve` does."""

    async def make(app_or_server, *args, server_kwargs=None, **kwargs):
        if isinstance(app_or_server, web.Application):
            app_or_server = EdgeTestServer(app_or_server, **(server_kwargs or {}))
        return await aiohttp_client(app_or_server, *args, **kwargs)

    return make


@pytest.fixture
async def client(aiohttp_client, app):
    return await aiohttp_client(app)
