"""The per-message delivery state machine on queues (research §1.8.2), transition by transition."""

from __future__ import annotations

import pytest

from evtool.core.channel_config import GroupedQueueConfig, QueueConfig, RouterConfig, TopicConfig
from evtool.core.message import Message

from .conftest import Rig, S


def ids(ds: list) -> list[str]:
    return [d.msg.id for d in ds]


def test_publish_deliver_ack(rig: Rig) -> None:
    """READY -> IN_FLIGHT (lease) -> ACKED; the trace says published, delivered, acked."""
    b = rig.broker
    b.declare("q", QueueConfig())
    sub = b.subscribe(0, "q", "c", 1, prefetch=1)
    assert rig.publish(0, "q", "m1") == [True]
    (d,) = b.pump(1)
    assert (d.msg.id, d.attempt, d.sub, d.lease_deadline, d.count, d.redelivered) == ("m1", 1, sub, 1 + 30 * S, 1,
                                                                                       False)
    assert b.ack(2, d.tag) and not b.ack(3, d.tag)
    assert [e.kind for e in rig.events] == ["published", "delivered", "acked"]
    st = b.stats("q")
    assert (st.published, st.acked, st.depth, st.unaccounted) == (1, 1, 0, 0)
    assert b.idle()


def test_prefetch_limits_in_flight_and_round_robin(rig: Rig) -> None:
    """Prefetch caps unacked deliveries per subscriber; competing consumers share round-robin (§1.1)."""
    b = rig.broker
    b.declare("q", QueueConfig())
    s1 = b.subscribe(0, "q", "c", 1, prefetch=2)
    s2 = b.subscribe(0, "q", "c", 2, prefetch=1)
    rig.publish(0, "q", *[f"m{i}" for i in range(6)])
    ds = b.pump(0)
    assert [(d.sub, d.msg.id) for d in ds] == [(s1, "m0"), (s2, "m1"), (s1, "m2")]
    assert b.pump(0) == []
    b.ack(1, ds[1].tag)
    assert [(d.sub, d.msg.id) for d in b.pump(1)] == [(s2, "m3")]


@pytest.mark.parametrize(("position", "expected"), [("original", ["m1", "m2", "m3"]),
                                                    ("head", ["m2", "m1", "m3"]),
                                                    ("tail", ["m3", "m1", "m2"])])
def test_requeue_position(position: str, expected: list[str]) -> None:
    """Classic queues requeue to the original position, quorum 3.x near the head, others to the back (§1.1)."""
    rig = Rig(requeue_position=position)
    b = rig.broker
    b.declare("q", QueueConfig())
    s = b.subscribe(0, "q", "c", 1, prefetch=2)
    rig.publish(0, "q", "m1", "m2", "m3")
    d1, d2 = b.pump(0)
    b.nack(1, d1.tag)      # m1 back first, then m2
    b.nack(1, d2.tag)
    b.unsubscribe(1, s, reason="leave")
    b.subscribe(1, "q", "c", 2, prefetch=0)
    assert ids(b.pump(1)) == expected


def test_lease_expiry_returns_one_message() -> None:
    """SQS visibility timeout / NATS AckWait: the message comes back, the counter goes up (§1.3, §1.4)."""
    rig = Rig("sqs-standard")
    b = rig.broker
    b.declare("q", QueueConfig())
    b.subscribe(0, "q", "c", 1, prefetch=10)  # ReceiveMessage with MaxNumberOfMessages 10 (the default is 1)
    rig.publish(0, "q", "m1", "m2")
    d1, d2 = b.pump(0)
    b.ack(5 * S, d2.tag)
    assert b.next_timer() == 30 * S
    b.fire_timers(30 * S)
    assert [e.kind for e in rig.events[-2:]] == ["lease_expired", "returned"]
    (r,) = b.pump(30 * S)
    assert (r.msg.id, r.attempt, r.count, r.redelivered) == ("m1", 2, 2, True)
    assert rig.kinds("redelivered")[-1].data == {"count": 2}


