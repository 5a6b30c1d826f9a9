"""Metrics from the trace: counts by kind, latency, depth and lag over time, throughput.

Everything is bounded: counters per kind and channel, fixed-size latency
histograms, and gauge series sampled at a fixed virtual interval (a few
hundred points per run), whatever the run's length.

Metrics observe: they fold trace events and read a `RunView` (evtool.trace.view)
for the gauges, never the engine or an actor.
"""

from __future__ import annotations

import os
from collections import Counter, _count_elements  # type: ignore[attr-defined]
from collections.abc import Callable, Mapping, Sequence
from itertools import compress
from operator import itemgetter, methodcaller
from typing import Any

from evtool.scenario import models as m
from evtool.trace.histogram import Histogram
from evtool.trace.view import RunView

_kind = itemgetter(1)
_actor = itemgetter(4)
_data = itemgetter(9)
_get_latency = methodcaller("get", "latency")
_get_processing = methodcaller("get", "processing")
_is_handled = "handled".__eq__
_OTHER_MEASURED = frozenset({"failed", "reply_received"})


def _compiled_folds() -> tuple[Any, Any]:
    """The compiled `handled_values` and `fold_kinds` (`_foldfast`, built by `pip install .` where a C
    compiler is found), or Nones (a pure install, or EVTOOL_PURE=1): the same results either way."""
    if os.environ.get("EVTOOL_PURE"):
        return None, None
    try:
        from evtool.trace._foldfast import fold_kinds, handled_values
    except ImportError:
        return None, None
    return handled_values, fold_kinds


_handled_values, _fold_kinds = _compiled_folds()

MAX_SERIES = 2000
"""Most points kept per gauge series; older points are thinned by half when full."""


def thin(series: list[Any]) -> None:
    """Halve a full series in place, keeping every other point (and the last)."""
    if len(series) >= MAX_SERIES:
        last = series[-1]
        del series[1::2]
        if series[-1] is not last:
            series.append(last)


def thin_depth(series: list[tuple[int, int, int, int, int]]) -> None:
    """`thin` for a depth series, whose last field is the most ready since the point before: a kept point
    takes over the interval of the point dropped before it, and so the larger of the two peaks."""
    if len(series) >= MAX_SERIES:
        for i in range(2, len(series), 2):
            gone, kept = series[i - 1], series[i]
            if gone[4] > kept[4]:
                series[i] = (*kept[:4], gone[4])
        thin(series)


