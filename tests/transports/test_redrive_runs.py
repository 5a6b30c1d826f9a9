"""A redrive on a real broker: the dead letters waiting in a dead-letter queue go back to the channel they died
in, as the core's `redrive` does (the `dlq-redrive` lesson).

None of the three brokers has a redrive command of its own for these queues; evtool does what an operator's
script (or a shovel) does: it takes each dead letter off the dead-letter queue and publishes it to its source.
RabbitMQ: the dead letters are held unacked by evtool's observer; each is published to its source with a
publisher confirm, then acked ("a message is removed from the queue once it is acknowledged",
https://www.rabbitmq.com/docs/confirms). NATS: read by stream sequence and removed with the stream's
delete-message API (https://docs.nats.io/reference/reference-protocols/nats_api_reference). Redis: XRANGE,
XADD to the source, XDEL ("removes the specified entries from a stream", https://redis.io/docs/latest/commands/xdel/).
"""

from __future__ import annotations

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports.runner import run_on_transport

from .scenarios import text

pytestmark = pytest.mark.broker

REDRIVE = """
evtool: "1"
id: t-redrive
run: {seed: 4, duration: 1200ms, drain: {max: 15s}}
broker: {profile: PROFILE}
channels:
  orders: {kind: queue, dead_letter: orders.dlq}
  orders.dlq: {kind: queue, role: dead_letter}
producers:
  p: {to: orders, arrival: {process: constant, rate: 20/s}, count: 12}
consumers:
  billing:
    from: orders
    instances: 2
    prefetch: 5
    processing: 5ms
    fail_if:
      - {when: "now < 400000000", error: GatewayUnavailable}
    retry: {max_attempts: 1, mode: redeliver, on_exhausted: dead_letter}
    idempotency: {key: msg.id, window: 1h}
    state: {charged: []}
    effects: [{add: charged, value: msg.id}]
faults:
  - {name: redrive-after-fix, at: 900ms, action: redrive, target: channel:orders.dlq}
expect:
  - {name: nothing-lost, check: no_loss, channel: orders}
  - {name: every-order-charged, that: "len(state.billing.charged) == count(published{producer=p})"}
  - {name: dlq-empty, that: "last(queue.depth{channel=orders.dlq}) == 0"}
  - {name: some-died, that: "count(dead_lettered{channel=orders}) > 0"}
"""


def _statuses(outcome: object) -> dict[str, str]:
    return {c["name"]: c["status"] for c in outcome.checks}  # type: ignore[attr-defined]


def test_a_redrive_sends_the_dead_letters_back_as_the_core_does(broker: tuple[str, str]) -> None:
    transport, url = broker
    scenario = text(REDRIVE, transport)
    if transport == "redis":
        # under redis-streams a reject leaves the entry pending (Redis has no dead-letter move); the profile
        # setting asks for the dead-letter recipe (XADD to the dead-letter stream, XACK), in the core too
        scenario = scenario.replace("profile: redis-streams}", "profile: redis-streams, settings: {reject_action: dead_letter}}")
    loaded = load_text(scenario)
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, transport, url=url, listeners=[trace.extend])
    assert real.extra["problems"] == []
    assert set(_statuses(local).values()) == {"pass"}, local.checks
    assert _statuses(real) == _statuses(local), real.checks
    died = {e.msg for e in trace if e.kind == "dead_lettered"}
    redriven = [e for e in trace if e.kind == "redriven"]
    assert {e.msg for e in redriven} == died
    assert all(e.channel == "orders.dlq" and e.data == {"to": "orders"} for e in redriven)
    assert real.summary["counts"].get("redriven") == local.summary["counts"].get("redriven")
    # each redriven order was handled on `orders` after the redrive
    for e in redriven:
        assert any(x.kind == "handled" and x.msg == e.msg and x.t > e.t for x in trace)