def test_classic_ack_timeout_closes_the_channel() -> None:
    """RabbitMQ consumer_timeout closes the whole channel and requeues all its unacked messages (§1.1)."""
    rig = Rig("rabbitmq-classic")
    b = rig.broker
    b.declare("q", QueueConfig())
    sub = b.subscribe(0, "q", "c", 1)
    rig.publish(0, "q", "m1", "m2", "m3")
    ds = b.pump(0)
    b.fire_timers(30 * 60 * S)
    closed = rig.kinds("channel_closed")
    assert len(closed) == 1 and closed[0].data["sub"] == sub
    assert b.subscriber(sub) is None
    assert not b.ack(30 * 60 * S, ds[0].tag)     # the tag died with the channel
    assert b.stats("q").ready == 3
    b.subscribe(30 * 60 * S, "q", "c", 2)
    assert ids(b.pump(30 * 60 * S)) == ["m1", "m2", "m3"]


def test_max_deliveries_counting_every_delivery_moves_to_dlq() -> None:
    """SQS: moved to the DLQ after maxReceiveCount is exceeded; every receive counts (§1.3)."""
    rig = Rig("sqs-standard")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(max_deliveries=3, dead_letter="dlq"))
    b.subscribe(0, "q", "c", 1)
    rig.publish(0, "q", "m1")
    attempts = []
    for t in range(5):
        for d in b.pump(t):
            attempts.append((d.attempt, d.count))
            b.nack(t, d.tag)
    assert attempts == [(1, 1), (2, 2), (3, 3)]
    (dl,) = rig.kinds("dead_lettered")
    assert dl.data == {"reason": "max_deliveries", "target": "dlq", "count": 1}
    st = b.stats("dlq")
    assert st.ready == 1
    b.subscribe(9, "dlq", "ops", 1)
    (d,) = b.pump(9)
    (death,) = d.msg.deaths
    assert (death.channel, death.reason, death.count, death.first_time) == ("q", "max_deliveries", 1, 3)


def test_quorum_counter_counts_returns() -> None:
    """Quorum x-delivery-count counts returns, not the first delivery; dead at count > limit (§1.1)."""
    rig = Rig("rabbitmq-quorum")
    b = rig.broker
    b.declare("q", QueueConfig(max_deliveries=2))
    b.subscribe(0, "q", "c", 1)
    rig.publish(0, "q", "m1")
    seen = []
    for t in range(6):
        for d in b.pump(t):
            seen.append((d.attempt, d.count))
            b.nack(t, d.tag)
    assert seen == [(1, 0), (2, 1), (3, 2)]
    assert rig.kinds("dropped")[-1].data == {"reason": "max_deliveries"}   # no dead_letter target: dropped


def test_nats_keeps_message_at_limit_with_advisory() -> None:
    """JetStream MaxDeliver: the message stays in the stream and an advisory is published (§1.4)."""
    rig = Rig("nats-jetstream")
    b = rig.broker
    b.declare("q", QueueConfig(max_deliveries=2))
    b.subscribe(0, "q", "c", 1)
    rig.publish(0, "q", "m1")
    for t in range(4):
        for d in b.pump(t):
            b.nack(t, d.tag)
    assert len(rig.kinds("max_deliveries_reached")) == 1
    st = b.stats("q")
    assert (st.kept, st.ready, st.unaccounted) == (1, 0, 0)


def test_classic_profile_refuses_a_delivery_limit() -> None:
    """Classic queues have no delivery counter, so a limit could never fire (§1.1)."""
    rig = Rig("rabbitmq-classic")
    with pytest.raises(ValueError, match="no delivery counter"):
        rig.broker.declare("q", QueueConfig(max_deliveries=3))


