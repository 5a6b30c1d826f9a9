"""Contract: the core's nats-jetstream profile against NATS JetStream (AckWait, MaxDeliver, BackOff, nak).

NATS 2.9 here. Each script runs on the core (virtual clock) and on JetStream
through evtool's adapter; deliveries, counters (NumDelivered) and what is kept
or dead-lettered must agree. BackOff is checked against the documented
semantics only: the core does not model it (docs/transports.md).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from .drivers import Dead, Driver, RealDriver, plan, run_both

pytestmark = [pytest.mark.broker, pytest.mark.asyncio]

MS = 1_000_000


async def test_ack_wait_redelivers_an_unacked_message(nats_url: str) -> None:
    """Without an ack, the message comes back after AckWait with NumDelivered 2."""

    async def script(d: Driver) -> None:
        await d.publish("q", "m1")
        a = await d.subscribe("q", "a", prefetch=1)
        await d.take(a)
        await d.sleep(800 * MS)
        await d.ack(await d.take(a))
        await d.quiet(a)

    core, real = await run_both(script, [plan("q", ack_timeout_ns=500 * MS)], "nats", nats_url, "nats-jetstream")
    assert real.log == core.log == [("a", "m1", 1), ("a", "m1", 2)]


async def test_max_deliver_counts_the_first_delivery_and_keeps_the_message(nats_url: str) -> None:
    """MaxDeliver 3: three deliveries (the first counts), then the advisory; the message stays in the stream
    (max_deliveries_reached). Where the nacked message comes back relative to a newer one is a race on
    NATS (the core puts it after the newer ones; 1 run in ~20 here had it first), so order is not compared."""

    async def script(d: Driver) -> None:
        await d.publish("q", "m1")
        await d.publish("q", "m2")
        a = await d.subscribe("q", "a", prefetch=1)
        for _ in range(4):
            g = await d.take(a)
            await (d.nack(g) if g.msg.id == "m1" else d.ack(g))
        await d.quiet(a)

    core, real = await run_both(script, [plan("q", max_deliveries=3)], "nats", nats_url, "nats-jetstream")
    assert sorted(real.log) == sorted(core.log)
    assert [x[1:] for x in core.log] == [("m1", 1), ("m2", 1), ("m1", 2), ("m1", 3)]
    assert [x[2] for x in real.log if x[1] == "m1"] == [1, 2, 3]
    assert real.kept == core.kept == ["m1"]


async def test_nak_with_delay(nats_url: str) -> None:
    """NakWithDelay: the message comes back after the delay, not before."""

    async def script(d: Driver) -> None:
        await d.publish("q", "m1")
        a = await d.subscribe("q", "a", prefetch=1)
        await d.nack(await d.take(a), delay_ns=600 * MS)
        await d.quiet(a)                    # 400 ms on the real broker: still held back
        await d.sleep(400 * MS)
        await d.ack(await d.take(a))
        await d.quiet(a)

    core, real = await run_both(script, [plan("q")], "nats", nats_url, "nats-jetstream")
    assert real.log == core.log == [("a", "m1", 1), ("a", "m1", 2)]


async def test_reject_is_term_and_the_dead_letter_copy(nats_url: str) -> None:
    """A reject is +TERM (never redelivered); with a dead_letter channel evtool copies the message there.
    The core's profile drops it or dead-letters it the same way."""

    async def script(d: Driver) -> None:
        await d.publish("q", "bad")
        await d.publish("q", "good")
        a = await d.subscribe("q", "a", prefetch=1)
        await d.reject(await d.take(a))
        await d.ack(await d.take(a))
        await d.quiet(a)

    plans = [plan("q", dead_letter="q.dlq"), plan("q.dlq", groups=[])]
    core, real = await run_both(script, plans, "nats", nats_url, "nats-jetstream")
    assert real.log == core.log
    assert real.dead == core.dead == [Dead("bad", "q", "rejected", "q.dlq")]


async def test_backoff_spaces_redeliveries_on_ack_timeout(nats_url: str) -> None:
    """BackOff [300ms, 600ms] with MaxDeliver 3: the 2nd delivery about 300 ms after the 1st, the 3rd about
    600 ms after the 2nd, then the MaxDeliver advisory (real broker only: the core has no BackOff)."""
    d = RealDriver("nats", nats_url)
    await d.start([plan("q", max_deliveries=3, backoff_ns=(300 * MS, 600 * MS), at_limit="keep_with_advisory")])
    try:
        await d.publish("q", "m1")
        a = await d.subscribe("q", "a", prefetch=1)
        stamps = []
        for _ in range(3):
            await d.take(a)
            stamps.append(time.monotonic())
        await asyncio.sleep(1.0)
        await d.quiet(a)
    finally:
        await d.stop()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert 0.25 <= gaps[0] < 0.55, gaps
    assert 0.5 <= gaps[1] < 0.95, gaps
    assert [x[2] for x in d.log] == [1, 2, 3]
    assert d.kept == ["m1"]
