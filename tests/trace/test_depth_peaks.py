"""`max(queue.depth)` sees the most messages a queue held, not only what the samples caught.

The depth gauge is sampled (about 400 points a run); a queue that goes over its bound for a few
milliseconds between two samples used to pass `max(queue.depth) <= bound`. Each sample now also carries the
most ready since the sample before (`ChannelStats.ready_peak`, restarted by the engine after each sample),
and `max` reads that. The tests compare it with the depth recomputed from the trace, event by event.
"""

from __future__ import annotations

from typing import Any

import pytest

from evtool.core.delivery import ChannelStats
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.trace import metrics as metrics_mod
from evtool.transports.tally import ReadyCount

BURSTS = """
evtool: "1"
id: peaks
run: {seed: 3, duration: 10s, drain: {max: 10s}}
broker: {hop_latency: 0s}
channels:
  work: {kind: queue}
producers:
  burst: {to: work, start: 1013ms, arrival: {process: burst, size: 12, every: 3s}}
consumers:
  worker: {from: work, prefetch: 1, processing: 1ms}
expect:
  - {name: bounded, that: 'max(queue.depth{channel=work}) <= 5', when: always}
  - {name: bounded-at-end, that: 'max(queue.depth{channel=work}) <= 5'}
  - {name: first-burst, that: 'max(queue.depth{channel=work}) <= 5', during: [1s, 2s]}
  - {name: between, that: 'max(queue.depth{channel=work}) == 0', during: [2s, 4s]}
"""
"""Bursts of 12 at 1.013 s, 4.013 s and 7.013 s into a queue drained in 12 ms: the 25 ms samples see at most
a few of each burst."""


def _run(text: str) -> tuple[Engine, list[tuple[Any, ...]]]:
    rows: list[tuple[Any, ...]] = []
    eng = Engine(load_text(text, "t.yaml"), listeners=[rows.extend])
    eng.run()
    return eng, rows


def _true_peaks(rows: list[tuple[Any, ...]], channel: str) -> list[tuple[int, int]]:
    """(time, ready) after each event of a plain queue with no failures: published adds one, delivered takes one."""
    ready, out = 0, []
    for ev in rows:
        if ev[3] != channel:
            continue
        if ev[1] == "published":
            ready += 1
        elif ev[1] == "delivered":
            ready -= 1
        out.append((ev[0], ready))
    return out


def test_max_depth_is_the_most_ready_at_any_moment_not_at_the_samples() -> None:
    eng, rows = _run(BURSTS)
    truth = _true_peaks(rows, "work")
    sampled = eng.metrics.gauge("queue.depth", {"channel": "work"})
    peaks = eng.metrics.gauge("queue.depth", {"channel": "work"}, peaks=True)
    assert max(r for _, r in truth) == 12  # the burst lands before the first delivery takes one
    assert max(sampled) < 5  # the samples miss the bursts (the reason for this test)
    assert max(peaks) == max(r for _, r in truth)


def test_verdicts_and_windows_use_the_peaks() -> None:
    outcome = Engine(load_text(BURSTS, "t.yaml")).run()
    verdicts = {c["name"]: c for c in outcome.checks}
    assert verdicts["bounded"]["status"] == "fail", verdicts["bounded"]
    assert "max 12, limit 5" in verdicts["bounded"]["observed"]
    assert verdicts["bounded-at-end"]["status"] == "fail"
    assert verdicts["first-burst"]["status"] == "fail"  # the peak at 1.013 s is charged to the sample after it
    assert verdicts["between"]["status"] == "pass", verdicts["between"]


def test_a_peak_is_charged_to_the_interval_it_happened_in() -> None:
    """Each sample's peak is the most since the sample before (the engine restarts the peaks after each
    sample): the intervals around a burst have it, the quiet ones in between do not."""
    eng, rows = _run(BURSTS)
    series = eng.metrics.depth["work"]
    bursts = [t for t, _ in _true_peaks(rows, "work")]
    for (t0, *_), (t1, ready, _f, _d, peak) in zip(series, series[1:], strict=False):
        busy = any(t0 < t <= t1 for t in bursts)
        assert peak >= ready
        if not busy:
            assert peak == ready, (t0, t1, peak)


