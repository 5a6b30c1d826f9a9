"""Channel capacity under each profile (profile fields ``capacity_counts`` and ``overflow_head``).

RabbitMQ, https://www.rabbitmq.com/docs/maxlength : "In all cases, the number of messages in the
ready state are used. Messages unacknowledged by consumers do not count towards the limit." ...
"The default behaviour for RabbitMQ when a maximum queue length or size is set and the maximum is
reached is to drop or dead-letter messages from the front of the queue (i.e. the oldest messages in
the queue)." ... "If overflow is set to reject-publish or reject-publish-dlx, the most recently
published messages will be discarded. In addition, if publisher confirms are enabled, the publisher
will be informed of the reject via a basic.nack message."
Checked on the installed RabbitMQ 3.10.8 (aio-pika): x-max-length 2 with a dead-letter exchange, three
publishes -> the DLQ holds the first message with x-death reason ``maxlen``; x-overflow
reject-publish with x-max-length 1 -> the second publish is nacked (aio-pika DeliveryError).

NATS JetStream, https://docs.nats.io/nats-concepts/jetstream/streams : MaxMsgs is "How many messages
may be in a Stream" (every stored message: a WorkQueue stream deletes a message only when it is
acked); DiscardPolicy Old "will delete the oldest messages in order to maintain the limit", New
"will reject new messages from being appended to the stream if it would exceed one of the limits".
There is no dead-letter exchange: DiscardOld deletes silently.
Checked on the installed NATS 2.9 (nats-py): WorkQueue stream, MaxMsgs 2, DiscardOld; two messages
fetched and left unacked, then a third publish -> the stream holds 2 messages and its first sequence is
2: the oldest, unacked message was deleted.
"""

from __future__ import annotations

import pytest

from evtool.core.channel_config import QueueConfig
from evtool.core.events import TraceEvent
from evtool.core.profiles import get_profile
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

from .conftest import Rig, S


def test_rabbitmq_drop_head_dead_letters_with_a_target() -> None:
    """RabbitMQ: at max-length the head is dead-lettered (x-death maxlen -> evtool reason overflow)."""
    rig = Rig("rabbitmq-classic")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(capacity=2, overflow="drop_head", dead_letter="dlq"))
    rig.publish(0, "q", "m0", "m1", "m2")
    (dead,) = rig.kinds("dead_lettered")
    assert (dead.msg, dead.data["reason"]) == ("m0", "overflow")
    assert not rig.kinds("dropped") and b.stats("dlq").ready == 1


def test_default_profile_drop_head_drops() -> None:
    """The default profile keeps the channel's own choice: drop_head drops, even with a target."""
    rig = Rig("default")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(capacity=2, overflow="drop_head", dead_letter="dlq"))
    rig.publish(0, "q", "m0", "m1", "m2")
    (dropped,) = rig.kinds("dropped")
    assert (dropped.msg, dropped.data["reason"]) == ("m0", "overflow")
    assert not rig.kinds("dead_lettered")


def test_rabbitmq_reject_publish_nacks_the_publish() -> None:
    rig = Rig("rabbitmq-classic")
    b = rig.broker
    b.declare("q", QueueConfig(capacity=1, overflow="reject_publish"))
    assert rig.publish(0, "q", "m0", "m1") == [True, False]
    (rej,) = rig.kinds("publish_rejected")
    assert rej.msg == "m1" and rej.data["reason"] == "capacity"


def test_rabbitmq_310_quorum_reject_publish_accepts_one_over() -> None:
    """Measured on RabbitMQ 3.10.8 (quorum queue, x-max-length 2, reject-publish): three publishes confirmed,
    the fourth nacked (profile field reject_publish_over = 1; the atlas scenario
    quorum-reject-publish-one-over runs it on the broker). Classic queues refuse at the limit."""
    rig = Rig("rabbitmq-quorum")
    b = rig.broker
    b.declare("q", QueueConfig(capacity=2, overflow="reject_publish"))
    assert rig.publish(0, "q", "m0", "m1", "m2", "m3") == [True, True, True, False]
    (rej,) = rig.kinds("publish_rejected")
    assert rej.msg == "m3"


def test_rabbitmq_counts_ready_messages_only() -> None:
    """Two unacked and two ready in a max-length 2 queue: nothing is dropped."""
    rig = Rig("rabbitmq-classic")
    b = rig.broker
    b.declare("q", QueueConfig(capacity=2, overflow="drop_head"))
    b.subscribe(0, "q", "c", 0, prefetch=2)
    rig.publish(0, "q", "m0", "m1", "m2", "m3")
    assert b.stats("q").in_flight == 2 and b.stats("q").ready == 2
    assert not rig.kinds("dropped")


