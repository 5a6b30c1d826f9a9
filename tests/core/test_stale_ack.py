"""Late and stale acks: an ack with the tag of a delivery that a redelivery has superseded.

Profile field ``stale_ack`` (evtool/core/profiles.py) says what the broker does:

* NATS JetStream -- settles. https://docs.nats.io/nats-concepts/jetstream/consumers (AckWait):
  "The server may consider an ack arriving out of the window. If a first process fails to ack within
  the window it's entirely possible, for instance in queue situation, that the message has been
  redelivered to another consumer. Since this will technically restart the window, the ack from the
  first consumer will be considered." (quoted in nats-server issues 4786 and 6937).
  Checked on the installed NATS 2.9 (nats-py script, WorkQueue stream, AckWait 1 s, MaxDeliver 2):
  fetch (NumDelivered 1), sleep 1.3 s, fetch again (NumDelivered 2), ack the FIRST message ->
  num_ack_pending 0, stream holds 0 messages, no third delivery after another AckWait. An ack sent
  after AckWait expired but before any redelivery also settled it: no redelivery, stream empty.
* Redis Streams -- settles. https://redis.io/docs/latest/commands/xack/ : "The XACK command removes
  one or multiple messages from the Pending Entries List (PEL) of a stream consumer group." XACK
  names the group and the id, not the consumer. Checked on the installed Redis 7.0.15: alice
  XREADGROUPs an entry, bob XCLAIMs it (times_delivered 2), XACK by id -> 1 and the PEL is empty;
  bob's own XACK then -> 0; XAUTOCLAIM finds nothing.
* SQS -- ignored. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html :
  "When you want to delete a message using the DeleteMessage action, you must use the ReceiptHandle
  from the most recent time you received the message. If you use an old ReceiptHandle, the request
  will succeed, but the message might not be deleted." (no SQS here to check against; evtool models
  "not deleted").
* RabbitMQ -- refused. https://www.rabbitmq.com/docs/confirms : "Because delivery tags are scoped per
  channel, deliveries must be acknowledged on the same channel they were received on. Acknowledging
  on a different channel will result in an "unknown delivery tag" protocol exception and close the
  channel." Kafka -- refused (a commit from a member that lost its partition fails).
"""

from __future__ import annotations

from evtool.core.channel_config import QueueConfig
from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

from .conftest import Rig, S


