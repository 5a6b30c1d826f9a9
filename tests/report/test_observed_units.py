"""Issue 13: "observed" reads as a sentence with units: `p99 924 ms, limit 5 s`, never `924.015ms`."""

from __future__ import annotations

import pytest

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.trace import measure


@pytest.mark.parametrize(("ns", "text"), [
    (924_015_000, "924 ms"), (17_811_000_000, "17.8 s"), (5e9, "5 s"), (30e9, "30 s"), (90e9, "1.5 min"),
    (7_200e9, "2 h"), (850_000, "850 µs"), (12, "12 ns"), (0, "0 s"), (None, "no data"),
])
def test_durations_read_with_three_digits_and_a_space(ns: float | None, text: str) -> None:
    assert measure.duration(ns) == text


@pytest.mark.parametrize(("v", "text"), [(1129, "1129"), (0.00277469, "0.00277"), (0.02, "0.02"),
                                         (123456.7, "123457"), (2.5, "2.5")])
def test_numbers(v: float, text: str) -> None:
    assert measure.number(v) == text


def test_a_value_and_its_limit_never_read_the_same_when_they_differ() -> None:
    assert measure.pair(700_400_000, 700e6, durations=True) == ("700.4 ms", "700 ms")
    assert measure.pair(0.019999, 0.02, durations=False) == ("0.019999", "0.02")
    assert measure.pair(3e9, 3e9, durations=True) == ("3 s", "3 s")


SCENARIO = """
evtool: "1"
id: words
run: {seed: 1, duration: 5s}
channels:
  q: {kind: queue}
producers:
  p: {to: q, arrival: {process: constant, rate: 10/s}}
consumers:
  c: {from: q, processing: {dist: exponential, mean: 231ms}}
expect:
  - {name: p99, that: "p(99, latency.e2e{consumer=c}) < 5s"}
  - {name: latency, check: latency, consumer: c, percentile: 99, below: 5s}
  - {name: ratio, that: "ratio(acked{consumer=c}, published) > 0.333"}
"""


def test_observed_in_a_run_has_units_everywhere() -> None:
    seen = {c["name"]: c["observed"] for c in Engine(load_text(SCENARIO)).run().checks}
    for name in ("p99", "latency"):
        text = seen[name]
        assert text.startswith("p99 ") and ", limit 5 s" in text, text
        value = text.split(",")[0].removeprefix("p99 ")
        number, unit = value.split(" ")
        assert unit in ("ms", "s") and len(number.replace(".", "")) <= 3, text  # 3 significant digits
    assert seen["ratio"].startswith("ratio ") and seen["ratio"].endswith(", must be > 0.333"), seen["ratio"]


def test_two_measures_are_named_by_what_they_measure() -> None:
    text = SCENARIO.split("expect:")[0] + """expect:
  - {name: both, that: "count(acked{consumer=c}) <= count(published{channel=q})"}
"""
    (check,) = Engine(load_text(text)).run().checks
    number = r"\d+"
    import re

    assert re.fullmatch(rf"{number} acked, {number} published \(needs <=\)", check["observed"]), check["observed"]
