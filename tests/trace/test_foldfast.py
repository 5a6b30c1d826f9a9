"""The optional compiled metric folds (evtool/trace/_foldfast.pyx, built by `EVTOOL_COMPILE=1 pip install .`)
give exactly what the pure code gives: the same latency buckets (in the same order) and the same handled
values, on odd values and on every lesson's trace.

Without a compiled build the comparisons skip with the reason; the pure code is what every other test runs.
"""

from __future__ import annotations

import math
from collections import _count_elements  # type: ignore[attr-defined]
from itertools import repeat
from operator import truediv

import pytest

from evtool.scenario.lessons import lesson_dir
from evtool.scenario.loader import load_scenario
from evtool.sim.engine import Engine
from evtool.trace import histogram, metrics
from evtool.trace.digest import as_rows
from evtool.trace.metrics import Metrics

try:
    from evtool.trace._foldfast import add_log_buckets, fold_kinds, handled_values
except ImportError:
    add_log_buckets = fold_kinds = handled_values = None

compiled = pytest.mark.skipif(add_log_buckets is None,
                              reason="no compiled build here (EVTOOL_COMPILE=1 pip install .)")
LOG_GROWTH = math.log(1.02)


def pure_buckets(values: list[float]) -> dict[int, int]:
    out: dict[int, int] = {}
    _count_elements(out, map(int, map(truediv, map(math.log, values), repeat(LOG_GROWTH))))
    return out


@compiled
def test_buckets_are_the_pure_ones_in_the_same_order() -> None:
    values = [1, 2, 1.0, 1.5, 3, 10**9, 10**12, 2**62, 2**63 + 5, 10**300, 1e308, 7.25, 999_999_999, 1, 2]
    got: dict[int, int] = {}
    add_log_buckets(got, values, LOG_GROWTH)
    want = pure_buckets(values)
    assert got == want and list(got) == list(want)
    # an int too large for a double goes the pure way too (and gives the pure result)
    huge = [10**400]
    got = {}
    add_log_buckets(got, huge, LOG_GROWTH)
    assert got == pure_buckets(huge)


@compiled
def test_infinite_value_fails_as_the_pure_code_does() -> None:
    with pytest.raises(OverflowError):
        pure_buckets([math.inf])
    with pytest.raises(OverflowError):
        add_log_buckets({}, [math.inf], LOG_GROWTH)


@compiled
def test_handled_values_and_their_refusals() -> None:
    def row(data: object) -> tuple[object, ...]:
        return (1, "handled", "m", "q", "c", 0, None, 1, None, data)

    rows = [row({"latency": 5, "processing": 3}), row({"processing": 4}), row({"latency": 7, "processing": 1})]
    assert handled_values(rows) == ([3, 4, 1], [5, 7])
    assert handled_values([*rows, row(None)]) is None                           # no data
    assert handled_values([*rows, row({"latency": 1, "duplicate": True})]) is None  # a skipped duplicate


def fold(monkeypatch: pytest.MonkeyPatch, pure: bool, rows_by_batch: list[list[tuple[object, ...]]],
         scenario: object) -> Metrics:
    if pure:
        monkeypatch.setattr(histogram, "_add_log_buckets", None)
        monkeypatch.setattr(metrics, "_handled_values", None)
        monkeypatch.setattr(metrics, "_fold_kinds", None)
    m = Metrics(scenario)  # type: ignore[arg-type]
    for rows in rows_by_batch:
        m.consume(rows)
    monkeypatch.undo()
    return m


