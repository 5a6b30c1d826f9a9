"""A producer on a real broker keeps its schedule. The realtime kernel gives a timer callback the time it was
scheduled for as `now` (never earlier than a time already handed out) and runs the callbacks already due in
the same event-loop iteration. Before, a producer behind its schedule drifted by the loop's latency and sent
one message per iteration; an iteration busy with broker callbacks takes milliseconds, so the `batching`
lesson's 400/s burst reached the broker at ~230/s."""

from __future__ import annotations

import asyncio
import time

import pytest

from evtool.scenario.loader import load_text
from evtool.transports.runner import run_on_transport
from evtool.transports.runtime import RealtimeKernel

MS = 1_000_000


def test_a_late_schedule_catches_up_with_its_own_times() -> None:
    """Arrivals every 1 ms from 0; the loop is blocked for 60 ms before the first one runs. The 60 that are
    then due run at once, stamped with their scheduled times; the rest keep the 1 ms schedule."""

    async def main() -> tuple[list[int], int]:
        k = RealtimeKernel()
        k.start(asyncio.get_running_loop())
        times: list[int] = []
        seen_at_70ms = 0

        def arrive(_: object) -> None:
            times.append(k.now)
            if len(times) < 100:
                k.at(times[-1] + MS, arrive)

        k.at(0, arrive)
        time.sleep(0.06)                      # the loop is busy elsewhere (a broker callback, the machine)
        await asyncio.sleep(0.01)
        seen_at_70ms = len(times)
        await asyncio.sleep(0.2)
        k.cancel_all()
        return times, seen_at_70ms

    times, early = asyncio.run(main())
    assert times == [i * MS for i in range(100)]
    assert early >= 55, f"only {early} arrivals ran in the first 70 ms: the due ones did not catch up"


def test_a_broker_callback_does_not_move_an_overdue_schedule() -> None:
    """As above, but a broker callback (a delivery, stamped with the wall clock) runs in the loop while the
    arrivals are 60 ms overdue, before their timer. It is stamped at the first overdue arrival (the run is not
    past it), and the arrivals keep their times. Before, the callback's wall-clock time (60 ms) became every
    later arrival's `now`: they were stamped 60 ms late and scheduled their successors from there, so a busy
    loop lost a producer's arrivals for good (tests/transports/test_lessons_on_brokers.py's batching burst
    failed 7 runs of 10 with a core busy)."""

    async def main() -> tuple[list[int], list[int]]:
        loop = asyncio.get_running_loop()
        k = RealtimeKernel()
        k.start(loop)
        times: list[int] = []
        seen: list[int] = []

        def arrive(_: object) -> None:
            times.append(k.now)
            if len(times) < 100:
                k.at(times[-1] + MS, arrive)

        k.at(0, arrive)
        time.sleep(0.06)                      # the loop is busy elsewhere
        loop.call_soon(lambda: seen.append(k.now))   # a delivery read from the socket runs before the timers
        await asyncio.sleep(0.15)
        seen.append(k.now)                    # no timer overdue: the wall clock again
        k.cancel_all()
        return times, seen

    times, seen = asyncio.run(main())
    assert times == [i * MS for i in range(100)]
    assert seen[0] == 0, seen
    assert seen[1] >= 150 * MS, seen


FAST = """
evtool: "1"
id: t-rate
run: {seed: 1, duration: 2s, drain: {max: 30s}}
channels:
  jobs: {kind: queue}
producers:
  p: {to: jobs, arrival: {process: constant, rate: 400/s}}
consumers:
  c: {from: jobs, instances: 2, prefetch: 100, processing: 0s}
expect:
  - {name: all, check: no_loss, channel: jobs}
"""


@pytest.mark.broker
def test_a_400_per_second_producer_publishes_its_schedule_on_redis(redis_url: str) -> None:
    """400/s (the batching lesson's burst) for 2 s: about 800 published (the schedule, whatever the loop's latency),
    all of them acked. The load phase ends on the wall clock, so a loop that is late at that moment loses the
    last few."""
    out = run_on_transport(load_text(FAST), "redis", url=redis_url)
    published = out.summary["counts"]["published"]
    # the old kernel published 516 of the 800 here on a lightly loaded machine; the new one 780-800 (651 while
    # another real-time run shared the two CPUs): 75 % tells them apart without failing on a busy machine
    assert published >= 600, published
    assert out.summary["counts"]["acked"] == published
    assert out.drain == "complete" and out.outcome == "passed"
