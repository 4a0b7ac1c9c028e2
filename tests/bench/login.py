"""A failed login's time for a known email (wrong password) against an unknown email.

Both should cost one argon2 verification, so that the answer's timing does not tell whether an
account exists (tests/auth/test_login.py checks it by counting the verifications; timing is too
noisy on a shared machine to assert in the suite). Logins alternate, known then unknown, each
known account failing at most LOCK_AFTER - 1 times and each from its own client address (so
neither the lockout nor the per-client limit answers instead); the figure is the ratio of medians.

    .venv/bin/python -m tests.bench.login [--rounds 40]

Needs PostgreSQL and Redis as configured; it uses the database `<name>_bench` (see tests.bench.http).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from aiohttp.test_utils import TestClient, TestServer

from tests.bench.http import bench_database
from tests.bench.report import row
from tests.factories import register
from veza.app import create_app
from veza.auth import service
from veza.errors import Unauthorized
from veza.settings import load_settings

WRONG = "Not-The-Password-1"
ATTEMPTS_PER_ACCOUNT = 4  # under the lockout's five


async def failed_login_seconds(app, email: str, client: str) -> float:
    start = time.perf_counter()
    try:
        await service.login(app, email, WRONG, client)
    except Unauthorized:
        return time.perf_counter() - start
    raise AssertionError(f"the login of {email} did not fail with 401")


async def main(rounds: int) -> None:
    app = create_app(load_settings(database_url=bench_database()))
    async with TestClient(TestServer(app)) as client:
        run = uuid.uuid4().hex[:8]
        accounts = [
            (await register(client, username=f"b{run}{n}", email=f"bench-{run}-{n}@example.com"))["user"]["email"]
            for n in range(-(-rounds // ATTEMPTS_PER_ACCOUNT))
        ]
        known, unknown = [], []
        for n in range(rounds):
            email = accounts[n // ATTEMPTS_PER_ACCOUNT]
            known.append(await failed_login_seconds(app, email, f"10.1.{n // 250}.{n % 250}"))
            unknown.append(
                await failed_login_seconds(app, f"nobody-{run}-{n}@example.com", f"10.2.{n // 250}.{n % 250}")
            )
    ratio = statistics.median(unknown) / statistics.median(known)
    print(f"failed login, known email:   median {statistics.median(known) * 1000:.1f} ms ({rounds} logins)")
    print(f"failed login, unknown email: median {statistics.median(unknown) * 1000:.1f} ms ({rounds} logins)")
    print(f"  ratio unknown / known: {ratio:.2f} (goal: 1.00 ± 0.15)")
    row("failed login time: unknown email / known email", f"{ratio:.2f}", "1.00 ± 0.15", abs(ratio - 1) <= 0.15)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
