"""`during:` applies to every aggregate of an assertion: sampled gauges and state as well as counted events.

One scenario: a steady load on a queue and a log; between 5 s and 8 s both consumers are slowed
tenfold (`fault:slowdown`), so depth, lag, in-flight work and throughput change only inside that
window. Each expectation below is true of its window and false of the whole run (or the reverse),
so a window that is ignored shows up as a wrong verdict.
"""

from __future__ import annotations

from typing import Any

import pytest

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

SCENARIO = """
evtool: "1"
id: windows
run: {seed: 5, duration: 12s, drain: {max: 1m}}
channels:
  fan: {kind: router, type: fanout, bindings: [{to: work}, {to: events}]}
  work: {kind: queue}
  events: {kind: log, partitions: 1}
producers:
  load: {to: fan, arrival: {process: constant, rate: 50/s}}
consumers:
  worker:
    from: work
    prefetch: 20
    processing: 10ms
    effects: [{inc: done, by: 1}]
    state: {done: 0}
  reader:
    from: events
    processing: 10ms
faults:
  - {name: slowdown, at: 5s, for: 3s, action: slow, target: "consumer:worker", latency_factor: 10}
  - {name: slowdown-reader, at: 5s, for: 3s, action: slow, target: "consumer:reader", latency_factor: 10}
expect:
EXPECT
"""

CASES = [
    # (name, expectation, status): each holds only because its window is honoured
    ("depth-before", "{that: 'max(queue.depth{channel=work}) < 5', during: [0s, 4s]}", "pass"),
    ("depth-whole", "{that: 'max(queue.depth{channel=work}) < 5'}", "fail"),
    ("depth-fault", "{that: 'max(queue.depth{channel=work}) > 20', during: 'fault:slowdown'}", "pass"),
    ("depth-after", "{that: 'max(queue.depth{channel=work}) > 20', during: [10s, 12s]}", "fail"),
    ("lag-before", "{that: 'max(consumer.lag{group=reader}) < 5', during: [0s, 4s]}", "pass"),
    ("lag-whole", "{that: 'max(consumer.lag{group=reader}) < 5'}", "fail"),
    ("lag-fault", "{that: 'max(consumer.lag{group=reader}) > 20', during: 'fault:slowdown-reader'}", "pass"),
    ("inflight-before", "{that: 'max(in_flight{channel=work}) < 5', during: [0s, 4s]}", "pass"),
    ("inflight-whole", "{that: 'max(in_flight{channel=work}) < 5'}", "fail"),
    ("throughput-fault", "{that: 'max(throughput{consumer=worker}) < 20', during: 'fault:slowdown'}", "pass"),
    ("throughput-whole", "{that: 'max(throughput{consumer=worker}) < 20'}", "fail"),
    ("always-before", "{that: 'max(queue.depth{channel=work}) < 5', when: always, during: [0s, 4s]}", "pass"),
    ("state-window", "{that: 'last(state.worker.done) < 300', during: [0s, 4s]}", "pass"),
    ("state-whole", "{that: 'last(state.worker.done) < 300'}", "fail"),
    ("count-window", "{that: 'count(handled{consumer=worker}) < 300', during: [0s, 4s]}", "pass"),
]


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    expect = "\n".join(f"  - {{name: {name}, {body[1:]}" for name, body, _ in CASES)
    outcome = Engine(load_text(SCENARIO.replace("EXPECT", expect), "t.yaml")).run()
    return {c["name"]: c for c in outcome.checks}


@pytest.mark.parametrize(("name", "status"), [(n, s) for n, _, s in CASES])
def test_window_is_honoured(results: dict[str, dict[str, Any]], name: str, status: str) -> None:
    assert results[name]["status"] == status, results[name]


def test_a_window_with_no_samples_is_unknown() -> None:
    """A window after the run ended holds no sample: unknown, never the whole run's value."""
    text = SCENARIO.replace("EXPECT", "  - {name: late, that: 'max(queue.depth{channel=work}) >= 0', "
                                      "during: [10m, 11m]}")
    outcome = Engine(load_text(text, "t.yaml")).run()
    assert outcome.checks[0]["status"] == "unknown", outcome.checks[0]


