"""A channel closed by the broker's consumer timeout is reopened, as a client's channel recovery does.

RabbitMQ, https://www.rabbitmq.com/docs/consumers (Delivery Acknowledgement Timeout): "If a consumer does
not ack its delivery for more than the timeout value (30 minutes by default), its channel will be closed
with a PRECONDITION_FAILED channel exception." The RabbitMQ team on what follows
(https://github.com/rabbitmq/rabbitmq-website/discussions/1362): "It will be requeued since the timeout
simply causes the channel to be closed." Before the fix the instance never consumed again and the drain
reported complete while every other message still waited in the queue.
"""

from __future__ import annotations

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

SLOW = """
evtool: "1"
id: channel-recovery
run: {seed: 3, duration: 2s, drain: {max: 1m}}
broker: {profile: rabbitmq-quorum}
channels:
  jobs: {kind: queue, ack_timeout: 1s, max_deliveries: 1, dead_letter: jobs.dlq}
  jobs.dlq: {kind: queue, role: dead_letter}
producers:
  p:
    to: jobs
    arrival: {process: constant, rate: 10/s}
    count: 10
  slow:
    to: jobs
    message: Slow
    arrival: {process: once, at: 0s}
    count: 1
consumers:
  w:
    from: jobs
    prefetch: 1
    processing: 10ms
    handles:
      Slow: {processing: 1500ms}
expect:
  - {name: others-handled, that: "count(acked{consumer=w, channel=jobs, producer!=slow}) == 10"}
  - {name: slow-dead, that: "count(dead_lettered{channel=jobs, reason=max_deliveries}) == 1"}
  - {name: nothing-lost, check: no_loss, channel: jobs}
"""


def test_a_closed_channel_is_reopened_and_the_queue_drains() -> None:
    events: list = []
    outcome = Engine(load_text(SLOW), listeners=[events.extend]).run()
    closes = [e.t for e in events if e.kind == "channel_closed"]
    # 1 s and 2 s: the slow message's two deliveries time out; a message the new channel delivered while the
    # instance was still busy with the slow handler may time out too (consumer_timeout counts from delivery)
    assert closes[:2] == [1_000_000_000, 2_000_000_000]
    # the instance consumed again on a new channel: every other message handled, the drain complete
    assert outcome.drain == "complete"
    assert {c["name"]: c["status"] for c in outcome.checks} == {
        "others-handled": "pass", "slow-dead": "pass", "nothing-lost": "pass"}
    # the slow handler's acks named tags of closed channels: refused, never `acked`
    slow = {e.msg for e in events if e.kind == "published" and e.actor == "slow"}
    assert len(slow) == 1 and not [e for e in events if e.kind == "acked" and e.msg in slow]
