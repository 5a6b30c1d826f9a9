"""The drain waits for a broker that is down (broker_restart with downtime) instead of ending `complete`.

Found by random testing (tests/property, seed 1018 of randgen, minimized):
the load phase ended during the outage and the drain reported `complete` at once, with 3 durable messages
ready, before the broker came back and the consumer could take them. The docs define the drain as waiting
"until nothing is ready, in flight or delayed" (docs/scenario-language.md, run).
"""

from __future__ import annotations

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

YAML = """
evtool: "1"
id: drain-during-outage
run: {seed: 1, duration: 600ms, drain: {max: 10s}}
channels:
  q: {kind: queue}
producers:
  p: {to: q, arrival: {process: once, at: 0s}, count: 3}
consumers:
  c: {from: q, processing: 1s, prefetch: 1}
faults:
  - {action: broker_restart, at: 500ms, target: broker, downtime: 1s}
expect:
  - {name: nothing-lost, check: no_loss}
"""


def test_the_drain_outlasts_a_broker_outage() -> None:
    events: list = []
    outcome = Engine(load_text(YAML), listeners=[events.extend]).run()
    assert outcome.drain == "complete"
    assert outcome.summary["channels"]["q"]["ready"] == 0
    assert {c["name"]: c["status"] for c in outcome.checks} == {"nothing-lost": "pass"}
    acked = sorted(e.msg for e in events if e.kind == "acked")
    assert acked == ["p-1", "p-2", "p-3"]
    # every ack comes after the broker is back (500 ms + 1 s downtime)
    assert min(e.t for e in events if e.kind == "acked") > 1_500_000_000
