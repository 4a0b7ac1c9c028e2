"""Large freed blocks go back to the system (glibc's malloc), so that memory stays flat.

glibc serves a request over M_MMAP_THRESHOLD (128 KiB at first) with its own mmap, given back on
free; but each such free raises the threshold to that block's size, up to 32 MiB. After the first
password hash (argon2id holds 19 MiB for the hash), later hashes come from the arena of the thread
that runs them and stay resident once freed: ~19 MiB kept by each thread of the executor that
hashes passwords, a step in the web process's RSS whenever another thread hashes for the first
time. Setting the threshold turns that adjustment off.

The threshold is fixed at 1 MiB, not at the initial 128 KiB: every socket read of asyncio's reads
into a fresh 256 KiB buffer, and at 128 KiB each of them was an mmap and a munmap of its own, which
halved the web process's throughput. Fixing it also fixes the trim threshold (glibc gives the top
of its heap back past it), left at its initial 128 KiB it gave back and took again the same memory
at every read: it is raised to 16 MiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (glibc malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1024 * 1024
TRIM_THRESHOLD_BYTES = 16 * 1024 * 1024


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at 1 MiB and its trim threshold at 16 MiB; whether they were set
    (False elsewhere than glibc)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    if not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) or not mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES):
        log.debug("mallopt refused")
        return False
    return True


def freeze_startup_objects() -> None:
    """Leave what start-up built (modules, routes, models: ~120,000 objects) out of the garbage
    collector's full collections, which walked them all (~40 ms each) every few seconds in a busy
    process, a pause for every request in flight. Objects made later are collected as before."""
    gc.collect()
    gc.freeze()
