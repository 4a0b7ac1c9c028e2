"""Benchmarks: `python -m tests.bench.<name>`, or all of them with `make bench` (tests/bench/run_all.py).

They run on a Redis db of their own, BENCH_REDIS_DB of the configured server, unless REDIS_URL is set:
they empty arq's queue there and run up rate-limit counters, which must not touch a development
server's queue (`make run`).
"""

import os

import yarl

from veza.settings import load_settings

BENCH_REDIS_DB = 12

if "REDIS_URL" not in os.environ:
    os.environ["REDIS_URL"] = str(yarl.URL(load_settings().redis_url).with_path(f"/{BENCH_REDIS_DB}"))
