"""Sagas: the state machine (compensation order, uncertain steps, pivot) and both styles through the engine."""

from __future__ import annotations

from typing import Any

from evtool.core.message import Message
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.sim.patterns.saga import compensation_verdict

from .helpers import check, kinds, run

# Three steps over three services: payment declines o-3's card; shipping cannot ship o-4.
ORCHESTRATED = """
evtool: "1"
id: saga-test
run: {seed: 5, duration: 10s, drain: {max: 2m}}
channels:
  orders: {kind: topic}
  inventory.commands: {kind: queue}
  payment.commands: {kind: queue}
  shipping.commands: {kind: queue}
  saga.replies: {kind: queue}
producers:
  checkout:
    to: orders
    message: OrderPlaced
    arrival: {process: constant, rate: 1/s}
    count: 4
    payload:
      orderId: "o-{{ n }}"
      sku: ok
      qty: 2
      amount: "{{ n * 40 }}"
consumers:
  inventory:
    from: inventory.commands
    reply: auto
    state: {stock: 100}
    handles:
      ReserveStock: {processing: 5ms, effects: [{dec: stock, by: msg.payload.qty}]}
      ReleaseStock: {processing: 5ms, effects: [{inc: stock, by: msg.payload.qty}]}
    idempotency: {key: "msg.type + ':' + msg.payload.orderId", window: 1h}
  payment:
    from: payment.commands
    reply: auto
    processing: 10ms
    state: {charged: [], refunded: []}
    handles:
      ChargeCard:
        processing: 10ms
        fail_if: [{when: "msg.payload.orderId == 'o-3'", error: CardDeclined, retryable: false}]
        effects: [{add: charged, value: msg.payload.orderId}]
      RefundCard:
        processing: 10ms
        effects: [{remove: charged, value: msg.payload.orderId}, {add: refunded, value: msg.payload.orderId}]
    idempotency: {key: "msg.type + ':' + msg.payload.orderId", window: 1h}
  shipping:
    from: shipping.commands
    reply: auto
    state: {shipped: 0}
    handles:
      CreateShipment:
        processing: 5ms
        fail_if: [{when: "msg.payload.orderId == 'o-4'", error: Unshippable, retryable: false}]
        effects: [{inc: shipped}]
patterns:
  order-saga:
    type: saga
    trigger: {from: orders, message: OrderPlaced}
    correlation: msg.payload.orderId
    reply_channel: saga.replies
    steps:
      - name: reserve_inventory
        send: {to: inventory.commands, command: ReserveStock}
        timeout: 1s
        compensate: {to: inventory.commands, command: ReleaseStock}
      - name: charge_payment
        send: {to: payment.commands, command: ChargeCard}
        timeout: 1s
        retry: {max_attempts: 2, backoff: {type: constant, delay: 100ms}, on_exhausted: compensate}
        compensate: {to: payment.commands, command: RefundCard}
      - name: create_shipment
        send: {to: shipping.commands, command: CreateShipment}
        timeout: 1s
    compensation:
      include: [completed, uncertain]
      retry: {max_attempts: 5, backoff: {type: constant, delay: 200ms}, on_exhausted: dead_letter}
expect:
  - {name: ends, check: saga_terminates, pattern: order-saga, within: 30s}
  - {name: comp, check: saga_compensation, pattern: order-saga}
"""


def by_saga(events, kind):
    return {e.msg: e for e in kinds(events, kind, "order-saga")}


def test_verdict_accepts_reverse_order_of_completed_steps() -> None:
    """Reverse order, only completed or uncertain steps, once each: order_ok."""
    outcomes = {0: "completed", 1: "uncertain", 2: "failed"}
    assert compensation_verdict([1, 0], outcomes) == (True, False)
    assert compensation_verdict([], outcomes) == (True, False)


def test_verdict_rejects_wrong_order_failed_steps_and_repeats() -> None:
    """Forward order, compensating a failed step, or compensating twice: not ok."""
    outcomes = {0: "completed", 1: "completed", 2: "failed"}
    assert compensation_verdict([0, 1], outcomes) == (False, False)
    assert compensation_verdict([2, 1, 0], outcomes) == (False, False)
    assert compensation_verdict([1, 1, 0], outcomes) == (False, True)