@compiled
@pytest.mark.parametrize("lesson", sorted(p.stem for p in lesson_dir().glob("*.yaml")))
def test_every_lesson_folds_the_same(monkeypatch: pytest.MonkeyPatch, lesson: str) -> None:
    loaded = load_scenario(lesson_dir() / f"{lesson}.yaml")
    engine = Engine(loaded)
    batches: list[list[tuple[object, ...]]] = []
    engine.listeners.append(lambda batch: batches.append(as_rows(batch)))
    engine.run()
    a = fold(monkeypatch, False, batches, loaded.model)
    b = fold(monkeypatch, True, batches, loaded.model)
    for name in ("counts", "handled_by_consumer", "failed_by_consumer", "duplicates"):
        assert getattr(a, name) == getattr(b, name), name
    for ha, hb in [(a.processing, b.processing), (a.request_latency, b.request_latency),
                   *((a.latency_by_consumer[k], b.latency_by_consumer[k]) for k in b.latency_by_consumer)]:
        assert (ha.buckets, list(ha.buckets), ha.count, ha.total, ha.min, ha.max, ha.last) == \
               (hb.buckets, list(hb.buckets), hb.count, hb.total, hb.min, hb.max, hb.last)
    assert a.latency_by_consumer.keys() == b.latency_by_consumer.keys()



@compiled
def test_fold_kinds_counts_in_order_and_picks_in_order() -> None:
    """`fold_kinds` against what the pure `Metrics.consume` does: the kinds counted into a Counter in the
    order they come (new kinds appended), the handled rows and the other measured rows picked in order;
    TraceEvents and plain tuples alike."""
    from collections import Counter
    from itertools import compress

    from evtool.core.events import TraceEvent

    kinds = ["published", "delivered", "handled", "acked", "failed", "handled", "reply_received", "x", "handled"]
    events = [TraceEvent(i, k, f"m{i}", "q", "c", 0, None, 1, None, {"latency": i, "processing": 1})
              for i, k in enumerate(kinds)]
    others = frozenset({"failed", "reply_received"})
    for batch in (events, [tuple(e) for e in events]):
        got: Counter[str] = Counter({"acked": 5})
        handled, other = fold_kinds(batch, got, "handled", others)
        want: Counter[str] = Counter({"acked": 5})
        ks = [e[1] for e in batch]
        _count_elements(want, ks)
        assert got == want and list(got) == list(want)
        assert handled == list(compress(batch, (k == "handled" for k in ks)))
        assert other == list(compress(batch, (k in others for k in ks)))


@compiled
def test_many_kinds_and_equal_kinds_of_another_identity_count_as_one_by_one() -> None:
    """More distinct kinds than the compiled fold's local table holds (it hands them over and goes on), and
    equal kinds that are different objects: the same counts, in the same order, as counting one by one."""
    from collections import Counter

    others = frozenset({"failed", "k7"})
    kinds = [f"k{i % 45}" for i in range(500)] + ["".join(["hand", "led"]) for _ in range(3)] + ["handled"]
    batch = [(i, k, None) for i, k in enumerate(kinds)]
    got: Counter[str] = Counter({"k3": 2})
    handled, other = fold_kinds(batch, got, "handled", others)
    want: Counter[str] = Counter({"k3": 2})
    _count_elements(want, kinds)
    assert got == want and list(got) == list(want)
    assert handled == [r for r in batch if r[1] == "handled"]
    assert other == [r for r in batch if r[1] in others]


@compiled
def test_an_unhashable_kind_fails_after_counting_the_rows_before_it() -> None:
    from collections import Counter

    got: Counter[object] = Counter()
    with pytest.raises(TypeError):
        fold_kinds([(0, "a"), (1, "b"), (2, ["x"]), (3, "c")], got, "handled", frozenset())
    assert list(got.items()) == [("a", 1), ("b", 1)]


@compiled
def test_many_distinct_buckets_keep_the_pure_order() -> None:
    """More distinct buckets than the compiled table takes at once, with values too large for a double in
    between: the buckets and their order are the pure ones."""
    values = [int(1.02 ** (i % 700)) + 1 for i in range(0, 5000, 7)] + [10**400] + [3, 5, 10**9]
    got: dict[int, int] = {7: 1}
    add_log_buckets(got, values, LOG_GROWTH)
    want = {7: 1}
    for k, v in pure_buckets(values).items():
        want[k] = want.get(k, 0) + v
    assert got == want and list(got) == list(want)
