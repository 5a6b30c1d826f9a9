"""The clock of a run on a real broker: the engine kernel's interface on the asyncio loop, in wall-clock time
(see `evtool.transports.runtime`)."""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import Counter
from typing import Any

from evtool.sim.kernel import PRIO_ACTOR

NS = 1_000_000_000
SLICE_S = 0.004
"""How long one timer callback may go on running the callbacks it makes due at once (seconds), see
`RealtimeKernel._run`."""


class RealtimeKernel:
    """The engine kernel's interface (`now`, `at`, `after`) on the asyncio loop, in wall-clock time.

    Inside a timer callback `now` is the time the callback was scheduled for, as in the virtual kernel;
    elsewhere (a broker's callback) it is the wall clock, held back to the earliest timer that is due and has
    not run yet: the run has not got past that time, as the virtual clock never passes an event still to
    run. `now` never goes back (the trace stays in order). So an actor that schedules "now + gap" from a
    callback that ran late (a producer behind its schedule) keeps its schedule instead of drifting by the
    loop's latency, and the arrivals already due run at once (see `_run`). Before the hold-back, a broker
    callback that ran while a producer's arrival was overdue moved `now` past it, and the arrival was
    stamped, and scheduled its next one, from there: on a busy machine the batching lesson's producer lost a
    third of its 400/s burst (tests/transports/test_realtime_rate.py)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.t0 = 0.0
        self.processed = 0
        self._handles: set[asyncio.TimerHandle] = set()
        self.errors: list[BaseException] = []
        self._due: list[tuple[Any, Any, int]] | None = None   # callbacks due now, made by the running one
        self._cb_t: int | None = None                           # scheduled time of the running callback
        self._last = 0                                           # the latest `now` handed out
        self._times: list[int] = []                              # heap: the times of the timers scheduled
        self._ran: Counter[int] = Counter()                      # times in `_times` whose timer has run

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the clock at 0 now."""
        self.loop = loop
        self.t0 = loop.time()

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
            self._drop_ran()
            if self._times and self._times[0] < t:
                t = self._times[0]      # a timer due and not run yet: the run is not past it
        if t < self._last:
            return self._last
        self._last = t
        return t

    def _drop_ran(self) -> None:
        """Take the times of the timers that have run off the top of `_times`."""
        times, ran = self._times, self._ran
        while times:
            n = ran.get(times[0])
            if not n:
                return
            if n == 1:
                del ran[times[0]]
            else:
                ran[times[0]] = n - 1
            heapq.heappop(times)

    def at(self, t: int, fn: Any, arg: Any = None, prio: int = PRIO_ACTOR) -> None:
        """Run `fn(arg)` at run time `t` (at once if that has passed)."""
        assert self.loop is not None, "the realtime kernel is not started"
        due = self._due
        if due is not None and t <= self._wall():
            due.append((fn, arg, t))    # due already: run in this loop iteration (see _run)
            return
        holder: list[asyncio.TimerHandle] = []
        h = self.loop.call_at(self.t0 + t / NS, self._run, fn, arg, holder, t)
        holder.append(h)
        self._handles.add(h)
        heapq.heappush(self._times, t)

    def after(self, delay: int, fn: Any, arg: Any = None, prio: int = PRIO_ACTOR) -> None:
        """Run `fn(arg)` `delay` nanoseconds from now."""
        self.at(self.now + delay, fn, arg, prio)

    def _run(self, fn: Any, arg: Any, holder: list[asyncio.TimerHandle], t: int = 0) -> None:
        """Run one timer callback, then (for up to SLICE_S) the callbacks it and they make due at once.

        A producer that is behind its schedule (a high rate, or `rate: max`) schedules its next arrival in
        the past; through `loop.call_at` that is one message per event-loop iteration, and an iteration that
        also serves hundreds of broker callbacks takes milliseconds: the producer could not send more than a
        few hundred messages a second whatever the broker's speed. Run here, a burst catches up at once (the
        virtual kernel likewise runs everything due at one instant before moving on)."""
        if holder:
            self._handles.discard(holder[0])
            self._ran[t] += 1
            self._drop_ran()
        if self._due is not None:       # nested (cannot happen from the loop; defensive)
            self._call(fn, arg, t)
            return
        self._due = due = []
        rest: list[tuple[Any, Any, int]] = []
        try:
            self._call(fn, arg, t)
            if due:
                deadline = time.perf_counter() + SLICE_S
                i = 0
                while i < len(due) and time.perf_counter() < deadline:
                    f, a, ft = due[i]
                    i += 1
                    self._call(f, a, ft)
                rest = due[i:]
        finally:
            self._due = None
        for f, a, ft in rest:           # the slice is over: the rest waits for the next iterations
            self.at(ft, f, a)

    def _call(self, fn: Any, arg: Any, t: int) -> None:
        self.processed += 1
        prev, self._cb_t = self._cb_t, t
        try:
            fn(arg)
        except Exception as exc:  # noqa: BLE001 - reported by the run loop, which stops the run
            self.errors.append(exc)
        finally:
            self._cb_t = prev

    def pending(self) -> int:
        """How many callbacks are scheduled."""
        return len(self._handles)

    def next_time(self) -> int | None:
        """Not tracked in real time (the loop owns the schedule)."""
        return None

    def cancel_all(self) -> None:
        """Cancel every scheduled callback (the run is over)."""
        for h in self._handles:
            h.cancel()
        self._handles.clear()
        self._times.clear()
        self._ran.clear()