def test_orchestrated_saga_completes_and_compensates_in_reverse_order() -> None:
    """o-1 completes; o-3 (declined) releases its stock only; o-4 (unshippable) refunds then releases."""
    engine, events, outcome = run(ORCHESTRATED)
    completed = by_saga(events, "saga_completed")
    compensated = by_saga(events, "saga_compensated")
    assert set(completed) == {"o-1", "o-2"}
    assert compensated["o-3"].data["failed_step"] == "charge_payment"
    assert compensated["o-3"].data["compensated"] == "reserve_inventory"
    assert compensated["o-4"].data["failed_step"] == "create_shipment"
    assert compensated["o-4"].data["compensated"] == "charge_payment,reserve_inventory"
    assert all(e.data["order_ok"] and not e.data["repeated"] for e in compensated.values())
    failed = by_saga(events, "saga_step_failed")
    assert failed["o-3"].data == {"step": "charge_payment", "error": "CardDeclined", "reason": "error", "attempt": 1}
    # The services' state agrees: stock back for compensated orders, only completed orders charged.
    assert engine.consumers["inventory"].state["stock"] == 100 - 2 * 2
    assert sorted(engine.consumers["payment"].state["charged"]) == ["o-1", "o-2"]
    assert engine.patterns[0].state["completed"] == 2
    assert engine.patterns[0].state["compensated"] == 2
    assert check(outcome, "ends")["status"] == "pass"
    assert check(outcome, "comp")["status"] == "pass"


def test_commands_carry_reply_to_and_saga_correlation() -> None:
    """Commands go out with reply_to = the reply channel, correlation = saga id + step, causation set."""
    engine = Engine(load_text(ORCHESTRATED, "saga.yaml"))
    sent: list[Message] = []
    publish = engine.ctx.publish  # what the actors publish through

    def spy(channel: str, msg: Message, **kw: Any) -> bool:
        sent.append(msg)
        return publish(channel, msg, **kw)

    engine.ctx.publish = spy
    engine.run()
    commands = [msg for msg in sent if msg.producer == "order-saga"]
    first = commands[0]
    assert (first.type, first.reply_to, first.correlation_id) == ("ReserveStock", "saga.replies",
                                                                   "o-1:reserve_inventory")
    assert first.causation_id == "checkout-1"
    charge = next(msg for msg in commands if msg.type == "ChargeCard" and msg.key == "o-1")
    assert charge.causation_id.startswith("inventory-reply"), "the next step is caused by the previous reply"
    assert all(msg.causation_id and msg.correlation_id for msg in sent if msg.producer != "checkout")


def test_timeout_makes_the_step_uncertain_and_it_is_compensated() -> None:
    """Payment far slower than the timeout: charge is uncertain, so RefundCard is sent too."""
    # Enough payment instances that the refunds do not queue behind the slow charges.
    _, events, outcome = run(ORCHESTRATED, {"consumers.payment.handles.ChargeCard.processing": "3s",
                                            "consumers.payment.instances": 8})
    failed = [e for e in kinds(events, "saga_step_failed", "order-saga") if e.msg == "o-1"]
    assert failed[0].data["reason"] == "timeout" and failed[0].data["attempt"] == 2
    comp = by_saga(events, "saga_compensated")["o-1"]
    assert comp.data["compensated"] == "charge_payment,reserve_inventory"
    assert comp.data["reason"] == "timeout"
    assert check(outcome, "comp")["status"] == "pass"
    assert kinds(events, "reply_orphaned", "order-saga"), "the slow charge's replies arrive late"


def test_include_completed_only_leaves_uncertain_steps_alone() -> None:
    """With include: [completed] a timed-out charge is not refunded."""
    _, events, _ = run(ORCHESTRATED, {"consumers.payment.handles.ChargeCard.processing": "3s",
                                      "consumers.payment.instances": 8,
                                      "patterns.order-saga.compensation.include": ["completed"]})
    comp = by_saga(events, "saga_compensated")["o-1"]
    assert comp.data["compensated"] == "reserve_inventory"


