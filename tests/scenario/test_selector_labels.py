"""Selectors are checked against the labels each metric and event kind really has, at validation."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from evtool.scenario.errors import ScenarioError
from evtool.scenario.labels import FIELD_LABELS, KIND_DATA_LABELS, METRIC_LABELS, labels_of
from evtool.scenario.lessons import lesson_dir
from evtool.scenario.loader import load_scenario, load_text
from evtool.scenario.selectors import parse_selector
from evtool.scenario.vocabulary import KINDS

BASE = """evtool: "1"
id: labels
run: {seed: 1, duration: 10s}
channels:
  orders: {kind: queue}
consumers:
  billing: {from: orders}
expect:
  - that: EXPR
"""


def _errors(expr: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(ScenarioError) as err:
        load_text(BASE.replace("EXPR", expr), "s.yaml")
    return [(p.line, p.column, p.message, p.hint or "") for p in err.value.errors]


def test_latency_by_group_is_refused_with_the_labels_latency_has() -> None:
    (line, col, message, hint), = _errors("p(99, latency.e2e{group=billing}) < 1s")
    assert (line, col) == (9, 29)  # the `group` inside the expression
    assert message == "`latency.e2e` has no label `group`"
    assert hint == "labels of the metric `latency.e2e`: channel, consumer, instance, tag, key"


@pytest.mark.parametrize(("expr", "message"), [
    ("count(delivered{colour=red}) > 0", "`delivered` has no label `colour`"),
    ("count(published{lag=3}) > 0", "`published` has no label `lag`"),
    ("max(queue.depth{consumer=billing}) < 5", "`queue.depth` has no label `consumer`"),
    ("max(queue.depth{channel!=orders}) < 5", "`queue.depth` is sampled per channel"),
    ("max(consumer.lag{group=bill*}) < 5", "`consumer.lag` is sampled per group"),
    ("max(throughput{channel=orders}) > 1/s", "`throughput` has no label `channel`"),
    ("count(handled{consumer=billling}) > 0", "no consumer named `billling`"),
    ("count(handled{channel=order}) > 0", "no channel named `order`"),
])
def test_a_selector_that_can_never_match_is_an_error(expr: str, message: str) -> None:
    errors = _errors(expr)
    assert len(errors) == 1 and errors[0][2].startswith(message), errors


@pytest.mark.parametrize("expr", [
    "p(99, latency.e2e{consumer=billing, tag!=poison}) < 5s",
    "count(delivered{group=billing, partition=0}) >= 0",
    "count(handled{consumer=bill*}) >= 0",
    "count(handled{channel='no-such'}) >= 0",
    "count(dead_lettered{reason=rejected}) >= 0",
    "max(queue.depth{channel=orders}) >= 0",
])
def test_labels_the_metric_or_kind_has_are_accepted(expr: str) -> None:
    load_text(BASE.replace("EXPR", expr), "s.yaml")


def test_every_lesson_and_its_selectors_still_validate() -> None:
    for path in sorted(lesson_dir().glob("*.yaml")):
        load_scenario(path)


def test_every_data_key_a_lesson_run_records_is_an_accepted_label() -> None:
    """The table is the truth: run the lessons and look at every event's data keys."""
    from evtool.sim.engine import Engine

    seen: dict[str, set[str]] = defaultdict(set)

    def listen(batch: list) -> None:  # type: ignore[type-arg]
        for ev in batch:
            if ev.data:
                seen[ev.kind].update(ev.data)

    for path in sorted(lesson_dir().glob("*.yaml")):
        Engine(load_scenario(path), listeners=[listen]).run()
    assert len(seen) > 40
    for kind, keys in seen.items():
        allowed = set(labels_of(kind) or ())
        assert keys <= allowed, f"{kind} records {sorted(keys - allowed)}, which a selector may not name"


def test_every_kind_and_metric_has_labels() -> None:
    assert set(KIND_DATA_LABELS) <= set(KINDS)
    for kind in KINDS:
        labels = labels_of(kind)
        assert labels is not None and set(FIELD_LABELS) <= set(labels) and "group" in labels
    for metric, labels in METRIC_LABELS.items():
        assert labels_of(metric) == labels
        for label in labels:
            parse_selector(f"{metric}{{{label}=x}}")


def test_selectors_module_stays_small() -> None:
    source = Path(__file__).resolve().parents[2] / "evtool" / "scenario" / "selectors.py"
    assert len(source.read_text(encoding="utf-8").splitlines()) < 800
