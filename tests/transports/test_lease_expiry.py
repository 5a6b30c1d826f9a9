"""A lease that runs out on the broker while the handler is still working: the redelivery shows it, and the
run traces it as the core does (``lease_expired``, then ``returned``), so a check on lease expiries gives the
core's verdict (the `idempotent-consumer` lesson's `leases-expired`).

What each broker documents:

* NATS JetStream: "If the timer expires first, the server marks the message for redelivery and delivers it
  again, incrementing its delivery count" (AckWait; https://docs.nats.io/using-nats/jetstream/model_deep_dive,
  and the legacy page: "After this interval is reached, and in the absence of an Ack, the message is
  redelivered", https://docs.nats.io/legacy/stan/intro/channels/subscriptions/redelivery).
* Redis Streams: entries are taken from a slow holder by evtool's claimer with XCLAIM after the channel's
  ack_timeout of idle time (https://redis.io/docs/latest/commands/xclaim/).
* Amazon SQS: "if the consumer fails before deleting the message ... before the visibility timeout expires,
  the message becomes visible to other consumers and the message is received again"
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html).

RabbitMQ 3.10 has no per-queue consumer timeout (the capability notes say so); it is not run here. The slow
holder takes 3 s against a 1 s lease: moto can take most of a second to answer a receive on a busy machine.
"""

from __future__ import annotations

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports.runner import run_on_transport

from .scenarios import PROFILES

pytestmark = pytest.mark.broker

SLOW_HOLDER = """
evtool: "1"
id: t-slow-holder
run: {seed: 3, duration: 1s, drain: {max: 15s}}
broker: {profile: PROFILE}
channels:
  jobs: {kind: queue, ack_timeout: 1s}
producers:
  p: {to: jobs, arrival: {process: constant, rate: 10/s}, count: 10}
consumers:
  billing:
    from: jobs
    instances: 2
    prefetch: 1
    processing: 100ms
    effects: [{inc: done, by: 1}]
    state: {done: 0}
faults:
  - {name: slow-0, at: 0s, for: 250ms, action: slow, target: "consumer:billing#0", latency_factor: 30}
expect:
  - {name: nothing-lost, check: no_loss, channel: jobs}
  - {name: leases-expired, that: "count(lease_expired{channel=jobs}) > 0"}
  - {name: each-job-done, that: "count(handled{consumer=billing}) >= 9"}
"""


def _statuses(outcome: object) -> dict[str, str]:
    return {c["name"]: c["status"] for c in outcome.checks}  # type: ignore[attr-defined]


@pytest.mark.parametrize("transport", ["nats", "redis", "sqs"])
def test_a_lease_that_runs_out_is_traced_as_the_core_traces_it(transport: str, request: pytest.FixtureRequest
                                                                ) -> None:
    url = request.getfixturevalue(f"{transport}_url")
    loaded = load_text(SLOW_HOLDER.replace("PROFILE", {**PROFILES, "sqs": "sqs-standard"}[transport]))
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, transport, url=url, listeners=[trace.extend])
    assert real.extra["problems"] == []
    assert _statuses(local) == {"nothing-lost": "pass", "leases-expired": "pass", "each-job-done": "pass"}
    assert _statuses(real) == _statuses(local), real.checks
    expired = [e for e in trace if e.kind == "lease_expired"]
    assert all(e.data == {"observed": "redelivered"} for e in expired)
    # the expired delivery went back, was handed out again, and its holder's late ack settled nothing
    for e in expired:
        after = [x for x in trace if x.msg == e.msg and x.t >= e.t]
        assert [x.kind for x in after[:2]] == ["lease_expired", "returned"]
        assert any(x.kind == "redelivered" for x in after)
    for k in ("published", "acked"):
        assert real.summary["counts"].get(k) == local.summary["counts"].get(k), k
    # how many deliveries billing#0 takes during its slow spell depends on real-time latency: at least one
    # lease runs out on both sides, and each expiry is redelivered once
    assert real.summary["counts"]["lease_expired"] >= 1 and local.summary["counts"]["lease_expired"] >= 1
    assert real.summary["counts"]["redelivered"] == real.summary["counts"]["lease_expired"]
