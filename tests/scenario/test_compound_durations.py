"""Durations in the compound forms people type (`1m30s`, `1h30m`), in Python, YAML and the JSON Schema."""

from __future__ import annotations

import re

import pytest

from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.scenario.units import DURATION_PATTERN, UnitError, parse_duration

S = 1_000_000_000


@pytest.mark.parametrize(("text", "ns"), [
    ("1m30s", 90 * S), ("1h30m", 5400 * S), ("1h30m15s", 5415 * S), ("2s500ms", 2500 * 1_000_000),
    ("1d12h", 36 * 3600 * S), ("1min30s", 90 * S), ("1.5h2m", 5520 * S), ("1m0s", 60 * S), (" 1m30s ", 90 * S),
])
def test_compound_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns
    assert re.match(DURATION_PATTERN, text), "the JSON Schema pattern accepts what the parser accepts"


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("1s1m", "`m` comes after `s`", "largest unit to the smallest"),
    ("1m1m", "two `m` parts", "each unit once"),
    ("1m30", "its last number has no unit", "every part takes a unit"),
    ("-1m30s", "negative", "forward"),
    ("1m 30s", "is not a duration", "1m30s"),
])
def test_compound_errors(text: str, message: str, hint: str) -> None:
    with pytest.raises(UnitError) as exc:
        parse_duration(text)
    assert message in str(exc.value)
    assert hint in (exc.value.hint or "")


def test_compound_in_a_scenario() -> None:
    text = """evtool: "1"
id: compound
run: {seed: 1, duration: 1m30s, drain: {max: 1h30m}}
channels: {q: {kind: queue}}
producers: {p: {to: q, message: M, arrival: {process: constant, rate: 1/s}}}
consumers: {c: {from: q}}
"""
    loaded = load_text(text, "compound.yaml")
    assert loaded.model.run.duration == 90 * S
    assert loaded.model.run.drain.max == 5400 * S


def test_bad_compound_is_located() -> None:
    text = 'evtool: "1"\nid: bad\nrun: {seed: 1, duration: 30s1m}\nchannels: {q: {kind: queue}}\n'
    with pytest.raises(ScenarioError) as exc:
        load_text(text, "bad.yaml")
    p = next(p for p in exc.value.problems if p.path == "run.duration")
    assert (p.line, p.column) == (3, 26)
    assert "largest unit to the smallest" in (p.hint or "")


def test_compound_in_an_assertion() -> None:
    base = """evtool: "1"
id: compound
run: {seed: 1, duration: 10s}
channels: {q: {kind: queue}}
producers: {p: {to: q, message: M, arrival: {process: constant, rate: 1/s}}}
consumers: {c: {from: q}}
expect:
  - {name: lat, that: "p(99, latency.e2e) < LIMIT"}
"""
    load_text(base.replace("LIMIT", "1m30s"), "a.yaml")
    with pytest.raises(ScenarioError) as exc:
        load_text(base.replace("LIMIT", "1s1m"), "b.yaml")
    assert "`m` comes after `s`" in str(exc.value.problems[0].message)