def _redelivered_pair(rig: Rig) -> tuple[int, int]:
    """m1 delivered (tag a), its 10 s lease expires, redelivered (tag b); returns (a, b)."""
    b = rig.broker
    b.declare("q", QueueConfig(ack_timeout_ns=10 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    b.subscribe(0, "q", "c", 1, prefetch=1)
    rig.publish(0, "q", "m1")
    (d1,) = b.pump(0)
    b.fire_timers(10 * S)
    (d2,) = b.pump(10 * S)
    assert d2.msg.id == "m1" and d2.attempt == 2
    return d1.tag, d2.tag


def test_nats_late_ack_settles_the_redelivered_message() -> None:
    """NATS: the first delivery's ack settles the message; the second holder's ack finds nothing."""
    rig = Rig("nats-jetstream", max_deliveries=2)
    first, second = _redelivered_pair(rig)
    assert rig.broker.ack(15 * S, first)
    acked = rig.kinds("acked")
    assert len(acked) == 1 and acked[0].attempt == 1 and acked[0].data["stale_tag"] is True
    st = rig.broker.stats("q")
    assert (st.acked, st.in_flight, st.depth, st.unaccounted) == (1, 0, 0, 0)
    assert not rig.broker.ack(16 * S, second)          # already settled
    rig.broker.fire_timers(100 * S)
    assert rig.broker.pump(100 * S) == []               # no third delivery
    assert not rig.kinds("max_deliveries_reached")      # and no advisory
    assert rig.broker.idle()


def test_nats_late_ack_settles_a_message_waiting_for_redelivery() -> None:
    """NATS: an ack after AckWait, before the redelivery happened, settles the message (checked on 2.9)."""
    rig = Rig("nats-jetstream")
    b = rig.broker
    b.declare("q", QueueConfig(ack_timeout_ns=10 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m1", "m2")
    (d1,) = b.pump(0)
    b.fire_timers(10 * S)       # m1 returns to the tail, behind m2
    assert b.ack(11 * S, d1.tag)
    assert [d.msg.id for d in b.pump(11 * S)] == ["m2"]
    assert b.stats("q").ready == 0 and b.stats("q").unaccounted == 0


def test_redis_xack_after_claim_settles() -> None:
    """Redis: XACK by id settles an entry another consumer claimed; the claimer's XACK then counts 0."""
    rig = Rig("redis-streams")
    b = rig.broker
    b.declare("q", QueueConfig())
    alice = b.subscribe(0, "q", "alice", 0, prefetch=1)
    bob = b.subscribe(0, "q", "bob", 0, prefetch=1)
    rig.publish(0, "q", "m1")
    (d1,) = b.pump(0)
    assert d1.sub == alice
    (d2,) = b.claim(5 * S, bob, min_idle_ns=1 * S)
    assert d2.count == 2
    assert b.ack(6 * S, d1.tag)
    assert not b.ack(7 * S, d2.tag)
    st = b.stats("q")
    assert (st.acked, st.in_flight, st.unaccounted) == (1, 0, 0)
    assert b.claim(100 * S, alice, min_idle_ns=0) == []


def test_sqs_old_receipt_handle_succeeds_but_does_not_delete() -> None:
    """SQS: DeleteMessage with an old receipt handle succeeds; the message is not deleted."""
    rig = Rig("sqs-standard")
    first, second = _redelivered_pair(rig)
    assert rig.broker.ack(15 * S, first)                # the request succeeds ...
    assert not rig.kinds("acked")                       # ... but nothing is deleted
    assert rig.broker.stats("q").in_flight == 1
    assert rig.broker.ack(16 * S, second)               # the latest handle deletes it
    assert rig.broker.stats("q").acked == 1


def test_rabbitmq_and_kafka_refuse_a_stale_tag() -> None:
    """RabbitMQ (unknown delivery tag) and Kafka share groups: the stale ack fails, nothing changes."""
    for profile in ("rabbitmq-quorum", "kafka", "default"):
        rig = Rig(profile, ack_timeout_action="return_message")
        first, second = _redelivered_pair(rig)
        assert not rig.broker.ack(15 * S, first), profile
        assert not rig.kinds("acked") and rig.broker.stats("q").in_flight == 1
        assert rig.broker.ack(16 * S, second)


SLOW = """
evtool: "1"
id: slow-handler
broker: {profile: PROFILE}
run: {seed: 1, duration: 1s, drain: {max: 300s}}
channels:
  work: {kind: queue, max_deliveries: 2, dead_letter: dlq}
  dlq: {kind: queue, role: dead_letter}
producers:
  once: {to: work, arrival: {process: once, at: 0s}, count: 1}
consumers:
  slow:
    from: work
    instances: 2
    processing: 40s
"""


def _run(profile: str) -> list[TraceEvent]:
    events: list[TraceEvent] = []
    Engine(load_text(SLOW.replace("PROFILE", profile), "t.yaml"), listeners=[events.extend]).run()
    return events


def test_slow_successful_handler_settles_under_nats_and_redis() -> None:
    """A 40 s handler under AckWait 30 s: NATS accepts the first handler's ack at 40 s, so the message
    is settled once, with no max-deliveries advisory and no dead letter."""
    ev = _run("nats-jetstream")
    kinds = [e.kind for e in ev if e.msg is not None and e.channel == "work"]
    assert kinds.count("acked") == 1
    assert "max_deliveries_reached" not in kinds and "dead_lettered" not in kinds
    acked = next(e for e in ev if e.kind == "acked")
    assert acked.t == 40 * S and acked.attempt == 1


def test_slow_successful_handler_under_sqs_is_not_settled_by_the_old_handle() -> None:
    """The same run under SQS: the first handler's DeleteMessage at 40 s uses an old receipt handle and
    deletes nothing; the second receive's visibility timeout ends at 60 s, before its handler is done,
    so with maxReceiveCount 2 the redrive policy moves the message to the DLQ. The run depends on
    stale_ack: settles (NATS) acks it, ignored (SQS) dead-letters it."""
    ev = _run("sqs-standard")
    assert not [e for e in ev if e.kind == "acked"]
    (dead,) = [e for e in ev if e.kind == "dead_lettered"]
    assert dead.t == 60 * S and dead.data["reason"] == "max_deliveries"


def test_slow_handler_under_redis_is_settled_by_the_first_xack() -> None:
    """Redis (no lease): a claimer and a busy survivor no longer livelock; the survivor's XACK settles."""
    rig = Rig("redis-streams")
    b = rig.broker
    b.declare("q", QueueConfig())
    busy = b.subscribe(0, "q", "busy", 0, prefetch=1)
    claimer = b.subscribe(0, "q", "claimer", 0, prefetch=1)
    rig.publish(0, "q", "m1")
    (d1,) = b.pump(0)
    assert d1.sub == busy
    (d2,) = b.claim(30 * S, claimer, min_idle_ns=10 * S)   # busy still works on it
    assert b.ack(40 * S, d1.tag)                           # busy finishes: XACK settles m1
    assert b.claim(80 * S, busy, min_idle_ns=10 * S) == []  # nothing left to claim back
    assert [e.kind for e in rig.events].count("acked") == 1
