"""Large freed blocks go back to the system (glibc's malloc), so that memory stays flat.

glibc serves a request over M_MMAP_THRESHOLD (128 KiB at first) with its own mmap, given back on
free; but each such free raises the threshold to that block's size, up to 32 MiB. After the first
password hash (argon2id holds 19 MiB for the hash), later hashes come from the arena of the thread
that runs them and stay resident once freed: ~19 MiB kept by each thread of the executor that
hashes passwords, a step in the web process's RSS whenever another thread hashes for the first
time. Setting the threshold turns that adjustment off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial threshold


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at 128 KiB; whether it was set (False elsewhere than glibc)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    if not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
        return False
    return True
