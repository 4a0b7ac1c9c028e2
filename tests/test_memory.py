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


MALLINFO = """
import ctypes, ctypes.util, json, sys
from veza.memory import return_large_blocks

FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.mallinfo2.restype = MallInfo2
assert return_large_blocks()
mapped_before = libc.mallinfo2().hblks
read_buffer = bytearray(256 * 1024)  # what asyncio's socket transport reads into
print(json.dumps(libc.mallinfo2().hblks - mapped_before))
"""


def test_a_socket_read_buffer_is_not_a_mapping_of_its_own():
    """asyncio reads each socket into a fresh 256 KiB buffer: mapped and unmapped per read, it halved
    the web process's throughput (tests/bench/http.py)."""
    result = subprocess.run([sys.executable, "-c", MALLINFO], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == 0