def test_jetstream_max_msgs_counts_unacked_and_discards_the_oldest_silently() -> None:
    """NATS: MaxMsgs 2 with two unacked messages; a third publish deletes the oldest (unacked) one,
    without a dead letter even though the channel names a dead_letter target; its ack then fails."""
    rig = Rig("nats-jetstream")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(capacity=2, overflow="drop_head", dead_letter="dlq"))
    b.subscribe(0, "q", "c", 0, prefetch=2)
    rig.publish(0, "q", "m0", "m1")
    d0, d1 = b.pump(0)
    rig.publish(1 * S, "q", "m2")
    (dropped,) = rig.kinds("dropped")
    assert (dropped.msg, dropped.data["reason"]) == ("m0", "overflow")
    assert not rig.kinds("dead_lettered")
    assert not b.ack(2 * S, d0.tag) and b.ack(2 * S, d1.tag)
    st = b.stats("q")
    # m0's credit came back when it was deleted: m2 went out to the consumer as it arrived
    assert (st.dropped, st.acked, st.in_flight, st.ready, st.unaccounted) == (1, 1, 1, 0, 0)


def test_jetstream_discard_new_counts_unacked() -> None:
    rig = Rig("nats-jetstream")
    b = rig.broker
    b.declare("q", QueueConfig(capacity=2, overflow="reject_publish"))
    b.subscribe(0, "q", "c", 0, prefetch=2)
    rig.publish(0, "q", "m0", "m1")
    b.pump(0)
    assert rig.publish(1 * S, "q", "m2") == [False]


def test_jetstream_refuses_overflow_dead_letter() -> None:
    """NATS has no dead-letter exchange: `overflow: dead_letter` is refused (a located scenario error)."""
    text = """
evtool: "1"
id: discard
broker: {profile: nats-jetstream}
run: {seed: 1, duration: 1s}
channels:
  q: {kind: queue, capacity: 2, overflow: dead_letter, dead_letter: dlq}
  dlq: {kind: queue, role: dead_letter}
producers:
  p: {to: q, arrival: {process: once}, count: 1}
consumers:
  c: {from: q}
"""
    with pytest.raises(ScenarioError) as err:
        Engine(load_text(text, "discard.yaml"))
    (problem,) = err.value.errors
    assert problem.path == "channels.q" and "DiscardOld" in problem.message and problem.line > 0


def test_burst_is_delivered_as_it_arrives() -> None:
    """Five messages published at one instant to a max-length 2 queue whose consumer has credit for 3:
    a broker delivers each as it arrives, so three go out at once, two wait, none is dropped."""
    rig = Rig("rabbitmq-classic")
    b = rig.broker
    b.declare("q", QueueConfig(capacity=2, overflow="drop_head"))
    b.subscribe(0, "q", "c", 0, prefetch=3)
    rig.publish(0, "q", *[f"m{i}" for i in range(5)])
    assert not rig.kinds("dropped")
    assert [d.msg.id for d in b.pump(0)] == ["m0", "m1", "m2"]
    assert [e.kind for e in rig.events[:2]] == ["published", "delivered"]


BURST = """
evtool: "1"
id: burst
broker: {profile: rabbitmq-classic}
run: {seed: 1, duration: 1s, drain: {max: 30s}}
channels:
  jobs: {kind: queue, capacity: 2, overflow: drop_head}
producers:
  p: {to: jobs, arrival: {process: burst, size: 5, every: 10s}, count: 5}
consumers:
  w: {from: jobs, concurrency: 3, prefetch: 3, processing: 100ms}
"""


def test_engine_burst_into_an_idle_consumer_loses_nothing() -> None:
    events: list[TraceEvent] = []
    Engine(load_text(BURST, "burst.yaml"), listeners=[events.extend]).run()
    assert not [e for e in events if e.kind == "dropped"]
    assert len([e for e in events if e.kind == "acked"]) == 5


