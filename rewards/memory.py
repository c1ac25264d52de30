"""How a process that sends a file gives freed memory back to the machine.

A million-row run makes and drops a gigabyte of Arrow buffers step by step (the read, the
checks, the plan, the report). Arrow's default allocator (mimalloc) keeps freed pages in the
heap of the thread that freed them, and glibc's malloc raises its threshold for mapping large
blocks apart after the first large ones are freed: both keep memory the run no longer holds,
and the next step cannot always reuse it. A million-row run peaked at 3.2 GiB while it held
about half of that. Arrow on the system allocator, with large blocks always mapped apart
(glibc's own default threshold, kept fixed), returns a dropped buffer at once: 300,000 rows
read, planned, recorded and reported in one process peaked at 0.97 GiB instead of 1.19 GiB
(``bench/e2e.py`` has the whole run).

"""

from __future__ import annotations

import ctypes
import sys

import pyarrow as pa

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MAPPED_APART = 128 * 1024  # blocks this large are mapped apart, and unmapped when freed


def give_back_freed_memory() -> None:
    """For this process: Arrow on the system allocator, glibc's mapping threshold fixed.
    Elsewhere than Linux with glibc only the first applies."""
    pa.set_memory_pool(pa.system_memory_pool())
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MAPPED_APART)
    except (OSError, AttributeError):  # another C library (musl): its own policy stands
        pass