def test_failure_after_the_pivot_leaves_the_saga_stuck() -> None:
    """Past a completed pivot there is no way back: a later failure is stuck, not compensated."""
    pivoted = ORCHESTRATED.replace("      - name: charge_payment\n", "      - name: charge_payment\n        pivot: true\n")
    assert pivoted != ORCHESTRATED
    _, events, outcome = run(pivoted)
    stuck = by_saga(events, "saga_stuck")
    assert set(stuck) == {"o-4"}
    assert stuck["o-4"].data["reason"] == "past_pivot"
    assert check(outcome, "ends")["status"] == "pass"


def test_compensation_that_never_succeeds_is_stuck() -> None:
    """A compensation that keeps timing out exhausts its retries: saga_stuck, not compensated."""
    _, events, _ = run(ORCHESTRATED, {"consumers.payment.handles.RefundCard.processing": "30s"})
    stuck = by_saga(events, "saga_stuck")
    assert stuck["o-4"].data == {"step": "charge_payment", "reason": "compensation_failed", "error": "Timeout"}
    assert "o-4" not in by_saga(events, "saga_compensated")


def test_deadline_compensates_a_saga_that_takes_too_long() -> None:
    """A whole-saga deadline shorter than a slow step: compensate with reason deadline."""
    _, events, _ = run(ORCHESTRATED, {"consumers.payment.handles.ChargeCard.processing": "900ms",
                                      "patterns.order-saga.deadline": "500ms"})
    comp = by_saga(events, "saga_compensating")["o-1"]
    assert comp.data["reason"] == "deadline" and comp.data["failed_step"] == "charge_payment"


def test_same_seed_same_trace() -> None:
    """The saga is deterministic."""
    a = run(ORCHESTRATED)[2]
    b = run(ORCHESTRATED)[2]
    assert a.digest == b.digest


CHOREOGRAPHY = """
evtool: "1"
id: saga-choreo
run: {seed: 5, duration: 10s, drain: {max: 1m}}
channels:
  events: {kind: topic}
producers:
  checkout:
    to: events
    message: OrderPlaced
    arrival: {process: constant, rate: 1/s}
    count: 3
    payload: {orderId: "o-{{ n }}", amount: "{{ n * 60 }}"}
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
  order-saga:
    type: saga
    style: choreography
    trigger: {from: events, message: OrderPlaced}
    correlation: msg.payload.orderId
    observe: [events]
    steps:
      - name: reserve_inventory
        send: {to: events, command: OrderPlaced}
        timeout: 1s
        completed_by: StockReserved
        compensated_by: StockReleased
      - name: charge_payment
        send: {to: events, command: StockReserved}
        timeout: 1s
        completed_by: PaymentCharged
        failed_by: [PaymentFailed]
expect:
  - {name: ends, check: saga_terminates, pattern: order-saga}
  - {name: comp, check: saga_compensation, pattern: order-saga}
"""


def test_choreographed_saga_is_observed_from_events() -> None:
    """o-1 completes; o-2 and o-3 are declined and inventory's StockReleased compensates them."""
    _, events, outcome = run(CHOREOGRAPHY)
    assert set(by_saga(events, "saga_completed")) == {"o-1"}
    compensated = by_saga(events, "saga_compensated")
    assert set(compensated) == {"o-2", "o-3"}
    assert compensated["o-2"].data["compensated"] == "reserve_inventory"
    assert compensated["o-2"].data["order_ok"] is True
    assert not [e for e in events if e.actor == "order-saga" and e.kind == "published"], "an observer sends nothing"
    assert check(outcome, "ends")["status"] == "pass"
    assert check(outcome, "comp")["status"] == "pass"


def test_choreography_reports_a_repeated_compensation() -> None:
    """Duplicated events make inventory release stock twice: the observer reports `repeated`."""
    text = CHOREOGRAPHY + """
faults:
  - {action: duplicate, target: channel:events, probability: 1.0, scope: per_message, at: 0s, for: end}
"""
    _, events, outcome = run(text)
    repeats = [e for e in kinds(events, "saga_compensated", "order-saga") if e.data["repeated"]]
    assert repeats
    assert check(outcome, "comp")["status"] == "fail"