def test_rabbitmq_310_quorum_refuses_until_ready_falls_to_80_percent() -> None:
    """A 3.10 quorum queue that went over its limit refuses publishes until its ready count is at or below
    80% of the limit (profile field reject_publish_resume_pct = 80). https://www.rabbitmq.com/docs/maxlength
    says "In all cases, the number of messages in the ready state are used" and nothing about when a
    refusing queue accepts again. Measured on the installed RabbitMQ 3.10.8 (aiormq, quorum queue,
    x-max-length 10, reject-publish): 11 confirmed; taking one message at a time, a publish is nacked with
    10 ready, confirmed with 8; with x-max-length 100, nacked from 100 down to 81 ready and confirmed at
    80. The quorum queue's state machine (rabbit_fifo, evaluate_limit) unblocks publishers only below its
    ?LOW_LIMIT of 0.8. The atlas scenario quorum-reject-publish-resumes-at-80-percent runs it on the broker.
    Classic queues judge each publish alone."""
    rig = Rig("rabbitmq-quorum")
    b = rig.broker
    b.declare("q", QueueConfig(capacity=10, overflow="reject_publish"))
    ids = [f"m{i}" for i in range(12)]
    assert rig.publish(0, "q", *ids) == [True] * 11 + [False]
    b.subscribe(0, "q", "c", 0, prefetch=1)
    (d,) = b.pump(S)
    assert b.stats("q").ready == 10
    assert rig.publish(S, "q", "x10") == [False]           # under the limit + 1, still refused
    seen = []
    for t in range(2, 4):
        assert b.ack(t * S, d.tag)
        (d,) = b.pump(t * S)
        seen.append((b.stats("q").ready, rig.publish(t * S, "q", f"x{t}")[0]))
    assert seen == [(9, False), (8, True)]                  # accepted again at 80% of 10
    assert rig.publish(5 * S, "q", "y0", "y1", "y2") == [True, True, False]  # 9 -> 11 ready, refused

    classic = Rig("rabbitmq-classic")
    classic.broker.declare("q", QueueConfig(capacity=10, overflow="reject_publish"))
    assert classic.publish(0, "q", *ids) == [True] * 10 + [False, False]
    classic.broker.subscribe(0, "q", "c", 0, prefetch=1)
    classic.broker.pump(S)
    assert classic.publish(S, "q", "x") == [True]           # classic: a publish that fits is accepted


def test_redis_cannot_refuse_a_publish_it_trims_the_oldest() -> None:
    """Redis, https://redis.io/docs/latest/commands/xtrim/ (XADD trims the same way): for MAXLEN the threshold
    is "the maximum number of entries that may remain in the stream after trimming. Redis enforces this by
    removing the oldest entries - that is, the entries with the lowest stream IDs - so that only the newest
    entries are kept"; https://redis.io/docs/latest/commands/xadd/ "Appends the specified stream entry to
    the stream" and has no option to refuse it. So under `redis-streams` a channel's `overflow:
    reject_publish` (the default) cannot refuse: the publish is stored and the oldest entry is trimmed,
    telling no one (profile field reject_publish = head_trimmed). Checked on the installed Redis 7.0.15:
    tests/core/test_truth_live.py::test_redis_xadd_maxlen_never_refuses_and_trims_the_oldest."""
    assert get_profile("redis-streams").reject_publish == "head_trimmed"
    rig = Rig("redis-streams")
    b = rig.broker
    b.declare("q", QueueConfig(capacity=2, overflow="reject_publish"))
    assert rig.publish(0, "q", "m0", "m1", "m2") == [True, True, True]
    assert not rig.kinds("publish_rejected")
    (dropped,) = rig.kinds("dropped")
    assert (dropped.msg, dropped.data["reason"]) == ("m0", "overflow")
    assert b.stats("q").ready == 2


def test_the_profiles_that_refuse_at_capacity_still_refuse() -> None:
    """Every other profile with a length limit keeps refusing (RabbitMQ reject-publish, JetStream DiscardNew)."""
    for name in ("default", "rabbitmq-classic", "nats-jetstream"):
        rig = Rig(name)
        rig.broker.declare("q", QueueConfig(capacity=2, overflow="reject_publish"))
        assert rig.publish(0, "q", "m0", "m1", "m2") == [True, True, False], name
        assert not rig.kinds("dropped"), name


def test_redis_loses_an_entry_only_when_more_than_the_capacity_are_unread() -> None:
    """MAXLEN keeps the newest entries (acked and pending ones counted too), and a group reads its stream in
    order, so the unread entries are the newest: one is trimmed unread only when more than the capacity are
    unread. A pending entry that is trimmed stays in the group's PEL and its XACK still settles it (checked on
    Redis 7.0.15: tests/core/test_truth_live.py). So the profile counts ready messages (capacity_counts)."""
    assert get_profile("redis-streams").capacity_counts == "ready"
    rig = Rig("redis-streams")
    b = rig.broker
    b.declare("q", QueueConfig(capacity=2))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m0")
    (d0,) = b.pump(0)
    rig.publish(1 * S, "q", "m1", "m2")
    assert not rig.kinds("dropped") and b.stats("q").ready == 2
    rig.publish(2 * S, "q", "m3")
    (dropped,) = rig.kinds("dropped")
    assert (dropped.msg, dropped.data["reason"]) == ("m1", "overflow")
    assert b.ack(3 * S, d0.tag)
