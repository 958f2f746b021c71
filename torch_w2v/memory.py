"""Giving freed memory back to the operating system between the phases of a run.

The vocabulary scan makes and drops hundreds of thousands of small objects (a word -> count dict of every
distinct token); glibc keeps the freed heap pages mapped, so the process's resident size stays ~20 MB
higher through training than what it uses (measured on the 5M-word benchmark corpus: 76 MB above imports
after training, 59 MB after ``malloc_trim``). :func:`release_freed_memory` asks glibc to unmap them; on other
C libraries it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_trim = None
if sys.platform.startswith("linux"):
    try:
        _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        _trim = None


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the OS (glibc's ``malloc_trim(0)``); True if it released any."""
    return bool(_trim(0)) if _trim is not None else False
