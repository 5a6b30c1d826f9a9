"""All problems in one round: schema problems and cross-reference problems of a file together."""

from __future__ import annotations

import pytest

from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text

BROKEN = """evtool: "1"
id: both
run: {seed: 1, duration: 10s}
channels:
  orders: {kind: queue, capacity: -3}
  audit: {kind: queue}
producers:
  web: {to: order, arrival: {process: constant, rate: 5/s}}
consumers:
  billing: {from: orders, instances: 0}
  audit: {from: audits}
expect:
  - that: count(handled{consumer=billling}) > 0
  - that: p(99, latency.e2e{group=billing}) < 1s
faults:
  - {at: 5s, action: crash, target: consumer:bill}
"""


def _problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ScenarioError) as err:
        load_text(text, "s.yaml")
    return [(p.line, p.message) for p in err.value.errors]


def test_schema_and_reference_problems_come_together() -> None:
    problems = _problems(BROKEN)
    assert problems == [
        (5, "must be at least 1, found `-3`"),
        (8, "no channel named `order`"),
        (10, "must be at least 1, found `0`"),
        (11, "no channel named `audits`"),
        (13, "no consumer named `billling` (in `consumer=billling`)"),
        (14, "`latency.e2e` has no label `group`"),
        (16, "no consumer named `bill`"),
    ]


def test_a_reference_to_a_broken_entry_is_not_an_error() -> None:
    """`billing` did not validate, but it exists: reading it, or naming it, is fine."""
    text = BROKEN.replace("{from: audits}", "{from: audit}").replace("billling", "billing") \
        .replace("to: order,", "to: orders,").replace("consumer:bill}", "consumer:billing}") \
        .replace("group=billing", "consumer=billing")
    assert _problems(text) == [(5, "must be at least 1, found `-3`"), (10, "must be at least 1, found `0`")]


def test_a_broken_list_entry_does_not_hide_the_other_sections() -> None:
    text = BROKEN.replace("{at: 5s, action: crash, target: consumer:bill}", "{at: 5s, action: explode}")
    problems = _problems(text)
    assert (11, "no channel named `audits`") in problems
    assert any(line == 16 and "explode" in message for line, message in problems)