def test_thinning_keeps_the_peaks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long run halves its series when full; a kept point takes over its dropped neighbour's interval
    and its peak, so the run's maximum survives thinning."""
    monkeypatch.setattr(metrics_mod, "MAX_SERIES", 8)
    series = [(i, 0, 0, 0, 0) for i in range(7)]
    series.append((7, 1, 0, 0, 1))
    series[3] = (3, 0, 0, 0, 9)  # a peak on a point thinning drops
    metrics_mod.thin_depth(series)
    assert [p[0] for p in series] == [0, 2, 4, 6, 7]
    assert max(p[4] for p in series) == 9 and series[2] == (4, 0, 0, 0, 9)


TOPIC = """
evtool: "1"
id: topic-peaks
run: {seed: 3, duration: 4s, drain: {max: 10s}}
broker: {hop_latency: 0s}
channels:
  news: {kind: topic}
producers:
  burst: {to: news, start: 1013ms, arrival: {process: burst, size: 10, every: 2s}}
consumers:
  fast: {from: news, group: fast, prefetch: 1, processing: 1ms}
  slow: {from: news, group: slow, prefetch: 1, processing: 2ms}
"""


def test_a_topic_peak_is_a_lower_bound_never_above_the_truth() -> None:
    """A topic's depth sums its groups, whose peaks need not fall together: the peak reported is the
    largest group's (or the sum at the sample), never more than the sum ever was."""
    eng, rows = _run(TOPIC)
    ready: dict[str, int] = {"fast": 0, "slow": 0}
    most = 0
    for ev in rows:
        if ev[3] != "news":
            continue
        group = (ev[9] or {}).get("group")
        if ev[1] == "enqueued" and group in ready:
            ready[group] += 1
        elif ev[1] == "delivered" and group in ready:
            ready[group] -= 1
        most = max(most, sum(ready.values()))
    peaks = eng.metrics.gauge("queue.depth", {"channel": "news"}, peaks=True)
    assert 10 <= max(peaks) <= most, (max(peaks), most)


def test_ready_count_of_a_real_broker_run_keeps_its_total_and_peak() -> None:
    """The real-broker tally's ready bag (`Tally.ready`) keeps its total and its peak as copies come and go."""
    bag = ReadyCount()
    for mid in ("a", "b", "a"):
        bag[mid] += 1
    assert bag.total == 3 and bag.peak == 3
    bag["a"] -= 1
    del bag["b"]
    assert bag.total == 1 == sum(bag.values()) and bag.peak == 3
    bag.restart_peak()
    assert bag.peak == 1
    bag["c"] += 1
    assert bag.peak == 2


def test_channel_stats_says_when_a_peak_is_not_tracked() -> None:
    assert ChannelStats().ready_peak is None


def test_ready_count_total_is_the_sum_whichever_way_it_changes() -> None:
    # dict's own pop/popitem/clear/setdefault/update bypass __setitem__/__delitem__: the total must not drift
    bag = ReadyCount()
    bag.update(["a", "a", "b"])
    bag.update({"c": 2})
    assert bag.total == 5 == sum(bag.values()) and bag.peak == 5
    assert bag.pop("a") == 2 and bag.pop("zz", 0) == 0
    assert bag.total == 3 == sum(bag.values())
    bag.subtract({"c": 1})
    assert bag.setdefault("d", 4) == 4 and bag.setdefault("d", 9) == 4
    assert bag.total == 6 == sum(bag.values()) and bag.peak == 6
    mid, n = bag.popitem()
    assert bag.total == 6 - n == sum(bag.values())
    bag.clear()
    assert bag.total == 0 and not bag and bag.peak == 6
    bag.restart_peak()
    assert bag.peak == 0
    with pytest.raises(KeyError):
        bag.pop("nothing")


def test_a_publish_held_for_the_brokers_answer_raises_no_peak() -> None:
    """The runtime counts a publish ready as it issues it, then holds it as pending until the broker answers
    (Tally.hold): a queue at 3 ready whose next publish is refused never held 4, so the peak stays 3."""
    from evtool.transports.tally import Tally

    t = Tally()
    for mid in ("a", "b", "c"):
        t.ready[mid] += 1
    t.ready.restart_peak()
    t.ready["d"] += 1          # issued: counted ready for a moment ...
    t.hold("d")                # ... and held until the broker answers
    assert (t.ready.total, t.ready.peak) == (3, 3)
    t.take_pending("d")        # refused
    assert t.ready.peak == 3
    t.ready["e"] += 1          # issued and held, then stored: now the broker holds it ready
    t.hold("e")
    t.stored("e")
    assert (t.ready.total, t.ready.peak) == (4, 4)
