"""Micro-benchmark of the broker core's hot path: publish -> pump -> ack.

Publishes N messages to one queue with 4 subscribers (prefetch 50), pumping
and acking in virtual time, and prints message lifecycles per second of wall
clock. The engine needs 100,000 lifecycles/s end to end, so the core alone
must be well above that.

    .venv/bin/python benchmarks/core_bench.py [N]
"""

from __future__ import annotations

import gc
import sys
import time

from evtool.core.broker import Broker
from evtool.core.channel_config import QueueConfig
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.profiles import get_profile


def run(n: int, profile: str = "default", batch: int = 100) -> float:
    """Run `n` lifecycles; returns lifecycles per second."""
    events: list[TraceEvent] = []
    broker = Broker(get_profile(profile), events.append)
    broker.declare("q", QueueConfig())
    subs = [broker.subscribe(0, "q", "worker", i, prefetch=50) for i in range(4)]
    assert len(subs) == 4
    msgs = [Message(f"m{i}", channel="q", key=f"k{i % 16}") for i in range(n)]
    now = 0
    acked = 0
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        now += 1_000
        for m in msgs[start:start + batch]:
            broker.publish(now, "q", m)
        while True:
            ds = broker.pump(now)
            if not ds:
                break
            now += 1_000
            for d in ds:
                broker.ack(now, d.tag)
            acked += len(ds)
        if len(events) > 200_000:
            events.clear()   # the engine drains its buffer too
    elapsed = time.perf_counter() - t0
    assert acked == n, (acked, n)
    assert broker.idle()
    return n / elapsed


def main() -> None:
    """Print lifecycles/s for a few profiles, with Python's default GC and with a tuned one.

    The core allocates a handful of small objects per message; with the default
    thresholds the cyclic GC costs about half the time. The engine should
    ``gc.freeze()`` after setup and raise the gen-0 threshold for a run.
    """
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    for label in ("default gc", "tuned gc"):
        if label == "tuned gc":
            gc.collect()
            gc.freeze()
            gc.set_threshold(100_000, 50, 100)
        for profile in ("default", "rabbitmq-classic", "sqs-standard"):
            rate = run(n, profile)
            print(f"{label:10s} {profile:18s} {n:>8,} lifecycles  {rate:>10,.0f} lifecycles/s")


if __name__ == "__main__":
    main()
