"""A bounded latency histogram with about 1% relative precision.

Values (nanoseconds) fall into log-spaced buckets, so memory stays fixed
however many samples arrive, and percentiles are exact to within a bucket.
"""

from __future__ import annotations

import math
import os
from collections import _count_elements  # type: ignore[attr-defined]
from collections.abc import Sequence
from itertools import repeat
from operator import truediv
from typing import Any

_GROWTH = 1.02
_LOG_GROWTH = math.log(_GROWTH)


def _compiled_fold() -> Any:
    """The compiled bucket counter (`_foldfast`, built by `pip install .` where a C compiler is found), or
    None (a pure install, or EVTOOL_PURE=1): the same counts either way."""
    if os.environ.get("EVTOOL_PURE"):
        return None
    try:
        from evtool.trace._foldfast import add_log_buckets
    except ImportError:
        return None
    return add_log_buckets


_add_log_buckets = _compiled_fold()


class Histogram:
    """Counts of values in log-spaced buckets, plus exact min, max, sum and count."""

    __slots__ = ("buckets", "count", "total", "min", "max", "last")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min: float | None = None
        self.max: float | None = None
        self.last: float | None = None

    def add(self, value: float) -> None:
        """Record one value (values below 1 go to the first bucket)."""
        b = int(math.log(value) / _LOG_GROWTH) if value >= 1 else -1
        self.buckets[b] = self.buckets.get(b, 0) + 1
        self.count += 1
        self.total += value
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value
        self.last = value

    def add_many(self, values: Sequence[float]) -> None:
        """Record values in order; the same result as `add` on each, for the batches the metrics fold in.

        The bucket of every value is computed by one chain of C-level maps (the same
        `int(log(value) / _LOG_GROWTH)` as `add`), counted at C speed, and only the few
        distinct buckets are merged in Python.
        """
        if not values:
            return
        buckets = self.buckets
        lo = min(values)
        hi = max(values)
        if lo >= 1:
            ones = values
        else:
            ones = [v for v in values if v >= 1]
            buckets[-1] = buckets.get(-1, 0) + len(values) - len(ones)
        if _add_log_buckets is not None:
            _add_log_buckets(buckets, ones, _LOG_GROWTH)
        else:
            # counted straight into the buckets at C speed (what Counter.update does inside)
            _count_elements(buckets, map(int, map(truediv, map(math.log, ones), repeat(_LOG_GROWTH))))
        self.count += len(values)
        # one addition to the running total: for integer nanoseconds (all the metrics add) that is the
        # same as adding one by one while the total stays below 2**53; floats may differ in the last bit
        self.total += sum(values)
        if self.min is None or lo < self.min:
            self.min = lo
        if self.max is None or hi > self.max:
            self.max = hi
        self.last = values[-1]

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0 < q ≤ 100), or None with no samples."""
        if not self.count:
            return None
        if q >= 100:
            return self.max
        rank = math.ceil(self.count * q / 100)
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                value = 0.0 if b < 0 else _GROWTH ** (b + 0.5)
                assert self.min is not None and self.max is not None
                return min(max(value, self.min), self.max)
        return self.max

    def mean(self) -> float | None:
        """The mean, or None with no samples."""
        return self.total / self.count if self.count else None

    def merge(self, other: Histogram) -> None:
        """Add another histogram's samples to this one."""
        for b, n in other.buckets.items():
            self.buckets[b] = self.buckets.get(b, 0) + n
        self.count += other.count
        self.total += other.total
        for v in (other.min, other.max):
            if v is not None:
                self.min = v if self.min is None else min(self.min, v)
                self.max = v if self.max is None else max(self.max, v)
        if other.last is not None:
            self.last = other.last
