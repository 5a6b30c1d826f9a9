"""The scenario's `patterns:` on each real broker (a few seconds each): the engine builds them on RabbitMQ, NATS
and Redis as on the core, their private queues and groups are declared with the topology, and what they record
is checked on the trace (a request answered and one timed out, an outbox relayed, a saga compensated, an
aggregate and its projection kept up to date).

Request-reply follows RabbitMQ's RPC tutorial (https://www.rabbitmq.com/tutorials/tutorial-six-python):
"reply_to: Commonly used to name a callback queue" and "correlation_id: Useful to correlate RPC responses with
requests"; the requester waits on its own reply queue, and a reply whose correlation id it no longer waits for
is discarded. evtool carries reply_to and correlation_id in its wire format on every broker (`base.encode_message`),
so the same pattern code runs over a RabbitMQ queue, a JetStream WorkQueue stream or a Redis stream group.
"""

from __future__ import annotations

from collections import Counter

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports.runner import run_on_transport

from .scenarios import PROFILES

pytestmark = pytest.mark.broker

REQUEST_REPLY = """
evtool: "1"
id: t-request-reply
run: {seed: 3, duration: 3s, drain: {max: 10s}}
broker: {profile: PROFILE}
channels:
  quotes.requests: {kind: queue}
patterns:
  quote:
    type: request_reply
    channel: quotes.requests
    reply_to: per_requester_inbox
    requester:
      name: web
      instances: 2
      arrival: {process: constant, rate: 20/s}
      count: 50
      payload: {sku: s1}
      timeout: 300ms
      retry: {max_attempts: 2, backoff: {type: constant, delay: 50ms}, on_exhausted: fallback}
    responder:
      name: pricer
      processing: 20ms
      concurrency: 4
      idempotency: {key: msg.payload.request_id, window: 1m, cache_reply: true}
faults:
  - {name: slow, at: 1s, for: 700ms, action: slow, target: consumer:pricer, latency_factor: 30}
expect:
  - {name: outcomes, check: request_outcomes, pattern: quote}
  - {name: correlated, check: correlation, pattern: quote}
  - {name: answered, that: "count(reply_received{pattern=quote}) > 20"}
  - {name: timed-out, that: "count(request_timed_out{pattern=quote}) > 0"}
  - {name: late, that: "count(reply_orphaned{pattern=quote}) > 0"}
"""

OUTBOX = """
evtool: "1"
id: t-outbox
run: {seed: 4, duration: 2s, drain: {max: 10s}}
broker: {profile: PROFILE}
channels:
  orders: {kind: queue}
  order-events: {kind: queue}
producers:
  api: {to: orders, arrival: {process: constant, rate: 20/s}, count: 30, payload: {orderId: "o-{{ n }}"}}
consumers:
  sales:
    from: orders
    processing: 2ms
    state: {orders: []}
    effects: [{add: orders, value: msg.payload.orderId}]
    emit: [{to: order-events, message: OrderPlaced, payload: {orderId: "{{ msg.payload.orderId }}"}}]
  shipping:
    from: order-events
    business_key: msg.payload.orderId
    processing: 2ms
    state: {shipped: []}
    effects: [{add: shipped, value: msg.payload.orderId}]
    idempotency: {key: msg.id, window: 1h}
patterns:
  box:
    type: outbox
    service: sales
    mode: outbox
    relay: {poll_interval: 100ms, batch: 5, to: order-events}
    commit_failure: 0.5
expect:
  - {name: announced, that: "len(state.shipping.shipped) == len(state.sales.orders)"}
  - {name: relayed, that: "count(outbox_relayed{pattern=box}) > count(outbox_written{pattern=box})"}
  - {name: empty, that: "sum(state.box.pending) == 0"}
  - {name: once, check: effectively_once, consumer: shipping, by: msg.payload.orderId}
"""

SAGA = """
evtool: "1"
id: t-saga
run: {seed: 5, duration: 2s, drain: {max: 10s}}
broker: {profile: PROFILE}
channels:
  orders: {kind: topic}
  stock.commands: {kind: queue}
  payment.commands: {kind: queue}
producers:
  checkout:
    to: orders
    message: OrderPlaced
    arrival: {process: constant, rate: 10/s}
    count: 16
    payload: {orderId: "o-{{ n }}", amount: "{{ n * 10 }}"}
consumers:
  stock:
    from: stock.commands
    reply: auto
    processing: 5ms
    state: {reserved: 0, released: 0}
    handles:
      Reserve: {effects: [{inc: reserved}]}
      Release: {effects: [{inc: released}]}
  payment:
    from: payment.commands
    reply: auto
    processing: 5ms
    retry: {max_attempts: 1, on_exhausted: drop}   # a declined card is settled (acked), not rejected
    handles:
      Charge:
        fail_if: [{when: "msg.payload.amount > 100", error: CardDeclined, retryable: false}]
patterns:
  order:
    type: saga
    style: orchestration
    trigger: {from: orders, message: OrderPlaced}
    correlation: msg.payload.orderId
    steps:
      - name: reserve
        send: {to: stock.commands, command: Reserve}
        timeout: 2s
        compensate: {to: stock.commands, command: Release}
      - name: charge
        send: {to: payment.commands, command: Charge}
        timeout: 2s
expect:
  - {name: terminate, check: saga_terminates, pattern: order, within: 5s}
  - {name: compensation, check: saga_compensation, pattern: order}
  - {name: completed, that: "count(saga_completed{pattern=order}) == 10"}
  - {name: compensated, that: "count(saga_compensated{pattern=order}) == 6"}
  - {name: released, that: "sum(state.stock.released) == 6"}
"""

