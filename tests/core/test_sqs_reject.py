"""SQS has no reject (profile field ``reject_action``).

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
(VisibilityTimeout): "If the message is not deleted or its visibility timeout is not extended before the
timeout expires, it becomes visible again and can be retrieved by other consumers." ... "A message that
isn't deleted or a message whose visibility isn't extended before the visibility timeout expires counts
as a failed receive. Depending on the configuration of the queue, the message might be sent to the
dead-letter queue."
https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_sqs.DeadLetterQueue.html : maxReceiveCount is
"The number of times a message can be unsuccessfully dequeued before being moved to the dead-letter
queue."

So a consumer that fails without a retry policy (evtool/sim/consumer.py calls ``broker.reject``)
leaves the message invisible until the visibility timeout, it is received again, and at
maxReceiveCount the redrive policy moves it (reason ``max_deliveries``), never after one receive
with reason ``rejected``. RabbitMQ (reject_action dead_letter): https://www.rabbitmq.com/docs/dlx
"The message is negatively acknowledged by a consumer using basic.reject or basic.nack with requeue
parameter set to false" is dead-lettered at once.
"""

from __future__ import annotations

import pytest

from evtool.core.channel_config import GroupedQueueConfig, QueueConfig
from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

from .conftest import Rig, S


@pytest.mark.parametrize("how", ["reject", "nack"])
def test_sqs_reject_waits_for_the_visibility_timeout(how: str) -> None:
    """A reject under SQS changes nothing until the lease ends; then the message returns and counts."""
    rig = Rig("sqs-standard")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(max_deliveries=3, dead_letter="dlq", ack_timeout_ns=30 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m1", "m2")
    (d1,) = b.pump(0)
    if how == "reject":
        assert b.reject(1 * S, d1.tag)
    else:
        assert b.nack(1 * S, d1.tag, requeue=False)
    assert not rig.kinds("dead_lettered") and not rig.kinds("rejected")
    # the consumer's credit is free again: it receives m2 while m1 stays invisible
    assert [d.msg.id for d in b.pump(1 * S)] == ["m2"]
    assert b.stats("q").in_flight == 2
    b.fire_timers(30 * S)
    (lease,) = rig.kinds("lease_expired")
    assert lease.msg == "m1" and lease.t == 30 * S


def test_sqs_reject_until_max_receive_count() -> None:
    """Three receives (maxReceiveCount 3), each rejected: moved to the DLQ with reason max_deliveries."""
    rig = Rig("sqs-standard")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(max_deliveries=3, dead_letter="dlq", ack_timeout_ns=30 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m1")
    now = 0
    receives = 0
    while True:
        b.fire_timers(now)
        ds = [d for d in b.pump(now) if d.channel == "q"]
        if not ds:
            break
        receives += 1
        b.reject(now, ds[0].tag)
        now += 30 * S
    assert receives == 3
    (dead,) = rig.kinds("dead_lettered")
    assert dead.data["reason"] == "max_deliveries"
    assert b.stats("dlq").ready == 1


def test_sqs_fifo_reject_keeps_the_group_blocked_until_the_timeout() -> None:
    """FIFO: the rejected message still holds its group while invisible; the next of the group waits."""
    rig = Rig("sqs-fifo")
    b = rig.broker
    b.declare("q", GroupedQueueConfig(ack_timeout_ns=30 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)   # MaxNumberOfMessages 1: a larger one takes a2 in the same receive
    rig.publish(0, "q", "a1", "a2", key="A")
    (d1,) = b.pump(0)
    b.reject(1 * S, d1.tag)
    assert b.pump(1 * S) == []
    b.fire_timers(30 * S)
    assert [d.msg.id for d in b.pump(30 * S)] == ["a1"]


def test_rabbitmq_reject_dead_letters_at_once() -> None:
    """The same reject under RabbitMQ: dead-lettered with reason rejected, after one delivery."""
    rig = Rig("rabbitmq-quorum")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(dead_letter="dlq"))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m1")
    (d1,) = b.pump(0)
    b.reject(1 * S, d1.tag)
    (dead,) = rig.kinds("dead_lettered")
    assert dead.data["reason"] == "rejected" and dead.t == 1 * S


FAILING = """
evtool: "1"
id: no-retry
broker: {profile: PROFILE}
run: {seed: 1, duration: 1s, drain: {max: 600s}}
channels:
  work: {kind: queue, max_deliveries: 3, dead_letter: dlq}
  dlq: {kind: queue, role: dead_letter}
producers:
  once: {to: work, arrival: {process: once, at: 0s}, count: 1}
consumers:
  broken:
    from: work
    processing: 1s
    fail_if: [{probability: 1.0, error: Boom}]
"""


def _run(profile: str) -> list[TraceEvent]:
    events: list[TraceEvent] = []
    Engine(load_text(FAILING.replace("PROFILE", profile), "t.yaml"), listeners=[events.extend]).run()
    return events


@pytest.mark.parametrize("profile", ["sqs-standard", "sqs-fifo"])
def test_sqs_consumer_without_retry_is_redriven_after_max_receives(profile: str) -> None:
    """The consumer fails every time and has no retry policy: three receives 30 s apart, then the DLQ."""
    ev = _run(profile)
    deliveries = [e for e in ev if e.kind in ("delivered", "redelivered") and e.channel == "work"]
    assert [e.t for e in deliveries] == [0, 30 * S, 60 * S]
    (dead,) = [e for e in ev if e.kind == "dead_lettered"]
    assert dead.data["reason"] == "max_deliveries" and dead.t == 90 * S


def test_rabbitmq_consumer_without_retry_is_dead_lettered_after_one_delivery() -> None:
    """The same scenario under RabbitMQ: one delivery, basic.reject, dead-lettered (reason rejected)."""
    ev = _run("rabbitmq-quorum")
    assert len([e for e in ev if e.kind in ("delivered", "redelivered")]) == 1
    (dead,) = [e for e in ev if e.kind == "dead_lettered"]
    assert dead.data["reason"] == "rejected" and dead.t == 1 * S
