"""`veza dev`: embedded PostgreSQL and Redis, a healthy server, and a clean stop."""

from __future__ import annotations

import http.client
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.outage import free_port
from veza.devserver import shared_secrets
from veza.settings import ROOT, SECRETS

pytestmark = pytest.mark.slow

HEALTHY = {"success": True, "data": {"status": "ok"}}


def health(port: int) -> object:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/api/v1/health")
        return json.loads(conn.getresponse().read())
    except (OSError, ValueError):
        return None
    finally:
        conn.close()


def running(procs: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        except psutil.NoSuchProcess:
            pass
    return alive


def processes_under(path: Path) -> list[psutil.Process]:
    """Processes whose command line or working directory names path (servers chdir there)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        where = " ".join(proc.info["cmdline"] or []) + " " + (proc.info["cwd"] or "")
        if str(path) in where and proc.pid != os.getpid():
            found.append(proc)
    return running(found)


def stop(dev: subprocess.Popen[bytes]) -> int:
    if dev.poll() is None:
        dev.send_signal(signal.SIGINT)
    try:
        return dev.wait(timeout=60)
    except subprocess.TimeoutExpired:
        dev.kill()
        dev.wait()
        raise


def test_dev_serves_with_embedded_servers_and_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "VEZA_ENV": "development",
        "VEZA_EMBEDDED": "1",
        "DATA_DIR": str(tmp_path),
        "PORT": str(port),
    }
    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as log:
        dev = subprocess.Popen(
            [sys.executable, "-m", "veza", "dev"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 90
        while health(port) != HEALTHY:
            assert dev.poll() is None, f"veza dev exited early:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"not healthy in 90 s:\n{log_path.read_text()}"
            time.sleep(0.2)
        started = psutil.Process(dev.pid).children(recursive=True) + processes_under(tmp_path)
        assert {"postgres", "redis-server"} <= {proc.name() for proc in started}
    finally:
        returncode = stop(dev)

    output = log_path.read_text()
    assert returncode == 0, output
    assert f"http://localhost:{port}/api/docs" in output
    psutil.wait_procs(running(started), timeout=10)
    assert running(started) == []
    assert processes_under(tmp_path) == []


def test_generated_secrets_are_private_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    first = shared_secrets(tmp_path, SECRETS)

    assert set(first) == set(SECRETS)
    assert shared_secrets(tmp_path, SECRETS) == first
    assert shared_secrets(tmp_path, ("jwt_secret",)) == {"jwt_secret": first["jwt_secret"]}
    assert stat.S_IMODE((tmp_path / "dev-secrets.json").stat().st_mode) == 0o600