CHOREOGRAPHY = """
evtool: "1"
id: t-choreography
run: {seed: 5, duration: 1s, drain: {max: 10s}}
broker: {profile: PROFILE}
channels:
  events: {kind: topic}
producers:
  checkout:
    to: events
    message: OrderPlaced
    arrival: {process: constant, rate: 10/s}
    count: 6
    payload: {orderId: "o-{{ n }}", amount: "{{ n * 30 }}"}
consumers:
  inventory:
    from: events
    handles:
      OrderPlaced:
        processing: 5ms
        emit: [{to: events, message: StockReserved, payload: {orderId: "{{ msg.payload.orderId }}",
                                                               amount: "{{ msg.payload.amount }}"}}]
      PaymentFailed:
        processing: 5ms
        emit: [{to: events, message: StockReleased, payload: {orderId: "{{ msg.payload.orderId }}"}}]
  payment:
    from: events
    handles:
      StockReserved:
        processing: 10ms
        emit:
          - {to: events, message: PaymentCharged, payload: {orderId: "{{ msg.payload.orderId }}"},
             when: "msg.payload.amount <= 100"}
          - {to: events, message: PaymentFailed, payload: {orderId: "{{ msg.payload.orderId }}"},
             when: "msg.payload.amount > 100"}
patterns:
  order:
    type: saga
    style: choreography
    trigger: {from: events, message: OrderPlaced}
    correlation: msg.payload.orderId
    observe: [events]
    steps:
      - name: reserve
        send: {to: events, command: OrderPlaced}
        timeout: 1s
        completed_by: StockReserved
        compensated_by: StockReleased
      - name: charge
        send: {to: events, command: StockReserved}
        timeout: 1s
        completed_by: PaymentCharged
        failed_by: [PaymentFailed]
expect:
  - {name: ends, check: saga_terminates, pattern: order}
  - {name: comp, check: saga_compensation, pattern: order}
  - {name: completed, that: "count(saga_completed{pattern=order}) == 3"}
  - {name: compensated, that: "count(saga_compensated{pattern=order}) == 3"}
"""

AGGREGATE = """
evtool: "1"
id: t-aggregate
run: {seed: 6, duration: 2s, drain: {max: 10s}}
broker: {profile: PROFILE}
channels:
  account-commands: {kind: queue}
producers:
  deposits:
    to: account-commands
    message: Deposit
    arrival: {process: constant, rate: 20/s}
    count: 30
    key: {dist: uniform, space: 3, format: "acct-{n}"}
    payload: {amount: 10}
patterns:
  account:
    type: event_sourced_aggregate
    commands: {from: account-commands}
    decide: {Deposit: Deposited}
    events: [Deposited]
    state: {balance: 0}
    apply: {Deposited: [{inc: balance, by: msg.payload.amount}]}
    snapshot: {every: 4}
    processing: 2ms
  balances:
    type: projection
    source: account
    apply_time: 2ms
    rebuild_at: 1s
expect:
  - {name: decided, that: "count(event_appended{pattern=account}) == count(published{channel=account-commands})"}
  - {name: snapshots, that: "count(snapshot_taken{pattern=account}) > 0"}
  - {name: caught-up, check: projection_consistent, pattern: balances}
  - {name: rebuilt, that: "count(projection_rebuilt{pattern=balances}) == 1"}
"""


def _run(template: str, transport: str, url: str) -> tuple[dict[str, str], dict[str, str], list[TraceEvent], object]:
    loaded = load_text(template.replace("PROFILE", PROFILES[transport]))
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, transport, url=url, listeners=[trace.extend])
    assert real.extra["problems"] == [], real.extra["problems"]
    assert not any("patterns" in w for w in real.extra["warnings"]), real.extra["warnings"]
    assert real.extra["not_applicable"] == {}
    assert real.drain == "complete"
    statuses = {c["name"]: c["status"] for c in real.checks}
    return {c["name"]: c["status"] for c in local.checks}, statuses, trace, real


