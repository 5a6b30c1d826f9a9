"""Loops visible in the file are refused (router cycles) or warned about, with their location."""

from __future__ import annotations

import pytest

from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.scenario.loops import MAX_ROUTER_DEPTH

HEAD = 'evtool: "1"\nid: t\nrun: {seed: 1, duration: 1s}\n'


def _errors(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_text(text, "s.yaml")
    return [f"{p.line}:{p.column} {p.path}: {p.message}" for p in info.value.problems]


def test_router_cycle_is_refused_with_the_cycle_named() -> None:
    text = HEAD + """channels:
  r1: {kind: router, type: fanout, bindings: [{to: r2}]}
  r2: {kind: router, type: fanout, bindings: [{to: q}, {to: r1}]}
  q: {kind: queue}
"""
    errors = _errors(text)
    assert errors == ["6:61 channels.r2.bindings[1].to: router cycle: `r1` -> `r2` -> `r1`; "
                      "a message would be routed around it forever"]


def test_long_router_chain_is_refused() -> None:
    n = MAX_ROUTER_DEPTH + 2
    lines = [f"  r{i}: {{kind: router, type: fanout, bindings: [{{to: r{i + 1}}}]}}" for i in range(n)]
    lines.append(f"  r{n}: {{kind: router, type: fanout, bindings: [{{to: q}}]}}")
    text = HEAD + "channels:\n" + "\n".join(lines) + "\n  q: {kind: queue}\n"
    errors = _errors(text)
    assert len(errors) == 1 and "routers chain" in errors[0] and f"limit is {MAX_ROUTER_DEPTH}" in errors[0]


def test_router_diamond_is_not_a_cycle() -> None:
    text = HEAD + """channels:
  r1: {kind: router, type: fanout, bindings: [{to: r2}, {to: r3}]}
  r2: {kind: router, type: fanout, bindings: [{to: q}]}
  r3: {kind: router, type: fanout, bindings: [{to: q}]}
  q: {kind: queue}
"""
    assert load_text(text, "s.yaml").warnings == ()


def test_dead_letter_cycle_is_a_warning_at_the_key_that_closes_it() -> None:
    text = HEAD + """channels:
  a: {kind: queue, dead_letter: b}
  b: {kind: queue, dead_letter: a}
"""
    warnings = load_text(text, "s.yaml").warnings
    assert [(w.line, w.path, w.severity) for w in warnings] == [(6, "channels.b.dead_letter", "warning")]
    assert "`a` -> `b` -> `a`" in warnings[0].message


def test_dead_letter_cycle_through_a_consumer_and_a_router() -> None:
    text = HEAD + """channels:
  a: {kind: queue}
  r: {kind: router, type: fanout, bindings: [{to: a}]}
consumers:
  c: {from: a, dead_letter: r}
"""
    warnings = load_text(text, "s.yaml").warnings
    assert [w.path for w in warnings] == ["consumers.c.dead_letter"]


def test_unconditional_self_emission_at_zero_time_is_refused() -> None:
    text = HEAD + """channels:
  a: {kind: queue}
consumers:
  c: {from: a, processing: 0s, emit: [{to: a}]}
"""
    errors = _errors(text)
    assert len(errors) == 1 and errors[0].startswith("7:44 ") and "consumers.c.emit[0].to" in errors[0]


@pytest.mark.parametrize(("consumer", "phrase"), [
    ("{from: a, processing: 5ms, emit: [{to: a}]}", "endless stream"),
    ("{from: a, processing: 0s, emit: [{to: a, when: 'msg.seq < 3'}]}", "clock never moves"),
    ("{from: a, handles: {Order: {processing: 0s, emit: [{to: a, message: Order, when: 'msg.seq < 3'}]}}}",
     "clock never moves"),
])
def test_self_emission_warnings(consumer: str, phrase: str) -> None:
    text = HEAD + f"channels:\n  a: {{kind: queue}}\nconsumers:\n  c: {consumer}\n"
    warnings = load_text(text, "s.yaml").warnings
    assert len(warnings) == 1 and phrase in warnings[0].message


def test_emitting_to_another_channel_is_fine() -> None:
    text = HEAD + """channels:
  a: {kind: queue}
  b: {kind: queue}
consumers:
  c: {from: a, processing: 0s, emit: [{to: b}]}
"""
    assert load_text(text, "s.yaml").warnings == ()


def test_emission_through_another_type_is_not_a_cycle() -> None:
    """Types matter: an Order handler emits an Event to its own channel, and Events emit nothing."""
    text = HEAD + """channels:
  a: {kind: queue}
consumers:
  c: {from: a, processing: 0s, handles: {Order: {emit: [{to: a, message: Event}]}}}
"""
    assert load_text(text, "s.yaml").warnings == ()


def test_two_consumers_emitting_to_each_other_at_zero_time_are_refused() -> None:
    text = HEAD + """channels:
  a: {kind: queue}
  b: {kind: queue}
consumers:
  ca: {from: a, processing: 0s, emit: [{to: b}]}
  cb: {from: b, processing: 0s, emit: [{to: a}]}
"""
    errors = _errors(text)
    assert len(errors) == 1 and "`ca`, `cb` emit around a cycle `a` -> `b` -> `a`" in errors[0]


def test_a_saga_reply_cycle_ends_on_the_reply_type() -> None:
    text = HEAD + """channels:
  orders: {kind: queue}
  payments: {kind: queue}
consumers:
  order-svc: {from: orders, handles: {OrderPlaced: {emit: [{to: payments, message: Charge}]},
                                      Charged: {processing: 1ms}}}
  pay-svc: {from: payments, emit: [{to: orders, message: Charged}]}
"""
    assert load_text(text, "s.yaml").warnings == ()
