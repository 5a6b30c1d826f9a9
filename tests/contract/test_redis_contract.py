"""Contract: the core's redis-streams profile against Redis Streams (pending entries, claims, counters).

Redis 7.0 here. Each script runs on the core (virtual clock) and on Redis
through evtool's adapter, whose claimer (XPENDING IDLE + XCLAIM) stands in for
the application's XAUTOCLAIM loop; the core script calls `Broker.claim`.
"""

from __future__ import annotations

import pytest

from .drivers import CoreDriver, Dead, Driver, RealDriver, plan, run_both

pytestmark = [pytest.mark.broker, pytest.mark.asyncio]

MS = 1_000_000


async def _pending(d: Driver) -> list[tuple[str, int]]:
    """The group's pending entries: (owner consumer, delivery count)."""
    if isinstance(d, CoreDriver):
        return [(e.sub.consumer, e.count) for e in d.broker._inflight.values()]  # noqa: SLF001
    ad = d.adapter  # type: ignore[attr-defined]
    rows = await ad.r.xpending_range(ad.key("q"), "q", min="-", max="+", count=10)
    return [(r["consumer"].decode().split("#")[0], int(r["times_delivered"])) for r in rows]


async def test_crashed_consumer_entries_stay_pending_until_claimed(redis_url: str) -> None:
    """Nothing is redelivered by itself: a crashed consumer's entries stay in the PEL (count 1) until a claim
    for an idle time of 1 s gives them to another consumer, which increments the count."""

    async def script(d: Driver) -> None:
        await d.publish("q", "m1")
        await d.publish("q", "m2")
        a = await d.subscribe("q", "a", prefetch=2)
        await d.take(a)
        await d.take(a)
        await d.crash(a)
        b = await d.subscribe("q", "b", prefetch=2)
        await d.quiet(b)
        d.record("pending", sorted(await _pending(d)))
        await d.sleep(800 * MS)
        await d.claim(b, 1000 * MS)
        await d.ack(await d.take(b))
        await d.ack(await d.take(b))
        await d.quiet(b)
        d.record("pending at the end", await _pending(d))

    core, real = await run_both(script, [plan("q", ack_timeout_ns=1000 * MS)], "redis", redis_url,
                                "redis-streams")
    assert real.log == core.log
    assert ("pending", [("a", 1), ("a", 1)]) in real.log
    assert [x for x in real.log if x[0] == "b"] == [("b", "m1", 2), ("b", "m2", 2)]


async def test_nack_rereads_the_own_pending_entry_and_counts_it(redis_url: str) -> None:
    """A nack is a re-read of the consumer's own pending entry (back at the head), counted."""

    async def script(d: Driver) -> None:
        await d.publish("q", "m1")
        await d.publish("q", "m2")
        a = await d.subscribe("q", "a", prefetch=1)
        await d.nack(await d.take(a))
        await d.ack(await d.take(a))
        await d.ack(await d.take(a))
        await d.quiet(a)

    core, real = await run_both(script, [plan("q")], "redis", redis_url, "redis-streams")
    assert real.log == core.log == [("a", "m1", 1), ("a", "m1", 2), ("a", "m2", 1)]


async def test_delivery_limit_applies_the_dead_letter_recipe(redis_url: str) -> None:
    """max_deliveries 2 with a dead-letter stream: two deliveries, then XADD to the dead-letter stream and
    XACK (the documented recipe); the entry leaves the PEL."""

    async def script(d: Driver) -> None:
        await d.publish("q", "P")
        await d.publish("q", "ok")
        a = await d.subscribe("q", "a", prefetch=1)
        for _ in range(3):
            g = await d.take(a)
            await (d.nack(g) if g.msg.id == "P" else d.ack(g))
        await d.quiet(a)
        d.record("pending at the end", await _pending(d))

    plans = [plan("q", max_deliveries=2, dead_letter="q.dlq"), plan("q.dlq", groups=[])]
    core, real = await run_both(script, plans, "redis", redis_url, "redis-streams")
    assert real.log == core.log
    assert real.dead == core.dead == [Dead("P", "q", "max_deliveries", "q.dlq")]


async def test_dead_letter_stream_holds_the_copy(redis_url: str) -> None:
    """The dead-letter copy is an entry of the dead-letter stream, with evtool's death record."""
    d = RealDriver("redis", redis_url)
    await d.start([plan("q", dead_letter="q.dlq"), plan("q.dlq", groups=[])])
    try:
        await d.publish("q", "bad")
        a = await d.subscribe("q", "a", prefetch=1)
        await d.reject(await d.take(a))
        ad = d.adapter
        rows = await ad.r.xrange(ad.key("q.dlq"))
        assert len(rows) == 1
        from evtool.transports.base import decode_message

        copy = decode_message(rows[0][1][b"m"])
        assert copy.id == "bad" and copy.deaths[0].reason == "rejected" and copy.deaths[0].channel == "q"
        assert await ad.r.xpending(ad.key("q"), "q") == {"pending": 0, "min": None, "max": None,
                                                         "consumers": []}
    finally:
        await d.stop()
