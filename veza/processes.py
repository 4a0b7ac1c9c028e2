"""`veza serve --processes N`: N web processes listening on one port with SO_REUSEPORT.

The kernel spreads new connections over the processes. Each one holds its own Redis subscription
and fans events out to its own sockets, so an event emitted by any process (or the worker) reaches
every socket. Secrets generated at start-up (outside production) are generated once, here, and
handed to every process: a token signed by one process is verified by the others.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

from veza.settings import Settings, process_environment

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


def web_environment(settings: Settings) -> dict[str, str]:
    """The environment of each web process: SO_REUSEPORT on, and this process's generated secrets."""
    env = process_environment()
    env["REUSE_PORT"] = "true"
    for name in settings.generated_secrets:
        env[name.upper()] = getattr(settings, name)
    return env


def run_web_processes(count: int, host: str, port: int, env: dict[str, str]) -> int:
    """Run `count` `veza serve` processes on host:port until SIGINT/SIGTERM or until one exits.

    A signal is passed on to every process (each shuts down gracefully); a process that exits by
    itself stops the others too, and its exit code is returned, so that a supervisor restarts all.
    """
    command = [sys.executable, "-m", "veza", "serve", "--host", host, "--port", str(port)]
    children = [subprocess.Popen(command, env=env) for _ in range(count)]
    log.info("started %d web processes on %s:%d: %s", count, host, port, ", ".join(str(c.pid) for c in children))
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    code = 0
    while True:
        exits = [child.poll() for child in children]
        if None not in exits:
            break
        if not stopping and any(exit is not None for exit in exits):
            child = next(child for child in children if child.returncode is not None)
            log.error("web process %d exited with %d: stopping the others", child.pid, child.returncode)
            code = child.returncode or 1
            stop(signal.SIGTERM, None)
        time.sleep(POLL_SECONDS)
    if not stopping:  # every process left at once
        code = next((child.returncode for child in children if child.returncode), 1)
    return code