def test_reject_and_nack_without_requeue_dead_letter(rig: Rig) -> None:
    """basic.reject / nack(requeue=false): dead-lettered with reason rejected, or dropped without a DLX."""
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(dead_letter="dlq"))
    b.declare("plain", QueueConfig())
    b.subscribe(0, "q", "c", 1)
    b.subscribe(0, "plain", "c", 1)
    rig.publish(0, "q", "a", "b")
    rig.publish(0, "plain", "c")
    da, db, dc = b.pump(0)
    b.reject(1, da.tag)
    b.nack(1, db.tag, requeue=False)
    b.reject(1, dc.tag)
    assert [e.data["reason"] for e in rig.kinds("dead_lettered")] == ["rejected", "rejected"]
    assert rig.kinds("dropped")[0].data == {"reason": "rejected"}
    assert b.stats("dlq").ready == 2 and b.stats("plain").dropped == 1


def test_nack_with_delay(rig: Rig) -> None:
    """nack(delay): DELAYED until the delay elapses, then READY again (NakWithDelay, §1.4)."""
    b = rig.broker
    b.declare("q", QueueConfig())
    b.subscribe(0, "q", "c", 1)
    rig.publish(0, "q", "m1")
    (d,) = b.pump(0)
    b.nack(1, d.tag, delay_ns=5 * S)
    assert b.stats("q").delayed == 1 and b.pump(2) == []
    assert b.next_timer() == 1 + 5 * S
    b.fire_timers(1 + 5 * S)
    (r,) = b.pump(1 + 5 * S)
    assert r.attempt == 2 and rig.kinds("enqueued")[-1].data == {"reason": "delay_elapsed"}


def test_delayed_publish(rig: Rig) -> None:
    """A publish with a delay stays DELAYED until due (SQS message timers, §1.3)."""
    b = rig.broker
    b.declare("q", QueueConfig())
    b.subscribe(0, "q", "c", 1)
    b.publish(0, "q", Message("m1"), delay_ns=3 * S)
    assert b.pump(0) == [] and not b.idle()
    b.fire_timers(b.next_timer())  # type: ignore[arg-type]
    assert ids(b.pump(3 * S)) == ["m1"]


def test_ttl_expires_only_at_the_head() -> None:
    """RabbitMQ: expired messages are removed only when they reach the head (zombie backlog, §1.1, §1.7.6)."""
    rig = Rig()
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(dead_letter="dlq"))
    b.publish(0, "q", Message("long", ttl_ns=100 * S))
    b.publish(0, "q", Message("short", ttl_ns=1 * S))
    assert b.next_timer() == 100 * S      # only the head's expiry matters
    b.fire_timers(50 * S)
    assert b.stats("q").ready == 2          # "short" is expired but still counted
    b.fire_timers(100 * S)
    assert [e.msg for e in rig.kinds("expired")] == ["long", "short"]
    assert b.stats("dlq").ready == 2 and b.stats("q").dead_lettered == 2


def test_expired_message_is_never_delivered() -> None:
    """Expired messages are never delivered (checked when they reach the head, §1.1)."""
    rig = Rig()
    b = rig.broker
    b.declare("q", QueueConfig(ttl_ns=S))
    rig.publish(0, "q", "old")
    rig.publish(2 * S, "q", "new")
    b.subscribe(2 * S, "q", "c", 1)
    assert ids(b.pump(2 * S)) == ["new"]
    assert b.stats("q").expired == 1


@pytest.mark.parametrize("overflow", ["reject_publish", "drop_head", "dead_letter"])
def test_capacity_overflow(overflow: str) -> None:
    """max-length overflow: reject-publish refuses, drop-head drops (or dead-letters) the oldest (§1.1)."""
    rig = Rig()
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(capacity=2, overflow=overflow, dead_letter="dlq"))
    results = rig.publish(0, "q", "m1", "m2", "m3")
    st = b.stats("q")
    if overflow == "reject_publish":
        assert results == [True, True, False] and st.rejected_publishes == 1
        assert rig.kinds("publish_rejected")[0].msg == "m3"
    elif overflow == "drop_head":
        assert results == [True] * 3 and st.dropped == 1 and rig.kinds("dropped")[0].msg == "m1"
    else:
        assert st.dead_lettered == 1 and rig.kinds("dead_lettered")[0].data["reason"] == "overflow"
    assert st.ready == 2 and st.unaccounted == 0


