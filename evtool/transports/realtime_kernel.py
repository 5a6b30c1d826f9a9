"""The clock of a run on a real broker: the engine kernel's interface on the asyncio loop, in wall-clock time
(see `evtool.transports.runtime`)."""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import Any

from evtool.sim.kernel import PRIO_ACTOR

NS = 1_000_000_000
SLICE_S = 0.004
"""How long one wake-up of the kernel may go on running the callbacks that are due (seconds), see
`RealtimeKernel._fire`."""


class RealtimeKernel:
    """The engine kernel's interface (`now`, `at`, `after`) on the asyncio loop, in wall-clock time.

    The callbacks wait in the kernel's own heap, in the virtual kernel's order (time, priority, then the order
    they were scheduled in), and one asyncio timer wakes the kernel for the first of them; a wake-up runs every
    callback that is due by then, in that order (see `_fire`). Inside a callback `now` is the time it was
    scheduled for, as in the virtual kernel; elsewhere (a broker's callback) it is the wall clock, held back to
    the first callback that is due and has not run yet: the run has not got past that time, as the virtual
    clock never passes an event still to run. So the times handed out never go back (the trace stays in
    order), and an actor that schedules "now + gap" from a callback that ran late (a producer behind its
    schedule) keeps its schedule instead of drifting by the loop's latency.

    Before, each callback had an asyncio timer of its own and `now` was the latest time handed out: a broker
    callback that ran while a producer's arrival was overdue (or a later callback that asyncio ran first) moved
    `now` past that arrival, which was then stamped, and scheduled its successor, from there. On a busy
    machine the batching lesson's producer lost up to a third of its 400/s burst
    (tests/transports/test_realtime_rate.py)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.t0 = 0.0
        self.processed = 0
        self.errors: list[BaseException] = []
        self._heap: list[tuple[int, int, int, Any, Any]] = []    # (time, priority, sequence, fn, arg)
        self._seq = 0
        self._timer: asyncio.TimerHandle | None = None           # wakes `_fire` for the head of the heap
        self._armed = 0                                          # the time it is set for
        self._firing = False
        self._cb_t: int | None = None                            # scheduled time of the running callback
        self._last = 0                                           # the latest `now` handed out

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the clock at 0 now."""
        self.loop = loop
        self.t0 = loop.time()
        if self._heap:
            self._arm()

    def _wall(self) -> int:
        assert self.loop is not None
        return int((self.loop.time() - self.t0) * NS)

    @property
    def now(self) -> int:
        """Nanoseconds since `start` (see the class docstring)."""
        if self.loop is None:
            return 0
        t = self._cb_t
        if t is None:
            t = self._wall()
            heap = self._heap
            if heap and heap[0][0] < t:
                t = heap[0][0]      # a callback due and not run yet: the run is not past it
        if t < self._last:
            return self._last
        self._last = t
        return t

    def at(self, t: int, fn: Any, arg: Any = None, prio: int = PRIO_ACTOR) -> None:
        """Run `fn(arg)` at run time `t` (as soon as the loop allows if that has passed)."""
        self._seq += 1
        heapq.heappush(self._heap, (t, prio, self._seq, fn, arg))
        if not self._firing and self.loop is not None and (self._timer is None or t < self._armed):
            self._arm()

    def after(self, delay: int, fn: Any, arg: Any = None, prio: int = PRIO_ACTOR) -> None:
        """Run `fn(arg)` `delay` nanoseconds from now."""
        self.at(self.now + delay, fn, arg, prio)

    def _arm(self) -> None:
        assert self.loop is not None
        if self._timer is not None:
            self._timer.cancel()
        self._armed = t = self._heap[0][0]
        self._timer = self.loop.call_at(self.t0 + t / NS, self._fire)

    def _fire(self) -> None:
        """Run the callbacks that are due, in order, for up to SLICE_S; the rest wait for the next wake-up.

        A producer behind its schedule (a high rate, or `rate: max`) has its next arrivals due at once; run here
        they catch up in one go (the virtual kernel likewise runs everything due at one instant before moving
        on) instead of one per event-loop iteration, an iteration that also serves hundreds of broker callbacks.
        A wake-up with callbacks still due after its slice lets the loop serve the sockets first."""
        self._timer = None
        heap = self._heap
        self._firing = True
        deadline = time.perf_counter() + SLICE_S
        try:
            wall = self._wall()
            while heap and heap[0][0] <= wall:
                t, _p, _s, fn, arg = heapq.heappop(heap)
                self._call(fn, arg, t)
                if time.perf_counter() >= deadline:
                    break
                if not heap or heap[0][0] > wall:
                    wall = self._wall()
        finally:
            self._firing = False
        if heap:
            self._arm()

    def _call(self, fn: Any, arg: Any, t: int) -> None:
        self.processed += 1
        if t < self._last:
            t = self._last              # scheduled in the past by a broker callback (its `now` was later)
        prev, self._cb_t = self._cb_t, t
        try:
            fn(arg)
        except Exception as exc:  # noqa: BLE001 - reported by the run loop, which stops the run
            self.errors.append(exc)
        finally:
            self._cb_t = prev
            if t > self._last:
                self._last = t

    def pending(self) -> int:
        """How many callbacks are scheduled."""
        return len(self._heap)

    def next_time(self) -> int | None:
        """Not tracked in real time (the loop owns the schedule)."""
        return None

    def cancel_all(self) -> None:
        """Cancel every scheduled callback (the run is over)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
