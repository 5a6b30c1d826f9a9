"""The queue depth a run samples on RabbitMQ is the broker's own ready count, not the client's guess.

A publish is on the broker as a ready message only once the broker confirms it: "Messages are acknowledged when
all queues to which the message has been routed have either delivered the message and received an
acknowledgement (if required), or enqueued the message (and persisted it if required)" (the AMQP 0-9-1 confirm
class, https://www.rabbitmq.com/amqp-0-9-1-reference.html#class.confirm, as rendered at
https://ocaml.org/p/amqp-client-async/latest/doc/Amqp_client_async/Spec/Confirm/index.html); and a publish a
queue refuses is never enqueued: "If overflow is set to reject-publish or reject-publish-dlx, the most recently
published messages will be discarded. In addition, if publisher confirms are enabled, the publisher will be
informed of the reject via a basic.nack message" (https://www.rabbitmq.com/docs/maxlength). The limit counts
ready messages: "In all cases, the number of messages in the ready state are used" (same page), which is what
``queue.declare``'s ``message-count`` reports.

Before, the runtime counted a publish ready as soon as it was issued, so a publish to a full queue showed one
message over the bound until its nack came back: `slow-consumer-backpressure`'s ``queue-bounded`` on RabbitMQ
saw 62 of 61 at a sample where the broker held 60 (tests/transports/test_lessons_on_brokers.py's shortened run).

Measured here (RabbitMQ 3.10.8): 20 publishes issued together into a quorum queue of max-length 5 are all
confirmed (20 ready), and every later one is refused. A quorum queue does not refuse a publish itself: once over
its limit it tells its publishers to ("generate send_msg effect for each enqueuer to let them know they need to
block", `rabbit_fifo:evaluate_limit`, rabbitmq-server deps/rabbit/src/rabbit_fifo.erl), so the publishes already
on their way are enqueued; a publisher that waits for each confirm sees exactly one over.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.profiles import get_profile
from evtool.scenario.loader import load_text
from evtool.transports.amqp import RabbitMQTransport
from evtool.transports.base import new_prefix
from evtool.transports.runner import _LateSink
from evtool.transports.runtime import TransportBroker
from evtool.transports.topology import build_topology

pytestmark = pytest.mark.broker

BOUNDED = """
evtool: "1"
id: t-sampled-depth
run: {seed: 1, duration: 1s}
broker: {profile: rabbitmq-quorum}
channels:
  jobs: {kind: queue, capacity: 5, overflow: reject_publish}
producers:
  web: {to: jobs, arrival: {process: constant, rate: 10/s}}
"""


async def _publish_into_a_bounded_queue(url: str, first: int, then: int) -> dict[str, Any]:
    """`first` publishes issued together, then (once answered) `then` more, into the quorum queue of 5."""
    loaded = load_text(BOUNDED)
    adapter = RabbitMQTransport(url)
    topo = build_topology(loaded.model, new_prefix())
    await adapter.connect()
    try:
        await adapter.declare(topo, _LateSink())
        trace: list[TraceEvent] = []
        broker = TransportBroker(SimpleNamespace(now=0), trace.append, lambda _d: None, adapter, topo,
                                 get_profile("rabbitmq-quorum"))
        adapter.sink = broker
        got: dict[str, Any] = {}
        for phase, n in (("first", first), ("then", then)):
            for i in range(n):
                broker.publish(0, "jobs", Message(f"{phase}{i}", "jobs", producer="web"))
            got[f"{phase}_issued"] = broker.stats("jobs").ready     # every publish issued, none answered yet
            for _ in range(1000):
                if not broker.unanswered:
                    break
                await asyncio.sleep(0.005)
            got[f"{phase}_unanswered"] = broker.unanswered
            got[f"{phase}_ready"] = broker.stats("jobs").ready
            got[f"{phase}_held"] = (await adapter.admin.queue_declare(adapter.physical("jobs"),
                                                                      passive=True)).message_count
            got[f"{phase}_refused"] = sum(1 for e in trace if e.kind == "publish_rejected")
        return got
    finally:
        await adapter.cleanup()
        await adapter.close()


def test_a_publish_counts_as_ready_once_the_broker_confirms_it(rabbitmq_url: str) -> None:
    """Issued and not answered: not counted. Answered: the count is the broker's, stored or refused."""
    got = asyncio.run(_publish_into_a_bounded_queue(rabbitmq_url, 20, 5))
    assert got["first_unanswered"] == got["then_unanswered"] == 0, got
    assert got["first_issued"] == 0, got                        # in flight, not on the broker yet
    assert got["then_issued"] == got["first_ready"], got        # the 5 later ones are not counted yet either
    for phase in ("first", "then"):
        assert got[f"{phase}_ready"] == got[f"{phase}_held"], got   # the broker's ready count
    assert got["first_held"] >= 6, got          # at least one over its max-length before it refuses
    assert got["then_refused"] - got["first_refused"] == 5, got     # over the limit: every later one refused
    assert got["then_held"] == got["first_held"], got