def test_dedup_window() -> None:
    """NATS Nats-Msg-Id: a repeat inside the 2 min window is dropped, after it accepted (§1.4, §1.7.4).

    Only a message with a dedup id (the Nats-Msg-Id header) is compared: without one the same
    message id is stored again (checked on NATS 2.9.10; see tests/sim/test_dedup.py).
    """
    rig = Rig("nats-jetstream")
    b = rig.broker
    b.declare("q", QueueConfig())
    rig.publish(0, "q", "m1", dedup_id="m1")
    rig.publish(90 * S, "q", "m1", dedup_id="m1")
    rig.publish(180 * S, "q", "m1", dedup_id="m1")
    rig.publish(181 * S, "q", "m1")
    assert len(rig.kinds("duplicate_dropped")) == 1
    st = b.stats("q")
    assert (st.published, st.duplicates, st.ready) == (3, 1, 3)


@pytest.mark.parametrize(("profile", "returned_at_crash"), [("rabbitmq-classic", True), ("sqs-standard", False)])
def test_crash_return(profile: str, returned_at_crash: bool) -> None:
    """AMQP returns unacked messages when the connection closes; SQS waits for the visibility timeout."""
    rig = Rig(profile)
    b = rig.broker
    b.declare("q", QueueConfig())
    s = b.subscribe(0, "q", "c", 1, prefetch=5)
    rig.publish(0, "q", "m1", "m2")
    b.pump(0)
    b.unsubscribe(1, s, reason="crash")
    assert (b.stats("q").ready == 2) is returned_at_crash
    if not returned_at_crash:
        b.fire_timers(30 * S)
        assert b.stats("q").ready == 2
    reason = "crash" if returned_at_crash else "lease_expired"
    assert [e.data["reason"] for e in rig.kinds("returned")] == [reason, reason]


def test_redis_pending_until_claimed() -> None:
    """Redis Streams: nothing comes back by itself; XAUTOCLAIM takes idle entries and bumps the count (§1.5)."""
    rig = Rig("redis-streams")
    b = rig.broker
    b.declare("q", QueueConfig())
    s1 = b.subscribe(0, "q", "c", 1)
    s2 = b.subscribe(0, "q", "c", 2)
    rig.publish(0, "q", "m1")
    (d,) = b.pump(0)
    assert d.sub == s1
    b.unsubscribe(1, s1, reason="crash")
    assert b.next_timer() is None and not b.idle()
    assert b.claim(5 * S, s2, min_idle_ns=10 * S) == []
    (c,) = b.claim(10 * S, s2, min_idle_ns=10 * S)
    assert (c.msg.id, c.sub, c.attempt, c.count) == ("m1", s2, 2, 2)
    assert rig.kinds("claimed")[0].data == {"from": "c", "from_instance": 1}
    assert b.ack(11 * S, c.tag) and b.idle()


def test_extend_lease() -> None:
    """ChangeMessageVisibility / +WPI restarts the lease clock from the call (§1.3, §1.4)."""
    rig = Rig("sqs-standard")
    b = rig.broker
    b.declare("q", QueueConfig())
    b.subscribe(0, "q", "c", 1)
    rig.publish(0, "q", "m1")
    (d,) = b.pump(0)
    assert b.extend_lease(20 * S, d.tag, 30 * S)
    b.fire_timers(30 * S)
    assert rig.kinds("lease_expired") == []
    assert b.next_timer() == 50 * S
    b.fire_timers(50 * S)
    assert len(rig.kinds("lease_expired")) == 1


