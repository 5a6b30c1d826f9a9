"""The run's memory budget: how far this process's resident memory may grow while a run goes on.

Events, messages and wall time bound most runs, but a run can hold what it makes (a queue that only
grows, deliveries that pile up behind a consumer that never finishes) and reach gigabytes within its
event budget. The memory budget stops it first: the engine asks `MemoryWatch.over()` once per trace
batch, and the watch reads the resident size at most every `CHECK_EVERY_S` seconds (one small read of
`/proc/self/statm` on Linux; the peak from `getrusage` elsewhere; no check where neither exists).
"""

from __future__ import annotations

import os
import sys
import time

CHECK_EVERY_S = 0.1
"""At most this often the resident size is read."""


def _page_size() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return 4096


_PAGE = _page_size()


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux), or its peak (other Unix); None when unknown."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows: no budget on memory
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


class MemoryWatch:
    """Says when resident memory has grown by more than `budget` bytes since the watch was made."""

    __slots__ = ("budget", "base", "_next")

    def __init__(self, budget: int | None) -> None:
        self.budget = budget
        base = resident_bytes() if budget is not None else None
        self.base = base
        self._next = time.monotonic() + CHECK_EVERY_S

    def over(self) -> bool:
        """True once the growth passes the budget (cheap: reads memory at most every CHECK_EVERY_S)."""
        if self.base is None:
            return False
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + CHECK_EVERY_S
        rss = resident_bytes()
        return rss is not None and rss - self.base > (self.budget or 0)


def format_bytes(n: int) -> str:
    """`300MB`, `1.5GB`: as a user writes a size (decimal units)."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= size:
            return f"{n / size:g}{unit}"
    return f"{n}B"
