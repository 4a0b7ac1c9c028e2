"""`make bench`: every benchmark in turn, then one table of their figures written into README.md.

Each benchmark is a module run as `python -m tests.bench.<name> <args>`; it prints its own report
and one `BENCH-ROW` line per figure (tests.bench.report.row). The table replaces what lies between
the README's `<!-- bench:begin -->` and `<!-- bench:end -->` markers. Adding a benchmark to the
table is one line in BENCHES.

    .venv/bin/python -m tests.bench.run_all [--only http,catalog] [--no-readme]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

from tests.bench.report import parse
from veza.constants import RATE_LIMIT_PREFIX
from veza.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# (module in tests/bench, its arguments): short enough that the whole run takes about ten minutes.
BENCHES: list[tuple[str, list[str]]] = [
    ("http", ["--rounds", "5", "--duration", "4"]),
    ("catalog", ["--rounds", "5", "--extra-rounds", "3", "--duration", "4"]),
    ("worker", []),  # 10,000 real jobs on uvloop (as shipped): about two minutes; `--loops default,uvloop` doubles it
    ("checkout", ["--seconds", "3"]),
    ("invoice", []),
    ("export", []),
    ("login", []),
    ("upload", ["--size-mib", "256"]),
    ("ws_fanout", []),
    ("ws_fanout_two", []),
    ("client", []),
]
# Left out for its length: the 10-minute soak (tests/bench/soak.py; its figures are in the README's Reliability).


def forget_rate_limits() -> None:
    """Clear the rate-limit counters the previous benchmark's clients ran up (all from 127.0.0.1)
    in the configured Redis db, so that each benchmark starts with the limits of a fresh client."""
    client = redis.Redis.from_url(load_settings().redis_url)
    try:
        for key in client.scan_iter(match=f"{RATE_LIMIT_PREFIX}*", count=1000):
            client.delete(key)
    finally:
        client.close()


def run_one(name: str, args: list[str]) -> tuple[list[dict], float, int]:
    """Run one benchmark, echoing its output; its rows, seconds taken and exit status."""
    forget_rate_limits()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", f"tests.bench.{name}", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    rows = []
    assert process.stdout is not None
    for line in process.stdout:
        parsed = parse(line)
        if parsed is None:
            sys.stdout.write(line)
        else:
            rows.append(parsed)
    return rows, time.monotonic() - started, process.wait()


def mark(met: bool | None) -> str:
    return "—" if met is None else ("met" if met else "**not met**")


def table(results: list[tuple[str, list[dict], float, int]]) -> str:
    lines = [
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({sum(seconds for _, _, seconds, _ in results) / 60:.0f} min, 2 shared cores: ratios within one run "
        "are the figures to compare, absolute numbers are noisy).",
        "",
        "| benchmark | figure | value | goal | |",
        "|---|---|---|---|---|",
    ]
    for name, rows, _, status in results:
        if status != 0:
            lines.append(f"| `{name}` | the benchmark failed (exit status {status}) | — | — | **not met** |")
        for row in rows:
            lines.append(f"| `{name}` | {row['figure']} | {row['value']} | {row['goal']} | {mark(row['met'])} |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = README.read_text()
    head, begin, rest = readme.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} section")
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    args = parser.parse_args()
    chosen = [(name, bench_args) for name, bench_args in BENCHES if not args.only or name in args.only.split(",")]
    results = []
    for name, bench_args in chosen:
        print(f"=== {name} {' '.join(bench_args)}", flush=True)
        rows, seconds, status = run_one(name, bench_args)
        print(f"=== {name}: {seconds:.0f} s, exit status {status}", flush=True)
        results.append((name, rows, seconds, status))
    text = table(results)
    print(text)
    if not args.no_readme:
        write_readme(text)


if __name__ == "__main__":
    main()
