"""A publish through a RabbitMQ exchange that one bound queue refuses at capacity is recorded as that queue's
refusal, as the core records it (`slow-consumer-backpressure`'s `producer-told` counts publish_rejected on the
bounded queue).

RabbitMQ: "If a message is routed to multiple queues and rejected by at least one of them, the channel will
inform the publisher via basic.nack. The message will still be published to all other queues which can enqueue
it." (https://www.rabbitmq.com/docs/maxlength). The nack does not name the queue; with one bounded queue behind
the exchange there is only one that can refuse.
"""

from __future__ import annotations

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports.runner import run_on_transport

pytestmark = pytest.mark.broker

FANOUT_BOUNDED = """
evtool: "1"
id: t-fanout-bounded
run: {seed: 5, duration: 500ms, drain: {max: 15s}}
broker: {profile: rabbitmq-classic}
channels:
  clicks: {kind: router, type: fanout, bindings: [{to: index-jobs}, {to: click-log}]}
  index-jobs: {kind: queue, capacity: 2, overflow: reject_publish}
  click-log: {kind: queue}
producers:
  web: {to: clicks, arrival: {process: constant, rate: 20/s}, count: 8}
consumers:
  indexer: {from: index-jobs, start: 800ms, instances: 1, prefetch: 1, processing: 5ms}
  logger: {from: click-log, instances: 1, prefetch: 10, processing: 1ms}
expect:
  - {name: nothing-lost, check: no_loss, channel: index-jobs}
  - {name: producer-told, that: "count(publish_rejected{channel=index-jobs}) > 0"}
  - {name: log-complete, that: "count(handled{consumer=logger}) == 8"}
"""


def test_a_refusal_behind_an_exchange_is_the_bounded_queues(rabbitmq_url: str) -> None:
    loaded = load_text(FANOUT_BOUNDED)
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, "rabbitmq", url=rabbitmq_url, listeners=[trace.extend])
    statuses = {c["name"]: c["status"] for c in real.checks}
    assert statuses == {c["name"]: c["status"] for c in local.checks} == {
        "nothing-lost": "pass", "producer-told": "pass", "log-complete": "pass"}, real.checks
    refused = [e for e in trace if e.kind == "publish_rejected"]
    assert refused and all(e.channel == "index-jobs" and e.data["reason"] == "capacity" for e in refused)
    assert len(refused) == local.summary["counts"]["publish_rejected"]
    assert real.summary["counts"]["handled"] == local.summary["counts"]["handled"]
