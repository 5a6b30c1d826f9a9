"""Run-time errors in templates and `emit.when` are recorded in the trace, never raised."""

from __future__ import annotations

from typing import Any

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

HEAD = 'evtool: "1"\nid: t\nrun: {seed: 1, duration: 1s}\n'


def _run(text: str) -> tuple[Any, list[Any]]:
    events: list[Any] = []
    engine = Engine(load_text(HEAD + text, "s.yaml"), listeners=[events.extend])
    return engine.run(), events


def test_header_template_error_is_a_producer_error() -> None:
    out, events = _run("""channels: {a: {kind: queue}}
producers:
  p: {to: a, arrival: {process: once}, count: 2, headers: {h: "{{ key[5] }}"}, key: {dist: fixed, value: k}}
consumers: {c: {from: a}}
""")
    dropped = [e for e in events if e.kind == "dropped"]
    assert len(dropped) == 2 and dropped[0].data["reason"] == "template_error"
    assert "no entry 5" in dropped[0].data["error"] and dropped[0].actor == "p"
    assert out.summary["published"] == 0


def test_routing_key_template_error_is_a_producer_error() -> None:
    _out, events = _run("""channels:
  r: {kind: router, type: topic, bindings: [{to: q, pattern: "#"}]}
  q: {kind: queue}
producers:
  p: {to: r, arrival: {process: once}, count: 1, routing_key: "{{ -producer }}"}
""")
    dropped = [e for e in events if e.kind == "dropped"]
    assert [e.data["reason"] for e in dropped] == ["template_error"]
    assert "needs a number" in dropped[0].data["error"]


def test_payload_str_of_a_huge_value_is_recorded_in_the_payload() -> None:
    out, events = _run("""channels: {a: {kind: queue}}
producers:
  p: {to: a, arrival: {process: once}, count: 1, payload: {x: "{{ str([[0] * 1000] * 1000) }}"}}
""")
    published = [e for e in events if e.kind == "published"]
    assert len(published) == 1 and out.summary["published"] == 1


def test_emit_when_error_is_a_handler_error() -> None:
    out, events = _run("""channels: {a: {kind: queue}, b: {kind: queue}}
producers:
  p: {to: a, arrival: {process: once}, count: 1}
consumers:
  c: {from: a, emit: [{to: b, when: "msg.payload.missing > 1"}]}
""")
    failed = [e for e in events if e.kind == "failed"]
    assert len(failed) == 1 and failed[0].data["error"] == "EmitError"
    assert "missing" in failed[0].data["detail"]
    assert not [e for e in events if e.kind == "emitted"]
    assert out.outcome in ("passed", "failed", "unknown")
