"""Contract: the core's RabbitMQ profiles against RabbitMQ itself (3.10 here: `rabbitmqctl version`).

Each script runs on the core (virtual clock) and on RabbitMQ through evtool's
adapter; who got which message, with which x-delivery-count, in what order,
and what was dead-lettered (source, reason, target) must be the same.
"""

from __future__ import annotations

import pytest

from .drivers import Dead, Driver, plan, run_both

pytestmark = [pytest.mark.broker, pytest.mark.asyncio]

MS = 1_000_000


async def _poison(d: Driver) -> None:
    await d.publish("orders", "POISON")
    await d.publish("orders", "ok-1")
    a = await d.subscribe("orders", "a", prefetch=1)
    for _ in range(4):
        g = await d.take(a)
        if g.msg.id == "POISON":
            await d.nack(g)
        else:
            await d.ack(g)
    await d.quiet(a)


@pytest.mark.parametrize("limit", [1, 2])
async def test_poison_message_quorum_delivery_limit_and_dlx(rabbitmq_url: str, limit: int) -> None:
    """x-delivery-limit N: N+1 deliveries (the counter counts returns), then the DLX with reason
    delivery_limit; RabbitMQ 3.10 returns a nacked message near the head."""

    async def script(d: Driver) -> None:
        await d.publish("orders", "POISON")
        await d.publish("orders", "ok-1")
        a = await d.subscribe("orders", "a", prefetch=1)
        for _ in range(limit + 2):
            g = await d.take(a)
            await (d.nack(g) if g.msg.id == "POISON" else d.ack(g))
        await d.quiet(a)

    plans = [plan("orders", max_deliveries=limit, dead_letter="orders.dlq"), plan("orders.dlq", groups=[])]
    core, real = await run_both(script, plans, "rabbitmq", rabbitmq_url, "rabbitmq-quorum")
    assert real.log == core.log
    assert [g[1] for g in core.log].count("POISON") == limit + 1
    assert real.dead == core.dead == [Dead("POISON", "orders", "max_deliveries", "orders.dlq")]


@pytest.mark.parametrize(("limit", "position"), [(5, "head"), (None, "tail")])
async def test_nack_requeue_and_the_order_other_consumers_see(rabbitmq_url: str, limit: int | None,
                                                              position: str) -> None:
    """Quorum queues on 3.10: with x-delivery-limit a nacked message comes back near the head; WITHOUT one it
    goes to the back of the queue. The core's rabbitmq-quorum profile says head in both cases (a documented
    disagreement, docs/transports.md); with requeue_position=tail the core matches RabbitMQ."""

    async def script(d: Driver) -> None:
        for i in range(1, 6):
            await d.publish("q", f"m{i}")
        a = await d.subscribe("q", "a", prefetch=1)
        await d.nack(await d.take(a))
        held_a = await d.take(a)                  # a is full: the next one must go to b
        b = await d.subscribe("q", "b", prefetch=1)
        held_b = await d.take(b)
        await d.ack(held_a)
        held_a = await d.take(a)
        await d.ack(held_b)
        held_b = await d.take(b)
        await d.ack(held_a)
        last = await d.take(a)
        await d.ack(held_b)
        await d.ack(last)
        await d.quiet(a)

    plans = [plan("q", max_deliveries=limit)]
    core, real = await run_both(script, plans, "rabbitmq", rabbitmq_url, "rabbitmq-quorum",
                                requeue_position=position)
    assert real.log == core.log
    second = ("a", "m1", 1) if position == "head" else ("a", "m2", 0)
    assert real.log[:2] == [("a", "m1", 0), second]


