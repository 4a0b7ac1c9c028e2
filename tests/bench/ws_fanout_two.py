"""WebSocket fan-out on two Veza web processes sharing one port (SO_REUSEPORT), against one process and the bare floor.

The harness of tests.bench.ws_fanout, with three servers measured in one run, round after round:

- "bare aiohttp": the floor, one process pinned to core 0, --sockets sockets;
- "veza": one `veza serve` pinned to core 0, --sockets sockets (the one-process figures);
- "veza x2": two `veza serve` processes with REUSE_PORT=true on one port, each pinned to its own core
  (--cpus, 0 and 1 by default), 2 x --sockets sockets connected to that port; the kernel spreads them.
  Both processes follow the same channel, so one PUBLISH reaches all of their sockets;
- "bare x2": the bare app the same way (two processes, SO_REUSEPORT, the same cores): the floor of
  what two processes can do on this machine, 2 x --sockets.

The client processes run on core 1 (tests.bench.http.LOAD_CPU), as in the one-process benchmark: on a
two-core machine the second web process shares its core with the clients, which the figures include.
Latency is Redis PUBLISH to arrival, the median over the events of each event's p99; memory per socket
of "veza x2" is the growth of both processes' RSS over their sockets / all their sockets.

    .venv/bin/python -m tests.bench.ws_fanout_two [--sockets 10000] [--events 5] [--cpus 0,1]

`main(argv)` returns the figures as (figure, value, goal, met) rows for a benchmark table (it pins
the calling process to the load core: call it in a process of its own).
Needs PostgreSQL and Redis as configured; uses the database `<name>_bench` (tests.bench.http).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid

import psutil

from tests.bench.http import LOAD_CPU, SERVER_CPU, bench_database
from tests.bench.report import row
from tests.bench.ws_fanout import (
    BARE_APP,
    Server,
    bench_stream,
    die_with_parent,
    ms,
    print_servers,
    public_channel,
    raise_nofile,
    run_servers,
    unused_port,
)
from veza.settings import load_settings

# The floor on two processes: the bare app, each process with SO_REUSEPORT on the one port.
BARE_APP_SHARED_PORT = BARE_APP.replace("print=None)", "print=None, reuse_port=True)")
assert BARE_APP_SHARED_PORT != BARE_APP

P99_GOAL = 1.5  # two processes' p99 over the one-process bare floor's
MEMORY_GOAL = 25 * 1024  # bytes per socket


class ProcessGroup(Server):
    """Several processes listening on one port, measured as one server (RSS summed)."""

    def __init__(self, *args, cpus: list[int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cpus = cpus
        self.processes: list[subprocess.Popen] = []
        self.held: list[int] = []  # established connections per process, at the last RSS reading

    def start(self, env: dict[str, str], sockets: int) -> None:
        self.log = tempfile.TemporaryFile()
        for cpu in self.cpus:
            self.processes.append(
                subprocess.Popen(
                    ["taskset", "-c", str(cpu), *self.command],
                    env=env,
                    stdout=self.log,  # Veza's JSON log lines
                    stderr=subprocess.STDOUT,
                    preexec_fn=lambda: (die_with_parent(), raise_nofile(sockets + 100)),
                )
            )
        self.process = self.processes[0]

    def processes_running(self) -> list[subprocess.Popen]:
        return self.processes

    def stop(self) -> None:
        for process in self.processes:
            self.process = process
            super().stop()

    def rss(self) -> int:
        # Called before and after the sockets connect: the last reading tells how the kernel spread them.
        self.held = [
            sum(
                1
                for c in psutil.Process(p.pid).net_connections(kind="tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == self.port
            )
            for p in self.processes
        ]
        return sum(psutil.Process(p.pid).memory_info().rss for p in self.processes)


def servers_for(args, database_url: str, redis_url: str) -> list[Server]:
    veza_port, pair_port, bare_port, bare_pair_port = unused_port(), unused_port(), unused_port(), unused_port()
    bare_channel, bare_pair_channel = f"live:{uuid.uuid4()}", f"live:{uuid.uuid4()}"
    redis_bare_pair = public_channel(bare_pair_channel)
    serve = [sys.executable, "-m", "veza", "serve", "--host", "127.0.0.1", "--port"]
    return [
        Server(
            "bare aiohttp",
            [sys.executable, "-c", BARE_APP, str(bare_port), redis_url, public_channel(bare_channel)],
            bare_port,
            bare_channel,
        ),
        # A group of one, for its log: the same process as tests.bench.ws_fanout's.
        ProcessGroup(
            "veza", [*serve, str(veza_port)], veza_port, f"live:{bench_stream(database_url)}", cpus=[SERVER_CPU]
        ),
        ProcessGroup(
            "veza x2",
            [*serve, str(pair_port)],
            pair_port,
            f"live:{bench_stream(database_url)}",
            sockets=2 * args.sockets,
            cpus=args.cpus,
        ),
        ProcessGroup(
            "bare x2",
            [sys.executable, "-c", BARE_APP_SHARED_PORT, str(bare_pair_port), redis_url, redis_bare_pair],
            bare_pair_port,
            bare_pair_channel,
            sockets=2 * args.sockets,
            cpus=args.cpus,
        ),
    ]


def rows(servers: list[Server], args) -> list[tuple[str, str, str, bool]]:
    """(figure, value, goal, met) for a benchmark table."""
    by_name = {s.name: s for s in servers}
    bare, one, two, bare_two = by_name["bare aiohttp"], by_name["veza"], by_name["veza x2"], by_name["bare x2"]
    ratio_two = statistics.median(t / b for t, b in zip(two.p99, bare.p99, strict=True))
    ratio_pair = statistics.median(t / b for t, b in zip(two.p99, bare_two.p99, strict=True))
    ratio_one = statistics.median(o / b for o, b in zip(one.p99, bare.p99, strict=True))
    delivered = min(two.received) == two.socket_count(args) and not two.closed
    return [
        (
            f"WS fan-out, 2 processes x {args.sockets:,} sockets: p99 / one-process bare floor",
            f"{ratio_two:.2f} ({ms(two.p99):.0f} ms vs {ms(bare.p99):.0f} ms)",
            f"<= {P99_GOAL}",
            ratio_two <= P99_GOAL,
        ),
        (
            "WS fan-out, 2 processes: p99 / the bare app on two processes (same cores)",
            f"{ratio_pair:.2f} ({ms(bare_two.p99):.0f} ms)",
            "-",
            True,
        ),
        (
            f"WS fan-out, 1 process x {args.sockets:,} sockets (same run): p99 / bare floor",
            f"{ratio_one:.2f} ({ms(one.p99):.0f} ms)",
            "-",
            True,
        ),
        (
            "WS fan-out, 2 processes: every socket got every event",
            f"{min(two.received):,}/{two.socket_count(args):,}",
            "all",
            delivered,
        ),
        (
            "WS fan-out, 2 processes: memory per socket",
            f"{two.bytes_per_socket / 1024:.1f} KiB (1 process: {one.bytes_per_socket / 1024:.1f} KiB)",
            "< 25 KiB",
            two.bytes_per_socket < MEMORY_GOAL,
        ),
    ]


def report(servers: list[Server], args) -> None:
    print(
        f"WebSocket fan-out, one port on two processes: {args.events} events to each server in turn,"
        f" {args.interval:g}s apart; latency = Redis PUBLISH to arrival, median over the events"
    )
    print_servers(servers, args)
    for s in servers:
        if isinstance(s, ProcessGroup) and len(s.processes) > 1:
            print(f"  {s.name}: sockets per process (the kernel's spread): {s.held}")
    for figure, value, goal, met in rows(servers, args):
        print(f"  {figure}: {value} (goal {goal}: {'met' if met else 'MISSED'})")


def main(argv: list[str] | None = None) -> list[tuple[str, str, str, bool]]:
    """Run, print the report; the figures as (figure, value, goal, met) rows for a benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=10_000, help="sockets on each web process")
    parser.add_argument("--events", type=int, default=5, help="events to each server")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two events")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--concurrency", type=int, default=200, help="sockets connecting at a time, in all")
    parser.add_argument(
        "--cpus",
        type=lambda text: [int(cpu) for cpu in text.split(",")],
        default=[SERVER_CPU, LOAD_CPU],
        help="the cores of the two web processes, one each (default 0,1)",
    )
    args = parser.parse_args(argv)
    args.client = "raw"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise_nofile(6 * args.sockets // args.clients + 100)  # a client process: its share of all servers
    os.sched_setaffinity(0, {LOAD_CPU})

    settings = load_settings()
    database_url = bench_database()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAX_CONNECTIONS_PER_ADDRESS": "0",
        "WS_MAX_SOCKETS_PER_CLIENT": str(2 * args.sockets + 100),
        "REUSE_PORT": "true",  # only the pair shares a port; on the others it changes nothing
        "JWT_SECRET": secrets.token_urlsafe(32),  # one for both processes, as production would set it
    }
    servers = servers_for(args, database_url, settings.redis_url)
    run_servers(servers, args, env, settings.redis_url)  # each process holds about --sockets
    report(servers, args)
    return rows(servers, args)


if __name__ == "__main__":
    for figure in main():
        row(*figure)
