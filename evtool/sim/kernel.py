"""The discrete-event kernel: virtual time in integer nanoseconds.

Events are ordered by (time, priority, sequence number). The sequence number
breaks ties in insertion order, so two runs that schedule the same things in
the same order process them in the same order: the run is deterministic by
construction, whatever the pacing.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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


class ChoosingKernel(Kernel):
    """An optional kernel for `evtool explore` (scenario `explore: {schedule: N}`; the default `Kernel`
    is used otherwise, so the choice costs nothing when off).

    It varies one thing only: the order of actor events due at the same instant when they belong to
    *different* actors (two consumers' handlers finishing together, a pattern's timer and a handler).
    Nothing orders such independent events in a real system. Events of one actor keep their order,
    and so do broker timers, faults and samples (other priorities). The order is a permutation of the
    actors drawn from `N`, so a run with the same `N` repeats exactly (and a recorded run's overrides
    carry `N` to its replay). Events the hot paths push straight onto the heap (a producer's next
    arrival, a plain consumer's completion) keep insertion order and come first among equals.
    """

    __slots__ = ("_rank", "_rng")

    def __init__(self, schedule: int) -> None:
        super().__init__()
        self._rng = random.Random(schedule)
        self._rank: dict[str, int] = {}

    def at(self, t: int, fn: Callback, arg: Any = None, prio: int = PRIO_ACTOR) -> None:
        """As `Kernel.at`; actor events sort by their actor's drawn rank, then in insertion order."""
        if prio != PRIO_ACTOR:
            super().at(t, fn, arg, prio)
            return
        owner = getattr(fn, "__self__", None)
        name = str(getattr(owner, "name", None) or type(owner).__name__)
        rank = self._rank.get(name)
        if rank is None:  # drawn on first sight: actors seen in the same order draw the same ranks
            rank = self._rank[name] = self._rng.randrange(1, 1 << 20)
        if t < self.now:
            t = self.now
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, (rank << 40) + self._seq, fn, arg))


@dataclass(frozen=True)
class Limits:
    """What one run may consume: a scenario from elsewhere must never hang or exhaust the machine.

    `per_instant` bounds the events at one virtual instant: virtual time that stops while events
    pile up is a zero-time loop (work that feeds itself with no processing time, backoff or latency).
    `memory` bounds how far resident memory may grow during the run, in bytes (`sim.budget`).
    """

    events: int
    messages: int
    wall_s: float | None
    per_instant: int
    memory: int | None = None


LOOP_SAMPLE = 2_000
"""Events run after a zero-time loop is detected, to see which actors and channels take part."""


def describe_loop(trace: Iterable[Any], now: int, per_instant: int) -> str:
    """The error for a zero-time loop, naming the actors, channels and event kinds seen in `trace`.

    `trace` holds the trace events (anything with `kind`, `actor`, `channel`) emitted while the
    loop was sampled; the most frequent names come first.
    """
    actors: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for ev in trace:
        kinds[ev.kind] += 1
        if ev.actor:
            actors[ev.actor] += 1
        if ev.channel:
            channels[ev.channel] += 1

    def names(c: Counter[str]) -> str:
        top = [n for n, _ in c.most_common(6)]
        return ", ".join(f"`{n}`" for n in top) + (" ..." if len(c) > 6 else "") if top else "none seen"

    return (f"zero-time loop: more than {per_instant:,} events at virtual time {now / 1e9:g}s without the clock "
            f"moving; actors: {names(actors)}; channels: {names(channels)}; events: "
            + ", ".join(f"{k}×{n}" for k, n in kinds.most_common(5))
            + ". Every step of the loop takes no time (processing 0s, no backoff, no hop latency): give it a "
              "processing time or a retry backoff, break the cycle, or raise run.budget.events_per_instant "
              "if this many events at one instant is intended")
