"""A producer's `instances` runs that many identical producers (docs/scenario-language.md, producers table).

Found by random testing: the setting was ignored, so `instances: 3` published what one producer does.
The rule (documented in the producers table): each instance publishes at the producer's rate and, with
`count`, `count` messages of its own; each draws from its own random stream; message ids stay unique
(`NAME-n` for instance 0, `NAME#i-n` for the others); injects are published once, by instance 0.
"""

from __future__ import annotations

from collections import Counter

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

BASE = """
evtool: "1"
id: producer-instances
run: {{seed: 7, duration: 2s}}
channels: {{q: {{kind: queue}}}}
producers:
  p:
    to: q
    arrival: {arrival}
    instances: {instances}
    {extra}
consumers: {{w: {{from: q}}}}
expect: [{{name: nothing-lost, check: no_loss}}]
"""


def _run(instances: int, arrival: str = "{process: constant, rate: 10/s}",
         extra: str = "") -> tuple[list[TraceEvent], object]:
    events: list[TraceEvent] = []
    text = BASE.format(instances=instances, arrival=arrival, extra=extra)
    outcome = Engine(load_text(text), listeners=[events.extend]).run()
    return events, outcome


def _published(events: list[TraceEvent]) -> list[TraceEvent]:
    return [e for e in events if e.kind == "published"]


def test_three_instances_publish_three_times_the_rate() -> None:
    one = _published(_run(1)[0])
    three = _published(_run(3)[0])
    assert len(one) == 19  # 10/s for 2 s, the first arrival one gap after start
    assert len(three) == 3 * len(one)
    ids = [e.msg for e in three]
    assert len(set(ids)) == len(ids), "message ids must be unique across instances"
    # instance 0 keeps the single producer's ids, so a scenario without instances is unchanged
    assert {e.msg for e in one} <= set(ids)
    assert {e.actor for e in three} == {"p"}  # selectors on producer=p still see every instance


def test_count_is_per_instance() -> None:
    events, outcome = _run(3, extra="count: 4")
    assert len(_published(events)) == 12
    assert outcome.checks[0]["status"] == "pass"  # type: ignore[attr-defined]


def test_once_arrival_and_injects() -> None:
    events, _ = _run(2, arrival="{process: once, at: 0s}",
                     extra="count: 5\n    inject: [{at: 1s, id: special, payload: {x: 1}}]")
    ids = Counter(e.msg for e in _published(events))
    assert sum(ids.values()) == 11  # 5 per instance, the inject once
    assert ids["special"] == 1


def test_each_instance_has_its_own_random_stream() -> None:
    events, _ = _run(2, arrival="{process: poisson, rate: 50/s}")
    times: dict[str, list[int]] = {}
    for e in _published(events):
        inst = e.msg.split("-")[0]
        times.setdefault(inst, []).append(e.t)
    assert set(times) == {"p", "p#1"}
    assert times["p"] != times["p#1"], "two instances drew the same arrival times"
    # and a single instance is unchanged by the others: instance 0 draws from the producer's own stream
    alone = [e.t for e in _published(_run(1, arrival="{process: poisson, rate: 50/s}")[0])]
    assert times["p"] == alone



def test_templates_see_the_instance() -> None:
    """`{{ instance }}` in a payload is the producer instance's index: the consumer fails instance 1's."""
    text = """
evtool: "1"
id: instance-template
run: {seed: 1, duration: 1s}
channels: {q: {kind: queue}}
producers:
  p: {to: q, arrival: {process: once, at: 0s}, count: 2, instances: 3, payload: {i: "{{ instance }}"}}
consumers:
  w: {from: q, fail_if: [{when: "msg.payload.i == 1", error: One, retryable: false}]}
"""
    events: list[TraceEvent] = []
    Engine(load_text(text), listeners=[events.extend]).run()
    assert sorted(e.msg for e in events if e.kind == "failed") == ["p#1-1", "p#1-2"]
