"""Metric assertions (`that:`): counts, rates, latency percentiles, sampled gauges and service state,
evaluated at the end, at every sample (`always`) or until they hold (`eventually`), in a window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.scenario.selectors import Aggregate, Number, parse_assertion
from evtool.scenario.units import format_duration
from evtool.trace import measure
from evtool.trace.checks.base import Checker
from evtool.trace.histogram import Histogram
from evtool.trace.metrics import Metrics
from evtool.trace.view import RunView

LATENCY_METRICS = ("latency.e2e", "latency.processing")
GAUGE_METRICS = ("queue.depth", "in_flight", "consumer.lag", "throughput")


class AssertionChecker(Checker):
    """A metric assertion (`that:`), evaluated at the end, always, or eventually."""

    def __init__(self, spec: m.Assertion, name: str, view: RunView, metrics: Metrics) -> None:
        super().__init__(spec, name)
        self.view = view
        self.metrics = metrics
        self.assertion = parse_assertion(spec.that)
        self.counters: dict[int, int] = {}
        self.hists: dict[int, Histogram] = {}
        self.aggs = self.assertion.aggregates()
        self.by_kind: dict[str, list[tuple[int, Any]]] = {}
        self.latency_sels: list[tuple[int, Any]] = []
        self.request_sels: list[tuple[int, Any]] = []
        for i, agg in enumerate(self.aggs):
            for j, sel in enumerate(agg.selectors):
                slot = i * 4 + j
                if sel.name in LATENCY_METRICS:
                    self.latency_sels.append((slot, sel))
                    self.hists[slot] = Histogram()
                elif sel.name == "request.latency":
                    self.request_sels.append((slot, sel))
                    self.hists[slot] = Histogram()
                elif sel.name in GAUGE_METRICS or sel.name.startswith("state."):
                    continue
                else:
                    self.by_kind.setdefault(sel.name, []).append((slot, sel))
                    self.counters[slot] = 0
        # The window the metrics come from, as [start, end] spans of virtual time (end None = still
        # open): `during: [from, to]`, or every span in which the named fault was active. Every
        # aggregate honours it: counted events by their time, sampled gauges by their sample time,
        # state by its value at the last sample inside the window.
        self.windowed = spec.during is not None
        self.spans: list[list[int | None]] = []
        self.fault_window: str | None = None
        if isinstance(spec.during, list):
            self.spans.append([spec.during[0], spec.during[1]])
        elif isinstance(spec.during, str):
            self.fault_window = spec.during.removeprefix("fault:")
        self.state_slots = [i for i, agg in enumerate(self.aggs) if agg.selector.name.startswith("state.")]
        self.state_seen: dict[int, float | None] | None = None
        self.violation: tuple[int, float | None, float | None] | None = None
        self.duration_valued = any(getattr(n, "unit_kind", None) == "duration" for n in _numbers(self.assertion)) \
            or any(a.selector.name in (*LATENCY_METRICS, "request.latency") and a.func != "count" for a in self.aggs)
        self.ever_true = False
        self.last_eval: tuple[bool | None, float | None, float | None] = (None, None, None)

    def in_window(self, t: int) -> bool:
        """True when virtual time `t` lies in the window (always, without one)."""
        if not self.windowed:
            return True
        for start, end in self.spans:
            if start <= t and (end is None or t <= end):  # type: ignore[operator]
                return True
        return False

    def _in_window(self, ev: TraceEvent) -> bool:
        return self.in_window(ev.t)

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        by_kind = self.by_kind
        counters = self.counters
        fw = self.fault_window
        for ev in batch:
            kind = ev.kind
            if fw is not None and ev.actor == fw:
                spans = self.spans
                if kind == "fault_started" and not (spans and spans[-1][1] is None):
                    spans.append([ev.t, None])
                elif kind == "fault_ended" and spans and spans[-1][1] is None:
                    spans[-1][1] = ev.t
            sels = by_kind.get(kind)
            if sels is not None and self._in_window(ev):
                for slot, sel in sels:
                    if sel.matches(ev):
                        counters[slot] += 1
            if kind == "handled" and self.latency_sels and ev.data is not None and not ev.data.get("duplicate") \
                    and self._in_window(ev):
                labels = {"consumer": ev.actor, "channel": ev.channel, "tag": ev.tag, "key": ev.key,
                          "instance": ev.instance}
                for slot, sel in self.latency_sels:
                    if sel.matches_labels(labels):
                        v = ev.data.get("latency" if sel.name == "latency.e2e" else "processing")
                        if v is not None:
                            self.hists[slot].add(v)
            elif kind == "reply_received" and self.request_sels and ev.data is not None and self._in_window(ev):
                labels = {"pattern": ev.actor, "consumer": ev.actor, "channel": ev.channel}
                for slot, sel in self.request_sels:
                    if sel.matches_labels(labels) and "latency" in ev.data:
                        self.hists[slot].add(ev.data["latency"])

    def _state_values(self, sel: Any) -> list[Any] | Any:
        parts = sel.name.split(".")[1:]
        if not parts:
            return None
        node: Any = self.view.state_of(parts[0])
        for p in parts[1:]:
            if isinstance(node, Mapping):
                node = node.get(p)
            else:
                return None
        return node

    def resolve(self, agg: Aggregate) -> float | None:
        """The current value of one aggregate (None = no data)."""
        i = self.aggs.index(agg)
        if agg.selector.name.startswith("state.") and self.windowed:
            # state has no history: its value at the last sample taken inside the window
            return None if self.state_seen is None else self.state_seen.get(i)
        return self._resolve_now(agg, i)

    def _resolve_now(self, agg: Aggregate, i: int) -> float | None:
        func = agg.func
        sel = agg.selector
        slot = i * 4
        name = sel.name
        if name.startswith("state."):
            value = self._state_values(sel)
            if value is None:
                return None
            if func == "len":
                return float(len(value)) if hasattr(value, "__len__") else None
            items = list(value.values()) if isinstance(value, Mapping) else (value if isinstance(value, list)
                                                                            else [value])
            nums = [float(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
            if func == "sum":
                return float(sum(nums))
            if not nums:
                return None
            return {"max": max, "min": min, "last": lambda xs: xs[-1],
                    "avg": lambda xs: sum(xs) / len(xs)}.get(func, lambda xs: None)(nums)
        if name in GAUGE_METRICS:
            labels = {f.label: f.value for f in sel.filters if f.op == "="}
            values = self.metrics.gauge(name, labels, self.in_window if self.windowed else None,
                                        peaks=func == "max")
            if not values:
                return None
            if func == "max":
                return max(values)
            if func == "min":
                return min(values)
            if func == "avg":
                return sum(values) / len(values)
            if func == "last":
                return values[-1]
            if func == "p":
                h = Histogram()
                for v in values:
                    h.add(v)
                return h.percentile(agg.q or 50)
            return None
        if slot in self.hists:
            h = self.hists[slot]
            if func == "count":
                return float(h.count)
            if h.count == 0:
                return None
            if func == "p":
                return h.percentile(agg.q or 50)
            return {"max": h.max, "min": h.min, "avg": h.mean(), "last": h.last, "sum": h.total}.get(func)
        if func == "count":
            return float(self.counters.get(slot, 0))
        if func == "per_sec":
            span = self._span()
            return self.counters.get(slot, 0) / span if span else None
        if func == "ratio":
            a = self.counters.get(slot, 0)
            b = self.counters.get(slot + 1, 0)
            return a / b if b else None
        return None

    def _span(self) -> float:
        """Seconds of the window elapsed so far (of the run, without one)."""
        now = self.view.now
        if not self.windowed:
            return now / 1e9
        total = 0
        for start, end in self.spans:
            stop = now if end is None else min(now, end)  # type: ignore[type-var]
            total += max(0, stop - start)  # type: ignore[operator]
        return total / 1e9

    def _see_state(self, now: int) -> None:
        """Remember the state aggregates at a sample inside the window."""
        if self.state_slots and self.windowed and self.in_window(now):
            self.state_seen = {i: self._resolve_now(self.aggs[i], i) for i in self.state_slots}

    def _shown(self, left: float | None, right: float | None) -> str:
        """What was observed, as a sentence with units: `p99 924 ms, limit 5 s`, `count 112, must be > 0`."""
        cmp = self.assertion.compare
        lname = _side_name(cmp.left)
        lv, rv = measure.pair(left, right, durations=self.duration_valued)
        if isinstance(cmp.right, Number):
            bound = {"<": "limit", "<=": "limit", ">": "must be >", ">=": "must be ≥", "==": "expected",
                     "!=": "must differ from"}.get(cmp.op, cmp.op)
            return f"{lname} {lv}, {bound} {rv}"
        return f"{_side_words(cmp.left, lv)}, {_side_words(cmp.right, rv)} (needs {cmp.op})"

    def evaluate(self) -> tuple[bool | None, float | None, float | None]:
        """Evaluate the assertion now."""
        self.last_eval = self.assertion.evaluate(self.resolve)
        return self.last_eval

    def final(self, now: int, drain: str) -> dict[str, Any]:
        """An assertion applies `when` and `within` itself (in `tick` and `result`)."""
        return self.result(now, drain)

    def tick(self, now: int) -> None:
        self._see_state(now)
        when = self.spec.when
        if when == "end":
            return
        if not self.in_window(now):
            return  # a sample outside the window is not judged
        passed, left, right = self.evaluate()
        if when == "always" and passed is False and self.violation is None:
            self.violation = (now, left, right)
        if when == "eventually" and passed and (self.spec.within is None or now <= self.spec.within):
            self.ever_true = True

    def result(self, now: int, drain: str) -> dict[str, Any]:
        text = self.spec.that
        self._see_state(now)
        passed, left, right = self.evaluate()
        shown = self._shown(left, right)
        when = self.spec.when
        if when == "always":
            if self.violation is not None:
                t, lv, rv = self.violation
                return self.out("fail", f"{text} at every sample",
                                f"false at {measure.duration(t)}: {self._shown(lv, rv)}")
            if passed is None:
                return self.out("fail" if not self.spec.allow_unknown else "unknown", f"{text} at every sample",
                                "no data to judge" if not self.spec.allow_unknown else "no data")
            return self.out("pass", f"{text} at every sample", f"held throughout; at the end {shown}")
        if self.spec.within is not None and when != "eventually":
            return self.out("unknown", text, f"`within` applies to `when: eventually`; it was not honoured "
                                             f"here ({shown})")
        if when == "eventually":
            within = self.spec.within
            if self.ever_true or (passed and (within is None or now <= within)):
                return self.out("pass", f"{text} eventually", f"held; at the end {shown}")
            if passed and within is not None:
                return self.out("fail", f"{text} eventually within {format_duration(within)}",
                                f"held only after {measure.duration(within)}; at the end {shown}")
            if passed is None:
                return self.out("unknown", f"{text} eventually", "no data to judge")
            return self.out("fail", f"{text} eventually", f"never held; at the end {shown}")
        if passed is None:
            return self.out("unknown", text, f"no data to judge ({shown})")
        return self.out("pass" if passed else "fail", text, shown)


def _side_name(node: Any) -> str:
    """How a side of an assertion reads in a sentence: `p99`, `count`, `max`, or `value` for arithmetic."""
    if isinstance(node, Aggregate):
        return f"p{node.q:g}" if node.func == "p" and node.q is not None else node.func
    return "value"


def _side_words(node: Any, value: str) -> str:
    """One side of a comparison of two measures, named by what it measures: `1728 handled`, `max of
    latency.e2e 1.5 s` (`count 1728, count 1728` told nothing)."""
    if isinstance(node, Aggregate) and node.selectors:
        what = node.selectors[0].name
        if node.func == "count":
            return f"{value} {what}"
        return f"{_side_name(node)} of {what} {value}"
    return f"{_side_name(node)} {value}"


def _numbers(assertion: Any) -> list[Any]:
    out = []
    stack = [assertion.compare.left, assertion.compare.right]
    while stack:
        n = stack.pop()
        if hasattr(n, "unit_kind"):
            out.append(n)
        for attr in ("left", "right", "operand"):
            if hasattr(n, attr):
                stack.append(getattr(n, attr))
    return out
