"""Password hashes in several threads leave the process's memory where it was (veza.memory)."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# Hashes at OWASP's argon2id cost (19 MiB each) in six threads, twice over: the growth of RSS.
SCRIPT = """
import asyncio, json, sys
import psutil
from argon2 import PasswordHasher
from veza.memory import return_large_blocks

if sys.argv[1] == "fixed":
    assert return_large_blocks()
hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

async def rounds():
    for _ in range(2):
        await asyncio.gather(*(asyncio.to_thread(hasher.hash, "pw") for _ in range(6)))

before = psutil.Process().memory_info().rss
asyncio.run(rounds())
print(json.dumps((psutil.Process().memory_info().rss - before) / 2**20))
"""


def growth(mode: str) -> float:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_hashing_in_several_threads_keeps_memory_flat():
    assert growth("fixed") < 20  # MiB: one hash's worth at most, not one per thread


def test_without_it_each_thread_keeps_a_hash_worth_of_memory():
    """What the setting is for: glibc's default keeps ~19 MiB in each thread that hashed."""
    assert growth("default") > 60
