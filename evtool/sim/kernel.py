"""The discrete-event kernel: virtual time in integer nanoseconds.

Events are ordered by (time, priority, sequence number). The sequence number
breaks ties in insertion order, so two runs that schedule the same things in
the same order process them in the same order: the run is deterministic by
construction, whatever the pacing.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

Callback = Callable[[Any], None]

PRIO_FAULT = 0
"""Faults and hand-injected commands run first at their instant."""
PRIO_BROKER = 1
"""Broker timers (leases, delays, TTL) before actors at the same instant."""
PRIO_ACTOR = 2
"""Producers and consumers."""
PRIO_SAMPLE = 9
"""Metric samples see the state after everything else at their instant."""


class Kernel:
    """A heap of timed callbacks and the virtual clock they advance."""

    __slots__ = ("now", "_heap", "_seq", "processed")

    def __init__(self) -> None:
        self.now = 0
        self._heap: list[tuple[int, int, int, Callback, Any]] = []
        self._seq = 0
        self.processed = 0

    def at(self, t: int, fn: Callback, arg: Any = None, prio: int = PRIO_ACTOR) -> None:
        """Run `fn(arg)` at virtual time `t` (never before now)."""
        # The two hottest schedules (a producer's next arrival, a plain consumer's completion) push
        # onto `_heap` themselves with this same `_seq` counter; keep them in step with any change here.
        if t < self.now:
            t = self.now
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, self._seq, fn, arg))

    def after(self, delay: int, fn: Callback, arg: Any = None, prio: int = PRIO_ACTOR) -> None:
        """Run `fn(arg)` `delay` nanoseconds from now."""
        self.at(self.now + delay, fn, arg, prio)

    def next_time(self) -> int | None:
        """The time of the next event, or None when nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def step(self) -> bool:
        """Run the next event; False when there is none."""
        if not self._heap:
            return False
        t, _prio, _seq, fn, arg = heapq.heappop(self._heap)
        self.now = t
        self.processed += 1
        fn(arg)
        return True

    def pending(self) -> int:
        """How many events are scheduled."""
        return len(self._heap)
