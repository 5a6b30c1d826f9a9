"""Redis Streams has no reject (profile field ``reject_action: stays_pending``).

https://redis.io/docs/latest/commands/xclaim/ : "Other consumers may inspect the list of pending
messages, that are stale for quite some time, using the XPENDING command. In order to continue
processing such messages, they use XCLAIM to acquire the ownership of the message and continue."
https://redis.io/docs/latest/commands/xack/ : "The XACK command removes one or multiple messages from the
Pending Entries List (PEL) of a stream consumer group." A consumer whose handler fails and that does not
XACK leaves the entry in the PEL: nothing redelivers it until a claimer takes it after its min-idle-time
(evtool: the channel's ack_timeout); with no claimer it stays pending for good. The atlas scenario
tests/semantics/scenarios/redis-failure-without-retry-stays-pending.yaml runs the same on Redis 7.0.
"""

from __future__ import annotations

from evtool.core.channel_config import QueueConfig

from .conftest import Rig, S


def test_redis_reject_without_a_claimer_stays_pending() -> None:
    rig = Rig("redis-streams")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(max_deliveries=2, dead_letter="dlq"))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m1", "m2")
    (d1,) = b.pump(0)
    assert b.reject(1 * S, d1.tag)
    assert not rig.kinds("dead_lettered") and not rig.kinds("rejected") and not rig.kinds("dropped")
    # the reader's credit is free: XREADGROUP > hands it m2 while m1 waits in the PEL
    assert [d.msg.id for d in b.pump(1 * S)] == ["m2"]
    assert b.stats("q").in_flight == 2
    assert b.next_timer() is None          # nothing will ever bring m1 back: no claimer


def test_redis_reject_is_claimed_after_idle_then_dead_lettered_at_the_limit() -> None:
    rig = Rig("redis-streams")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(max_deliveries=2, dead_letter="dlq", ack_timeout_ns=5 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m1")
    now, deliveries = 0, 0
    while True:
        b.fire_timers(now)
        ds = [d for d in b.pump(now) if d.channel == "q"]
        if not ds:
            break
        deliveries += 1
        b.reject(now, ds[0].tag)
        now += 5 * S
    assert deliveries == 2
    (dead,) = rig.kinds("dead_lettered")
    assert dead.msg == "m1" and dead.data["reason"] == "max_deliveries"
