"""A real Veza for the browser: `veza serve` and `veza worker` as subprocesses on a database of their own, and
nginx-rtmp (config/nginx-rtmp.conf, as tests/live/rtmp.py renders it) calling the web process back."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import redis as redis_sync

from tests.databases import migrated_database
from tests.live import rtmp
from tests.outage import free_port
from veza.constants import RATE_LIMIT_PREFIX

CALLBACK_SECRET = "browser-callback-secret"
SHARED_SECRETS = ("JWT_SECRET", "SIGNING_SECRET", "HYPERSWITCH_WEBHOOK_SECRET", "METRICS_TOKEN")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


@dataclass
class Stack:
    url: str
    database_url: str
    redis_url: str
    nginx: rtmp.Nginx
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    def start(self, name: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                self.commands[name], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop_web(self) -> None:
        """Stop the web process (SIGTERM: it closes its sockets with GOING_AWAY), as a deploy or a crash would."""
        stop(self.processes["web"])

    def start_web(self) -> None:
        self.start("web")
        wait_healthy(self)

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        """A call to the web process's API, as a script outside the browser would make it."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/api/v1{path}", data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def upload(self, token: str, name: str, content: bytes, content_type: str = "audio/wav") -> dict:
        """POST /cloud/files with one multipart file field; the file's data."""
        boundary = "veza-browser-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(f"{self.url}/api/v1/cloud/files", data=body, method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())["data"]

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        with contextlib.closing(psycopg2.connect(self.database_url)) as conn, conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def forget_rate_limits(self) -> None:
        """Every test registers and signs in from 127.0.0.1: each starts with fresh counters."""
        client = redis_sync.Redis.from_url(self.redis_url)
        try:
            keys = list(client.scan_iter(f"{RATE_LIMIT_PREFIX}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for path in sorted(self.logs.glob("*.log"))
        )


def wait_healthy(stack: Stack) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        for name, process in stack.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{stack.log_tail()}")
        try:
            with urllib.request.urlopen(f"{stack.url}/api/v1/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"veza serve did not answer within {START_TIMEOUT}s:\n{stack.log_tail()}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_nginx(prefix: Path, app_url: str) -> tuple[rtmp.Nginx, subprocess.Popen]:
    nginx = rtmp.Nginx(prefix=prefix, rtmp_port=free_port(), http_port=free_port())
    conf = prefix / "nginx.conf"
    conf.write_text(rtmp.render(app_url, CALLBACK_SECRET, nginx.rtmp_port, nginx.http_port, update_seconds=1))
    process = subprocess.Popen(
        [rtmp.NGINX, "-p", f"{prefix}/", "-c", str(conf), "-e", str(nginx.error_log),
         "-g", f"daemon off; error_log '{nginx.error_log}' info;"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    nginx.pid = process.pid
    return nginx, process


@contextlib.contextmanager
def running_stack(base_database_url: str, redis_url: str, folder: Path) -> Iterator[Stack]:
    """Web, worker and nginx-rtmp on free ports, on `<base database>_browser`; stopped on exit."""
    database_url = migrated_database(base_database_url, base_database_url.rpartition("/")[2] + "_browser", fresh=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (folder / "nginx").mkdir()
    logs = folder / "logs"
    logs.mkdir()
    nginx, nginx_process = start_nginx(folder / "nginx", url)
    stack = Stack(url, database_url, redis_url, nginx, logs, {"nginx": nginx_process})
    env = {
        **os.environ,
        "VEZA_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(folder / "data"),
        "PUBLIC_URL": url,
        "LOG_LEVEL": "WARNING",
        "RTMP_CALLBACK_SECRET": CALLBACK_SECRET,
        # Web and worker must share them (the worker signs the sandbox's webhooks, the web process checks them).
        **{name: f"browser-{name.lower()}-0123456789abcdef0123456789abcdef" for name in SHARED_SECRETS},
        "RTMP_PUBLIC_URL": f"rtmp://127.0.0.1:{nginx.rtmp_port}/live",
        "RTMP_HEALTH_PORT": str(nginx.rtmp_port),
        "RTMP_HEARTBEAT_TIMEOUT": "5",
    }
    stack.env = env
    stack.commands = {
        "web": [sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port", str(port)],
        "worker": [sys.executable, "-m", "veza", "worker"],
    }
    try:
        stack.start("web")
        stack.start("worker")
        wait_healthy(stack)
        yield stack
    finally:
        for process in stack.processes.values():
            stop(process)