async def test_nack_requeue_classic_queue(rabbitmq_url: str) -> None:
    """Classic queues requeue to the original position (here the head) and have no delivery counter. (With two unacked messages the order after a nack varied between runs on 3.10:
    "original position if possible, otherwise nearer the head", so the script keeps one in flight.)"""

    async def script(d: Driver) -> None:
        for i in range(1, 4):
            await d.publish("q", f"m{i}")
        a = await d.subscribe("q", "a", prefetch=1)
        await d.nack(await d.take(a))
        redelivered = await d.take(a)
        await d.ack(redelivered)
        for _ in range(2):
            await d.ack(await d.take(a))
        await d.quiet(a)

    core, real = await run_both(script, [plan("q")], "rabbitmq", rabbitmq_url, "rabbitmq-classic", classic=True)
    assert real.log == core.log
    assert [x[1] for x in real.log if x[0] == "a"] == ["m1", "m1", "m2", "m3"]
    assert {x[2] for x in real.log if x[0] == "a"} == {0}


async def test_prefetch_limits_unacked_deliveries(rabbitmq_url: str) -> None:
    """basic.qos prefetch 2: two unacked deliveries at most; each ack lets exactly one more through."""

    async def script(d: Driver) -> None:
        for i in range(1, 6):
            await d.publish("q", f"m{i}")
        a = await d.subscribe("q", "a", prefetch=2)
        first, second = await d.take(a), await d.take(a)
        await d.quiet(a)
        await d.ack(first)
        third = await d.take(a)
        await d.quiet(a)
        for g in (second, third):
            await d.ack(g)
        await d.ack(await d.take(a))
        await d.ack(await d.take(a))
        await d.quiet(a)

    core, real = await run_both(script, [plan("q")], "rabbitmq", rabbitmq_url, "rabbitmq-quorum")
    assert real.log == core.log == [("a", f"m{i}", 0) for i in range(1, 6)]


async def test_per_message_ttl_expires_at_the_head(rabbitmq_url: str) -> None:
    """An expired message behind a live one is not removed until it reaches the head; then it is
    dead-lettered with reason expired and never delivered."""

    async def script(d: Driver) -> None:
        await d.publish("q", "m1", ttl_ns=20_000 * MS)
        await d.publish("q", "m2", ttl_ns=100 * MS)
        await d.publish("q", "m3")
        await d.sleep(400 * MS)
        d.record("dead before consuming", sorted(x.msg for x in d.dead))
        a = await d.subscribe("q", "a", prefetch=1)
        await d.ack(await d.take(a))
        await d.ack(await d.take(a))
        await d.quiet(a)

    plans = [plan("q", dead_letter="q.dlq"), plan("q.dlq", groups=[])]
    core, real = await run_both(script, plans, "rabbitmq", rabbitmq_url, "rabbitmq-quorum")
    assert real.log == core.log
    assert core.log[0] == ("dead before consuming", [])
    assert real.dead == core.dead == [Dead("m2", "q", "expired", "q.dlq")]


async def test_reject_without_dead_letter_target_drops(rabbitmq_url: str) -> None:
    """basic.reject(requeue=false) with no dead-letter exchange: the message is gone (evtool sees it through
    its sink queue and records a drop with reason rejected, as the core does)."""

    async def script(d: Driver) -> None:
        await d.publish("q", "bad")
        await d.publish("q", "good")
        a = await d.subscribe("q", "a", prefetch=1)
        await d.reject(await d.take(a))
        await d.ack(await d.take(a))
        await d.quiet(a)

    core, real = await run_both(script, [plan("q")], "rabbitmq", rabbitmq_url, "rabbitmq-quorum")
    assert real.log == core.log
    assert real.dead == core.dead == [Dead("bad", "q", "rejected", None)]


async def test_crash_returns_unacked_and_counts_them(rabbitmq_url: str) -> None:
    """A closed channel requeues its unacked deliveries at once; x-delivery-count counts the return."""

    async def script(d: Driver) -> None:
        for i in range(1, 4):
            await d.publish("q", f"m{i}")
        a = await d.subscribe("q", "a", prefetch=2)
        await d.take(a)
        await d.take(a)
        await d.crash(a)
        b = await d.subscribe("q", "b", prefetch=1)
        for _ in range(3):
            await d.ack(await d.take(b))
        await d.quiet(b)

    core, real = await run_both(script, [plan("q")], "rabbitmq", rabbitmq_url, "rabbitmq-quorum")
    assert real.log == core.log