def test_grouped_queue_one_in_flight_per_group() -> None:
    """group_receive one: one message per group at a time, in order; a failing message blocks only its group.

    (sqs-fifo receives several of a group at once: tests/core/test_fifo_batch_receive.py.)"""
    rig = Rig("sqs-fifo", group_receive="one")
    b = rig.broker
    b.declare("q", GroupedQueueConfig())
    b.subscribe(0, "q", "c", 1, prefetch=10)
    for i in range(3):
        b.publish(0, "q", Message(f"a{i}", key="A"))
        b.publish(0, "q", Message(f"b{i}", key="B"))
    first = b.pump(0)
    assert ids(first) == ["a0", "b0"]
    a0, b0 = first
    b.ack(1, b0.tag)
    assert ids(b.pump(1)) == ["b1"]
    b.nack(2, a0.tag)                       # A's head fails: it comes back first in its group
    assert ids(b.pump(2)) == ["a0"]


def test_grouped_queue_group_key_header() -> None:
    """The group may come from a header (MessageGroupId)."""
    rig = Rig("sqs-fifo", group_receive="one")
    b = rig.broker
    b.declare("q", GroupedQueueConfig(group_key="MessageGroupId"))
    b.subscribe(0, "q", "c", 1, prefetch=10)
    b.publish(0, "q", Message("x", key="k1", headers={"MessageGroupId": "g"}))
    b.publish(0, "q", Message("y", key="k2", headers={"MessageGroupId": "g"}))
    assert ids(b.pump(0)) == ["x"]


def test_topic_groups_and_late_join(rig: Rig) -> None:
    """Each subscription gets its own copy, from the time it joined; an anonymous one dies with it."""
    b = rig.broker
    b.declare("t", TopicConfig())
    assert rig.publish(0, "t", "before") == [True]
    assert rig.kinds("unroutable")[0].data == {"reason": "no_subscriptions"}
    b.subscribe(1, "t", "billing", 1, group="billing")
    anon = b.subscribe(1, "t", "audit", 1)
    rig.publish(2, "t", "m1")
    ds = b.pump(2)
    assert sorted(ids(ds)) == ["m1", "m1"]
    assert set(b.subscription_stats("t")) == {"billing", f"~{anon}"}
    b.unsubscribe(3, anon, reason="leave")
    assert set(b.subscription_stats("t")) == {"billing"}


def test_router_direct_fanout_topic(rig: Rig) -> None:
    """Exchanges: direct by equality, fanout to all, topic by pattern; unroutable is reported (§1.1)."""
    b = rig.broker
    for q in ("q1", "q2", "q3"):
        b.declare(q, QueueConfig())
    b.declare("x", RouterConfig(type="topic"))
    b.bind("x", "q1", "order.*")
    b.bind("x", "q2", "order.#")
    b.declare("f", RouterConfig(type="fanout"))
    b.bind("f", "q3")
    b.publish(0, "x", Message("m1", key="order.created"))
    b.publish(0, "x", Message("m2", key="order"))
    b.publish(0, "x", Message("m3", key="invoice"))
    b.publish(0, "f", Message("m4", key="anything"))
    assert (b.stats("q1").ready, b.stats("q2").ready, b.stats("q3").ready) == (1, 2, 1)
    assert [e.msg for e in rig.kinds("unroutable")] == ["m3"]
    assert [(e.msg, e.channel) for e in rig.kinds("routed")] == [("m1", "q1"), ("m1", "q2"), ("m2", "q2"),
                                                                ("m4", "q3")]


def test_router_alternate(rig: Rig) -> None:
    """An alternate exchange receives what no binding matched (§1.1)."""
    b = rig.broker
    b.declare("lost", QueueConfig())
    b.declare("x", RouterConfig(type="direct", alternate="lost"))
    b.publish(0, "x", Message("m1", key="nope"))
    assert b.stats("lost").ready == 1


def test_restart_keeps_durable_only() -> None:
    """Durable queues keep messages (in-flight ones return to ready); non-durable lose them."""
    rig = Rig()
    b = rig.broker
    b.declare("keep", QueueConfig(durable=True))
    b.declare("lose", QueueConfig(durable=False))
    s = b.subscribe(0, "keep", "c", 1)
    rig.publish(0, "keep", "k1", "k2")
    rig.publish(0, "lose", "l1")
    b.pump(0)
    b.restart(1)
    (ev,) = rig.kinds("broker_restarted")
    assert ev.data == {"lost": 1, "closed_subscriptions": 1}
    assert b.subscriber(s) is None
    assert b.stats("keep").ready == 2 and b.stats("lose").dropped == 1
    b.subscribe(2, "keep", "c", 1)
    assert ids(b.pump(2)) == ["k1", "k2"]