def test_a_recurring_fault_window_is_every_span_it_was_active() -> None:
    """`during: fault:NAME` of a fault with `every:` covers each span it was active, and `per_sec`
    divides by their total length (hand-made events; the run view only supplies the time)."""
    from types import SimpleNamespace

    from evtool.core.events import TraceEvent as E
    from evtool.scenario import models as m
    from evtool.trace.checks import AssertionChecker

    s = 1_000_000_000
    view = SimpleNamespace(now=0)  # only its clock is read
    count = AssertionChecker(m.Assertion(that="count(handled) == 4", during="fault:blip"), "c", view, None)
    rate = AssertionChecker(m.Assertion(that="per_sec(handled) == 1/s", during="fault:blip"), "r", view, None)
    events = [E(0, "handled", "a"),
              E(1 * s, "fault_started", None, None, "blip"), E(1 * s, "handled", "b"), E(2 * s, "handled", "c"),
              E(3 * s, "fault_ended", None, None, "blip"), E(4 * s, "handled", "d"),
              E(5 * s, "fault_started", None, None, "blip"), E(6 * s, "handled", "e"), E(6 * s, "handled", "f"),
              E(7 * s, "fault_ended", None, None, "blip"), E(9 * s, "handled", "g")]
    for checker in (count, rate):
        checker.consume(events)
    view.now = 10 * s
    assert count.result(view.now, "complete")["status"] == "pass"
    assert rate.result(view.now, "complete")["status"] == "pass"  # 4 handled over 2 s + 2 s


STEADY = """
evtool: "1"
id: steady
run: {seed: 1, duration: 2s, drain: {max: 1m}}
channels:
  work: {kind: queue}
producers:
  load: {to: work, arrival: {process: constant, rate: 10/s}}
consumers:
  worker: {from: work, processing: 5ms}
faults:
  - {name: stall, at: 0s, for: 300ms, action: slow, target: "consumer:worker", latency_factor: 100}
expect:
EXPECT
"""

WHEN_CASES = [
    # `eventually ... within`: true only at 0.6 s, so not within 100 ms
    ("late", "{that: 'count(handled) > 5', when: eventually, within: 100ms}", "fail"),
    ("in-time", "{that: 'count(handled) > 5', when: eventually, within: 1s}", "pass"),
    # a named check judged at every sample: the first message takes 500 ms and the next four queue
    # behind it, so the median is above 100 ms until the fast ones outnumber them
    ("latency-always", "{check: latency, percentile: 50, below: 100ms, when: always}", "fail"),
    ("latency-end", "{check: latency, percentile: 50, below: 100ms}", "pass"),
    # a named check that must hold by a time: no message is handled in the first 50 ms
    ("dupes-eventually", "{check: no_duplicates, consumer: worker, when: eventually, within: 50ms}", "fail"),
    ("dupes-eventually-ok", "{check: no_duplicates, consumer: worker, when: eventually, within: 1s}", "pass"),
    # `within` has no meaning for a check judged at the end: not honoured is not a pass
    ("within-ignored", "{check: no_loss, within: 1ms}", "unknown"),
    ("within-assertion", "{that: 'count(handled) > 5', within: 1ms}", "unknown"),
]


@pytest.fixture(scope="module")
def when_results() -> dict[str, dict[str, Any]]:
    expect = "\n".join(f"  - {{name: {name}, {body[1:]}" for name, body, _ in WHEN_CASES)
    outcome = Engine(load_text(STEADY.replace("EXPECT", expect), "t.yaml")).run()
    return {c["name"]: c for c in outcome.checks}


@pytest.mark.parametrize(("name", "status"), [(n, s) for n, _, s in WHEN_CASES])
def test_when_and_within_are_honoured(when_results: dict[str, dict[str, Any]], name: str, status: str) -> None:
    assert when_results[name]["status"] == status, when_results[name]
