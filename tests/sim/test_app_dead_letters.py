"""Messages an application dead-letters (a consumer's own `dead_letter:` channel) keep what they carry,
and a redrive sends them back like the broker's dead letters."""

from __future__ import annotations

from evtool.core.delivery import Delivery
from evtool.core.message import Message
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

S = 1_000_000_000

APP_DLQ = """
evtool: "1"
id: app-dlq
run: {seed: 1, duration: 3s, drain: {max: 30s}}
channels:
  orders: {kind: queue}
  orders.dlq: {kind: queue, role: dead_letter}
producers:
  shop:
    to: orders
    message: Placed
    arrival: {process: once}
    count: 2
consumers:
  billing:
    from: orders
    processing: 1ms
    fail_if:
      - when: "now < 2000000000"
        error: GatewayDown
    retry: {max_attempts: 2, backoff: {type: constant, delay: 10ms}, on_exhausted: dead_letter}
    dead_letter: orders.dlq
faults:
  - {name: fixed, at: 2500ms, action: redrive, target: "channel:orders.dlq"}
"""


def test_a_redrive_sends_application_dead_letters_back() -> None:
    events: list = []
    eng = Engine(load_text(APP_DLQ, "app-dlq.yaml"), listeners=[events.extend])
    out = eng.run()
    kinds = [(e.kind, e.channel) for e in events]
    assert kinds.count(("dead_lettered", "orders")) == 2
    # before, the dead letters carried no death record, so the redrive found nowhere to send them
    assert kinds.count(("redriven", "orders.dlq")) == 2
    assert eng.broker.stats("orders.dlq").ready == 0
    handled_after_fix = [e for e in events if e.kind == "handled" and e.t >= 2500 * S // 1000]
    assert sorted(e.msg for e in handled_after_fix) == ["shop-1", "shop-2"]
    assert out.drain == "complete"


def test_an_application_dead_letter_keeps_reply_to_and_records_its_death() -> None:
    eng = Engine(load_text(APP_DLQ.replace("faults:\n  - {name: fixed, at: 2500ms, action: redrive, "
                                           "target: \"channel:orders.dlq\"}\n", ""), "app-dlq.yaml"))
    eng.start()
    msg = Message("req-1", "orders", "k", {"h": "1"}, {"a": 1}, "Placed", 1, 0, 0, None, "conv-9", None, "shop",
                  "inbox", 30 * S)
    eng.dead_letter_by_app("billing", Delivery(1, 1, msg, 2, "orders", None, None, None, 2, True), "orders.dlq",
                           "GatewayDown", "dead_lettered")
    eng.run_until(S)
    ready = list(eng.broker._channels["orders.dlq"].qs.ready)  # noqa: SLF001 - the stored copy itself
    dead = next(e.msg for e in ready if e.msg.id == "req-1")
    assert dead.reply_to == "inbox" and dead.correlation_id == "conv-9"
    assert dead.deaths and dead.deaths[0].channel == "orders" and dead.deaths[0].reason == "rejected"
    assert dead.ttl_ns is None           # as a broker's dead letter: it cannot expire in the DLQ
    assert dead.headers == {"h": "1", "x-death-reason": "GatewayDown"}
