"""The transactional outbox against the two dual writes: lost events, ghost events, at-least-once relay."""

from __future__ import annotations

from typing import Any

from evtool.core.message import Message
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

from .helpers import kinds, run

ORDERS = """
evtool: "1"
id: outbox-test
run: {seed: 9, duration: 2s, drain: {max: 10s}}
channels:
  orders: {kind: queue}
  order-events: {kind: queue}
  audit: {kind: queue}
producers:
  api:
    to: orders
    message: PlaceOrder
    arrival: {process: constant, rate: 50/s}
    payload: {orderId: "o-{{ n }}"}
consumers:
  orders-svc:
    from: orders
    processing: 2ms
    state: {orders: []}
    effects: [{add: orders, value: msg.payload.orderId}]
    emit: [{to: order-events, message: OrderPlaced, payload: {orderId: "{{ msg.payload.orderId }}"}}]
  shipping:
    from: order-events
    processing: 1ms
    state: {seen: []}
    effects: [{add: seen, value: msg.payload.orderId}]
    idempotency: {key: msg.id, window: 1h}
patterns:
  order-outbox:
    type: outbox
    service: orders-svc
    relay: {poll_interval: 100ms, batch: 20, to: order-events}
"""


def states(engine) -> tuple[set[str], set[str]]:
    """(orders committed by the service, orders the downstream heard of)."""
    return set(engine.consumers["orders-svc"].state["orders"]), set(engine.consumers["shipping"].state["seen"])


def test_outbox_relays_every_committed_event() -> None:
    """Every order is written to the outbox, relayed by the poller, and reaches shipping."""
    engine, events, outcome = run(ORDERS)
    committed, seen = states(engine)
    assert len(committed) == 99 and seen == committed
    written = kinds(events, "outbox_written", "order-outbox")
    relayed = kinds(events, "outbox_relayed", "order-outbox")
    assert len(written) == len(relayed) == 99
    assert {e.msg for e in written} == {e.msg for e in relayed}
    # The relay publishes on its poll ticks, never in the handler.
    assert {e.t % 100_000_000 for e in relayed} == {0}
    assert not kinds(events, "emitted", "orders-svc")
    assert engine.patterns[0].idle() and outcome.drain == "complete"


def test_relay_is_at_least_once_and_the_downstream_deduplicates() -> None:
    """Failed mark-as-sent: entries are sent again with the same id; the idempotent consumer skips them."""
    engine, events, _ = run(ORDERS, {"patterns.order-outbox.commit_failure": 0.5})
    relayed = kinds(events, "outbox_relayed", "order-outbox")
    again = [e for e in relayed if e.attempt > 1]
    assert again and engine.patterns[0].state["resent"] == len(again)
    dups = [e for e in kinds(events, "handled", "shipping") if e.data.get("duplicate")]
    assert len(dups) == len(again)
    committed, seen = states(engine)
    assert seen == committed


def test_relay_waits_while_the_service_is_down() -> None:
    """The relay lives in the service: nothing is relayed while it is crashed, and nothing is lost."""
    text = ORDERS + """faults:
  - {at: 505ms, action: crash, target: consumer:orders-svc, restart_after: 1s}
"""
    engine, events, _ = run(text)
    relayed = kinds(events, "outbox_relayed", "order-outbox")
    assert not [e for e in relayed if 505_000_000 < e.t < 1_505_000_000]
    committed, seen = states(engine)
    assert seen == committed


def test_commit_then_publish_loses_events() -> None:
    """Dual write, commit first: a failed publish leaves an order nobody downstream hears of."""
    engine, events, _ = run(ORDERS, {"patterns.order-outbox.mode": "dual_write_commit_first",
                                     "patterns.order-outbox.publish_failure": 0.2})
    lost = kinds(events, "dual_write_lost", "order-outbox")
    assert lost
    committed, seen = states(engine)
    assert len(committed - seen) == len(lost) and not seen - committed
    assert not kinds(events, "outbox_written", "order-outbox")


def test_publish_then_commit_makes_ghost_events() -> None:
    """Dual write, publish first: a failed commit rolls the order back after its event went out."""
    engine, events, _ = run(ORDERS, {"patterns.order-outbox.mode": "dual_write_publish_first",
                                     "patterns.order-outbox.commit_failure": 0.2})
    ghosts = kinds(events, "dual_write_ghost", "order-outbox")
    assert ghosts
    committed, seen = states(engine)
    assert len(seen - committed) == len(ghosts) and not committed - seen
    assert engine.patterns[0].state["rolled_back"] == len(ghosts)


def test_publish_first_works_for_a_batch_consumer() -> None:
    """The pattern's transaction wrapper passes the consumer's batch flag through to its handler."""
    text = ORDERS.replace("    processing: 2ms\n    state: {orders: []}",
                          "    processing: 2ms\n    batch: {size: 5, max_wait: 50ms}\n    state: {orders: []}")
    engine, events, outcome = run(text, {"patterns.order-outbox.mode": "dual_write_publish_first",
                                         "patterns.order-outbox.commit_failure": 0.2})
    assert kinds(events, "batch_handled", "orders-svc")
    ghosts = kinds(events, "dual_write_ghost", "order-outbox")
    assert ghosts and outcome.drain == "complete"
    committed, seen = states(engine)
    assert len(seen - committed) == len(ghosts)


def test_only_flagged_emits_go_through_the_outbox() -> None:
    """When some emit says via_outbox, the others are published directly as before."""
    text = ORDERS.replace(
        'emit: [{to: order-events, message: OrderPlaced, payload: {orderId: "{{ msg.payload.orderId }}"}}]',
        'emit: [{to: order-events, message: OrderPlaced, via_outbox: true, payload: {orderId: "{{ msg.payload.orderId }}"}},'
        '\n           {to: audit, message: Audited}]')
    _, events, _ = run(text)
    direct = kinds(events, "emitted", "orders-svc")
    assert direct and {e.channel for e in direct} == {"audit"}
    assert len(kinds(events, "outbox_written", "order-outbox")) == len(direct)


def test_every_event_carries_causation_and_correlation() -> None:
    """Relayed events point at the command that caused them and keep its conversation id."""
    engine = Engine(load_text(ORDERS, "outbox.yaml"))
    sent: list[Message] = []
    publish = engine.ctx.publish  # what the actors publish through

    def spy(channel: str, msg: Message, **kw: Any) -> bool:
        sent.append(msg)
        return publish(channel, msg, **kw)

    engine.ctx.publish = spy
    engine.run()
    relayed = [msg for msg in sent if msg.channel == "order-events"]
    assert len(relayed) == 99
    first = relayed[0]
    assert (first.causation_id, first.correlation_id) == ("api-1", "api-1")
    assert first.payload == {"orderId": "o-1"}