class Metrics:
    """Aggregates of one run's trace."""

    def __init__(self, scenario: m.Scenario) -> None:
        self.scenario = scenario
        self.counts: Counter[str] = Counter()
        self.processing = Histogram()
        self.latency_by_consumer: dict[str, Histogram] = {}
        self.request_latency = Histogram()
        self.handled_by_consumer: dict[str, int] = {}
        self.failed_by_consumer: dict[str, int] = {}
        self.duplicates = 0
        self.series_t: list[int] = []
        # per channel: (time, ready, in flight, delayed, the most ready since the point before)
        self.depth: dict[str, list[tuple[int, int, int, int, int]]] = {}
        self.lag: dict[str, list[tuple[int, int]]] = {}
        self.acked_at_sample: list[tuple[int, int]] = []
        self.handled_at_sample: list[tuple[int, dict[str, int]]] = []
        self.last_event_t = 0

    def consume(self, batch: Sequence[tuple[Any, ...]]) -> None:
        """Fold a batch of trace events in (TraceEvents, or the plain tuples `digest.as_rows` makes)."""
        if not batch:
            return
        if _fold_kinds is not None:  # the same in one C loop (a compiled build)
            handled, other = _fold_kinds(batch, self.counts, "handled", _OTHER_MEASURED)
            if handled and not self._handled_fast(handled):
                self._measure(handled)
            if other:
                self._measure(other)
            self.last_event_t = batch[-1][0]
            return
        kinds = list(map(_kind, batch))
        _count_elements(self.counts, kinds)  # Counter.update without its Python-level checks
        # only a few kinds carry measurements: filter at C speed, then look closer
        if "handled" in kinds:
            handled = list(compress(batch, map(_is_handled, kinds)))
            if not self._handled_fast(handled):
                self._measure(handled)
        # (two scans that compare interned strings at C speed are cheaper than one call per event)
        if "failed" in kinds or "reply_received" in kinds:
            self._measure(list(compress(batch, map(_OTHER_MEASURED.__contains__, kinds))))
        self.last_event_t = batch[-1][0]

    def _handled_fast(self, handled: list[tuple[Any, ...]]) -> bool:
        """Fold `handled` events at C speed when they are the common kind (one consumer, every event with
        its data, no duplicates); False (nothing folded) otherwise, for `_measure` to do it one by one."""
        actors = set(map(_actor, handled))
        if len(actors) != 1:
            return False
        if _handled_values is not None:
            values = _handled_values(handled)
            if values is None:
                return False
            processing, latencies = values
        else:
            datas = list(map(_data, handled))
            if None in datas:
                return False
            # A skipped duplicate's `handled` carries no processing time (consumer._handle) and every other
            # handling does: one pass finds both, without a separate `duplicate` lookup per event.
            processing = list(map(_get_processing, datas))
            if None in processing:
                return False
            latencies = list(map(_get_latency, datas))
            if None in latencies:
                latencies = [v for v in latencies if v is not None]
        a = actors.pop() or ""
        if latencies:
            h = self.latency_by_consumer.get(a)
            if h is None:
                h = self.latency_by_consumer[a] = Histogram()
            h.add_many(latencies)
        self.processing.add_many(processing)
        self.handled_by_consumer[a] = self.handled_by_consumer.get(a, 0) + len(handled)
        return True

    def _measure(self, events: list[tuple[Any, ...]]) -> None:
        # Values are gathered per histogram and added a batch at a time (`Histogram.add_many`), in
        # trace order: the same histograms as adding one by one, at a fraction of the cost.
        latencies: dict[str, list[int]] = {}
        processing: list[int] = []
        handled_by = self.handled_by_consumer
        for ev in events:
            kind = ev[1]
            if kind == "handled":
                data = ev[9]
                a = ev[4] or ""
                if data is not None:
                    if data.get("duplicate"):
                        self.duplicates += 1
                        continue
                    lat = data.get("latency")
                    if lat is not None:
                        values = latencies.get(a)
                        if values is None:
                            values = latencies[a] = []
                        values.append(lat)
                    proc = data.get("processing")
                    if proc is not None:
                        processing.append(proc)
                handled_by[a] = handled_by.get(a, 0) + 1
            elif kind == "failed":
                a = ev[4] or ""
                self.failed_by_consumer[a] = self.failed_by_consumer.get(a, 0) + 1
            elif ev[9] is not None and "latency" in ev[9]:
                self.request_latency.add(ev[9]["latency"])
        by_consumer = self.latency_by_consumer
        for a, values in latencies.items():
            h = by_consumer.get(a)
            if h is None:
                h = by_consumer[a] = Histogram()
            h.add_many(values)
        self.processing.add_many(processing)

    @property
    def latency(self) -> Histogram:
        """End-to-end latency over every consumer."""
        total = Histogram()
        for h in self.latency_by_consumer.values():
            total.merge(h)
        return total

    def sample(self, now: int, view: RunView) -> None:
        """Record the gauges (depth per channel, lag per group) at virtual time `now`.

        A channel's point carries, besides its counts now, the most ready messages it held since the
        point before (`ChannelStats.ready_peak`, which the engine restarts after each sample), so that
        `max(queue.depth)` sees a queue that went over its bound between two samples."""
        if self.series_t and self.series_t[-1] == now:
            # a second sample at the same instant: only a peak reached since the first one is new
            for name, series in self.depth.items():
                peak = view.channel_stats(name).ready_peak
                if series and peak is not None and peak > series[-1][4]:
                    series[-1] = (*series[-1][:4], peak)
            return
        self.series_t.append(now)
        thin(self.series_t)
        for name, spec in self.scenario.channels.items():
            if isinstance(spec, m.RouterChannel):
                continue
            s = view.channel_stats(name)
            series = self.depth.setdefault(name, [])
            peak = s.ready_peak
            series.append((now, s.ready, s.in_flight, s.delayed, s.ready if peak is None else max(peak, s.ready)))
            thin_depth(series)
            if isinstance(spec, m.LogChannel):
                for group in self._groups_of(name):
                    st = view.group_lag(name, group)
                    if st is None:
                        continue
                    # records not yet handed out, plus those handed out and not yet acknowledged
                    ls = self.lag.setdefault(group, [])
                    ls.append((now, st.lag + st.in_flight))
                    thin(ls)
        self.acked_at_sample.append((now, self.counts.get("acked", 0)))
        thin(self.acked_at_sample)
        self.handled_at_sample.append((now, dict(self.handled_by_consumer)))
        thin(self.handled_at_sample)

    def _groups_of(self, channel: str) -> list[str]:
        groups = []
        for cname, c in self.scenario.consumers.items():
            if c.from_ == channel:
                g = c.group or cname
                if g not in groups:
                    groups.append(g)
        return groups

    def gauge(self, metric: str, labels: dict[str, Any], within: Callable[[int], bool] | None = None,
              peaks: bool = False) -> list[float]:
        """The sampled values of a gauge metric (queue.depth, in_flight, consumer.lag, throughput) matching
        labels; with `within`, only the samples taken at a virtual time it accepts (for throughput, the
        intervals whose both ends it accepts). With `peaks`, queue.depth gives at each sample the most
        ready since the sample before instead of the count at the sample (what `max` needs)."""
        out: list[float] = []
        if metric in ("queue.depth", "in_flight"):
            channel = labels.get("channel")
            idx = 2 if metric == "in_flight" else 4 if peaks else 1
            for name, series in self.depth.items():
                if channel is not None and name != channel:
                    continue
                out.extend(float(p[idx]) for p in series if within is None or within(p[0]))
        elif metric == "throughput":
            # messages handled per second between consecutive samples (for one consumer, or all)
            consumer = labels.get("consumer")
            pts = self.handled_at_sample
            for (t0, c0), (t1, c1) in zip(pts, pts[1:], strict=False):
                if t1 <= t0 or (within is not None and not (within(t0) and within(t1))):
                    continue
                if consumer is None:
                    n = sum(c1.values()) - sum(c0.values())
                else:
                    n = c1.get(consumer, 0) - c0.get(consumer, 0)
                out.append(n / ((t1 - t0) / 1e9))
        elif metric == "consumer.lag":
            group = labels.get("group") or labels.get("consumer")
            for g, series in self.lag.items():
                if group is None or g == group:
                    out.extend(float(v) for t, v in series if within is None or within(t))
        return out

    def summary(self, view: RunView) -> dict[str, Any]:
        """A plain-data summary for reports and the run store."""

        def pct(h: Histogram) -> dict[str, float | None]:
            return {
                "p50": _ms(h.percentile(50)),
                "p90": _ms(h.percentile(90)),
                "p99": _ms(h.percentile(99)),
                "max": _ms(h.max),
                "mean": _ms(h.mean()),
                "count": h.count,
            }

        channels: dict[str, Any] = {}
        for name, spec in self.scenario.channels.items():
            if isinstance(spec, m.RouterChannel):
                continue
            s = view.channel_stats(name)
            channels[name] = {k: getattr(s, k) for k in (
                "published", "ready", "in_flight", "delayed", "acked", "dead_lettered", "expired", "dropped")
                if hasattr(s, k)}
            channels[name]["kind"] = spec.kind
        consumers: dict[str, Any] = {}
        for name in view.consumer_names():
            consumers[name] = {
                "handled": self.handled_by_consumer.get(name, 0),
                "failed": self.failed_by_consumer.get(name, 0),
                "instances": view.live_instances(name),
                "latency_ms": pct(self.latency_by_consumer.get(name, Histogram())),
                "state": _jsonable(view.state_of(name) or {}),
            }
        now = view.now
        seconds = max(now, 1) / 1e9
        return {
            "counts": dict(sorted(self.counts.items())),
            "published": self.counts.get("published", 0),
            "acked": self.counts.get("acked", 0),
            "dead_lettered": self.counts.get("dead_lettered", 0),
            "retries": self.counts.get("retry_scheduled", 0),
            "redelivered": self.counts.get("redelivered", 0),
            "duplicates_skipped": self.duplicates,
            "latency_ms": pct(self.latency),
            "processing_ms": pct(self.processing),
            "throughput_per_s": round(self.counts.get("acked", 0) / seconds, 3),
            "channels": channels,
            "consumers": consumers,
            "virtual_s": round(now / 1e9, 6),
        }


def _ms(ns: float | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
