"""The bounded latency histogram: batch adds agree with one-by-one adds; percentiles within a bucket."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evtool.trace.histogram import Histogram

VALUES = st.lists(st.integers(min_value=0, max_value=10**12), max_size=300)


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_add_many_equals_add(values: list[int]) -> None:
    """`add_many` (one logarithm per distinct value) ends in the same state as `add` one at a time."""
    one, many = Histogram(), Histogram()
    for v in values:
        one.add(v)
    many.add_many(values)
    assert one.buckets == many.buckets
    assert (one.count, one.total, one.min, one.max, one.last) == (many.count, many.total, many.min, many.max,
                                                                    many.last)
    for q in (50, 90, 99, 100):
        assert one.percentile(q) == many.percentile(q)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=500))
def test_percentile_is_within_two_percent(values: list[int]) -> None:
    """Log buckets of 2%: a percentile is within about 2% of the exact order statistic."""
    import math

    h = Histogram()
    h.add_many(values)
    exact = sorted(values)[math.ceil(len(values) * 0.9) - 1]
    got = h.percentile(90)
    assert got is not None and abs(got - exact) <= 0.021 * exact + 1