def test_request_reply_answers_times_out_and_discards_late_replies(broker: tuple[str, str]) -> None:
    """The requester's requests reach the responder through the broker and the replies come back to each
    instance's private inbox (declared with the topology); while the responder is 30x slower, requests time
    out, are retried, and the late replies are counted and dropped (see the module docstring)."""
    transport, url = broker
    core, real, trace, _ = _run(REQUEST_REPLY, transport, url)
    assert real == core == dict.fromkeys(core, "pass"), (real, core)
    kinds = Counter(e.kind for e in trace if e.actor == "quote")
    assert kinds["request_sent"] >= 50 and kinds["reply_received"] > 20 and kinds["request_timed_out"] > 0
    inboxes = {e.channel for e in trace if e.kind == "reply_received"}
    assert inboxes == {"quote.web#0.inbox", "quote.web#1.inbox"}
    late = [e for e in trace if e.kind == "reply_orphaned"]
    assert late and all(e.data and e.data["reason"] == "late" for e in late)


def test_outbox_relays_every_row_at_least_once(broker: tuple[str, str]) -> None:
    """The relay publishes each row the service wrote to the broker; a failed mark-as-sent (commit_failure
    0.5) sends rows again with the same message id, which shipping deduplicates."""
    transport, url = broker
    core, real, trace, outcome = _run(OUTBOX, transport, url)
    assert real == core == dict.fromkeys(core, "pass"), (real, core)
    relayed = [e for e in trace if e.kind == "outbox_relayed"]
    assert len({e.msg for e in relayed}) == 30 and any(e.attempt > 1 for e in relayed)
    assert sorted(outcome.summary["consumers"]["shipping"]["state"]["shipped"]) == sorted(
        f"o-{n}" for n in range(1, 31))


def test_orchestrated_saga_completes_and_compensates(broker: tuple[str, str]) -> None:
    """The saga reads its triggers from a topic under its own group and the participants' replies from its
    private reply queue (``order.replies``, declared with the topology); a declined card compensates the
    reservation."""
    transport, url = broker
    core, real, trace, _ = _run(SAGA, transport, url)
    assert real == core == dict.fromkeys(core, "pass"), (real, core)
    compensated = [e for e in trace if e.kind == "saga_compensated"]
    assert len(compensated) == 6 and all(e.data and e.data["order_ok"] for e in compensated)
    assert {e.channel for e in trace if e.kind == "delivered" and e.actor == "order"} == {"orders", "order.replies"}


def test_choreographed_saga_observes_the_services_events(broker: tuple[str, str]) -> None:
    """A choreography's observer reads the services' event topic under its own group (declared with the
    topology, beside the services' groups): orders over 100 are declined and inventory's StockReleased
    compensates them."""
    transport, url = broker
    core, real, trace, _ = _run(CHOREOGRAPHY, transport, url)
    assert real == core == dict.fromkeys(core, "pass"), (real, core)
    observed = {e.msg for e in trace if e.kind == "delivered" and e.actor == "order"}
    assert len(observed) == 6 * 3 + 3   # OrderPlaced, StockReserved, PaymentCharged/Failed, StockReleased x3


def test_event_sourced_aggregate_and_projection(broker: tuple[str, str]) -> None:
    """The aggregate takes its commands from the broker and appends one event each; the projection follows
    the store, is rebuilt at 1 s and catches up."""
    transport, url = broker
    core, real, trace, _ = _run(AGGREGATE, transport, url)
    assert real == core == dict.fromkeys(core, "pass"), (real, core)
    assert sum(e.kind == "event_appended" for e in trace) == 30
    assert sum(e.kind == "projection_rebuilt" for e in trace) == 1


def test_request_reply_inboxes_come_back_after_a_broker_restart(broker: tuple[str, str]) -> None:
    """A `broker_restart` fault closes the requester's inboxes with every other subscription (as the core's
    restart does, test_realtime_parts.py) and the pattern reopens them when the broker is back: replies reach
    both inboxes after the restart, and the verdicts are the core's."""
    transport, url = broker
    text = REQUEST_REPLY.replace(
        "  - {name: slow, at: 1s, for: 700ms, action: slow, target: consumer:pricer, latency_factor: 30}",
        "  - {name: restart, at: 1s, action: broker_restart, target: broker, downtime: 300ms}")
    loaded = load_text(text.replace("PROFILE", PROFILES[transport]))
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, transport, url=url, listeners=[trace.extend])
    assert real.extra["problems"] == [] and real.drain == "complete"
    assert {c["name"]: c["status"] for c in real.checks} == {c["name"]: c["status"] for c in local.checks}
    after = {e.channel for e in trace if e.kind == "reply_received" and e.t > 1_400_000_000}
    assert after == {"quote.web#0.inbox", "quote.web#1.inbox"}
