"""An assertion's `observed` reads as a sentence with units, not `left = …, right = …`."""

from __future__ import annotations

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

SCENARIO = """
evtool: "1"
id: words
run: {seed: 1, duration: 5s}
channels:
  q: {kind: queue}
producers:
  p: {to: q, arrival: {process: constant, rate: 10/s}}
consumers:
  c: {from: q, processing: 20ms}
expect:
  - {name: fast, that: "p(99, latency.e2e{consumer=c}) < 30s"}
  - {name: some, that: "count(acked{consumer=c}) > 0"}
  - {name: exact, that: "count(acked{consumer=c}) == 1"}
"""


def test_observed_is_a_sentence_with_units() -> None:
    outcome = Engine(load_text(SCENARIO)).run()
    seen = {c["name"]: c["observed"] for c in outcome.checks}
    assert seen["fast"].startswith("p99 ") and ", limit 30 s" in seen["fast"]
    assert seen["some"].startswith("count ") and seen["some"].endswith(", must be > 0")
    assert seen["exact"].startswith("count ") and seen["exact"].endswith(", expected 1")
    assert not any("left =" in v for v in seen.values())