def test_redrive_back_to_source(rig: Rig) -> None:
    """DLQ redrive moves dead letters back to the channel they died in (SQS StartMessageMoveTask, §1.3)."""
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(dead_letter="dlq"))
    b.subscribe(0, "q", "c", 1)
    rig.publish(0, "q", "m1", "m2")
    for d in b.pump(0):
        b.reject(0, d.tag)
    assert b.redrive(1, "dlq", "m2") == 1
    assert b.redrive(1, "dlq") == 1
    assert b.stats("dlq").redriven == 2 and b.stats("dlq").unaccounted == 0
    assert ids(b.pump(1)) == ["m2", "m1"]


def test_unavailable_broker(rig: Rig) -> None:
    """While the broker is down, publishes are refused and nothing is delivered."""
    b = rig.broker
    b.declare("q", QueueConfig())
    b.subscribe(0, "q", "c", 1)
    b.set_available(0, False)
    assert rig.publish(0, "q", "m1") == [False]
    b.set_available(1, True)
    rig.publish(1, "q", "m2")
    assert ids(b.pump(1)) == ["m2"]


def test_single_active_consumer(rig: Rig) -> None:
    """Single active consumer: only one receives; the next takes over when it leaves (§1.1)."""
    b = rig.broker
    b.declare("q", QueueConfig())
    s1 = b.subscribe(0, "q", "c", 1, dispatch="single_active", prefetch=10)
    s2 = b.subscribe(0, "q", "c", 2, dispatch="single_active", prefetch=10)
    rig.publish(0, "q", "m1", "m2")
    assert {d.sub for d in b.pump(0)} == {s1}
    b.unsubscribe(1, s1, reason="crash")
    assert {d.sub for d in b.pump(1)} == {s2}


def test_idle_ignores_queues_without_consumers(rig: Rig) -> None:
    """A dead-letter queue nobody reads does not keep the drain phase busy."""
    b = rig.broker
    b.declare("dlq", QueueConfig())
    rig.publish(0, "dlq", "m1")
    assert b.idle()
    b.subscribe(0, "dlq", "c", 1)
    assert not b.idle()


def test_a_subscription_whose_members_are_gone_keeps_its_messages_waiting(rig: Rig) -> None:
    """A named subscription outlives its members and keeps receiving (late_join above); what it holds waits for
    a member, so the broker is not idle and a drain does not end `complete` with it (found by tests/property:
    topics whose consumers crashed or were scaled to 0). An anonymous subscription is deleted with its member."""
    b = rig.broker
    b.declare("t", TopicConfig())
    s = b.subscribe(0, "t", "billing", 1, group="billing")
    anon = b.subscribe(0, "t", "audit", 1)
    b.unsubscribe(1, s, reason="crash")
    b.unsubscribe(1, anon, reason="leave")
    rig.publish(2, "t", "m1")
    assert b.subscription_stats("t")["billing"].ready == 1
    assert not b.idle()
    again = b.subscribe(3, "t", "billing", 2, group="billing")
    (d,) = b.pump(3)
    assert d.sub == again and b.ack(3, d.tag)
    assert b.idle()


def test_unknown_names_raise(rig: Rig) -> None:
    """Unknown channels, dispatch modes and reasons raise with the valid choices."""
    b = rig.broker
    b.declare("q", QueueConfig())
    with pytest.raises(KeyError, match="declared: q"):
        b.publish(0, "nope", Message("m"))
    with pytest.raises(ValueError, match="single_active"):
        b.subscribe(0, "q", "c", 1, dispatch="sometimes")
    s = b.subscribe(0, "q", "c", 1)
    with pytest.raises(ValueError, match="leave, crash, channel_closed"):
        b.unsubscribe(0, s, reason="bored")
