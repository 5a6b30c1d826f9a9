"""Freezing an engine's state into the views of a `Snapshot` (the view types are in evtool/sim/snapshot.py).

The host calls these a few dozen times a second at most, on the engine's
thread; the UI only ever sees the frozen result. `RateMeter` turns counters
into per-second rates over the last virtual second.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from evtool.scenario import models as m
from evtool.sim.consumer import consumer_prefetch
from evtool.sim.engine import Engine
from evtool.sim.snapshot import ChannelView, CheckView, ConsumerView, InstanceView, ProducerView

Rates = tuple[dict[str, tuple[float, float]], dict[str, float], dict[str, float]]
"""(channel -> (in, out), producer -> sent, consumer -> processed), each per virtual second."""

_Sample = tuple[int, dict[str, tuple[int, int]], dict[str, int], dict[str, int]]


class RateMeter:
    """Rates over (about) the last virtual second, from counters sampled at each snapshot."""

    def __init__(self) -> None:
        self._samples: deque[_Sample] = deque(maxlen=32)
        self._rates: Rates = ({}, {}, {})

    def clear(self) -> None:
        """Forget the samples (a rebuilt engine starts its counters again)."""
        self._samples.clear()

    def measure(self, eng: Engine, scenario: m.Scenario) -> Rates:
        """Sample the counters now; the rates since the newest sample at least a virtual second old."""
        t = eng.now
        chans = {n: (eng.broker.stats(n).published, eng.broker.stats(n).acked)
                 for n, c in scenario.channels.items() if not isinstance(c, m.RouterChannel)}
        prods: dict[str, int] = {}
        for p in eng.producers:  # a producer's instances add up
            prods[p.name] = prods.get(p.name, 0) + p.sent
        cons = {n: sum(i.processed for i in c.instances) for n, c in eng.consumers.items()}
        samples = self._samples
        if samples and samples[-1][0] == t:
            return self._rates
        samples.append((t, chans, prods, cons))
        base = samples[0]
        for s in samples:
            if t - s[0] >= 1_000_000_000:
                base = s
            else:
                break
        dt = (t - base[0]) / 1e9
        if dt <= 0:
            return self._rates
        self._rates = (
            {n: ((v[0] - base[1].get(n, (0, 0))[0]) / dt, (v[1] - base[1].get(n, (0, 0))[1]) / dt)
             for n, v in chans.items()},
            {n: (v - base[2].get(n, 0)) / dt for n, v in prods.items()},
            {n: (v - base[3].get(n, 0)) / dt for n, v in cons.items()},
        )
        return self._rates


def channel_health(role: str, s: Any, consumers: list[Any], rate_in: float, rate_out: float) -> str:
    """ok | warn | stall | idle for a channel's row: dead letters waiting, no live consumer, a growing backlog."""
    if role == "dead_letter":
        return "warn" if s.ready else "ok"
    live = [i for c in consumers for i in c.instances if i.state == "running"]
    if consumers and not live and s.depth > 0:
        return "stall"
    if s.depth > 50 and rate_in > rate_out * 1.2:
        return "warn"
    if not consumers and s.ready > 0:
        return "idle"
    return "ok"


def channel_views(eng: Engine, sc: m.Scenario, rates: dict[str, tuple[float, float]]) -> tuple[ChannelView, ...]:
    """One row per declared channel, in scenario order."""
    consumers_of: dict[str, list[Any]] = {}
    for c in eng.consumers.values():
        consumers_of.setdefault(c.spec.from_, []).append(c)
    channels = []
    for name, spec in sc.channels.items():
        if isinstance(spec, m.RouterChannel):
            channels.append(ChannelView(name=name, kind=spec.kind, role="router"))
            continue
        s = eng.broker.stats(name)
        rin, rout = rates.get(name, (0.0, 0.0))
        series = eng.metrics.depth.get(name, [])[-40:]
        role = getattr(spec, "role", "normal")
        health = channel_health(role, s, consumers_of.get(name, []), rin, rout)
        channels.append(ChannelView(
            name=name, kind=spec.kind, role=role, published=s.published, ready=s.ready,
            in_flight=s.in_flight, delayed=s.delayed, acked=s.acked, dead_lettered=s.dead_lettered,
            expired=s.expired, dropped=s.dropped, depth=s.depth, rate_in=rin, rate_out=rout,
            depth_series=tuple(p[1] + p[2] + p[3] for p in series), health=health))
    return tuple(channels)


def consumer_views(eng: Engine, rates: dict[str, float]) -> tuple[ConsumerView, ...]:
    """One row per consumer with its instances' states."""
    consumers = []
    for name, c in eng.consumers.items():
        prefetch = consumer_prefetch(c.spec, eng.profile)  # 0 = unlimited
        insts = []
        for inst in c.instances:
            state = inst.state
            if state == "running" and inst.busy:
                state = "busy"
            insts.append(InstanceView(consumer=name, index=inst.index, state=state,
                                      in_flight=len(inst.inflight), prefetch=prefetch,
                                      processed=inst.processed, failed=inst.failed, slow=inst.slow))
        down = [i for i in insts if i.state in ("crashed", "stopped")]
        odd = [i for i in insts if i.state == "paused" or i.slow != 1.0]
        health = "down" if insts and len(down) == len(insts) else ("warn" if down or odd else "ok")
        consumers.append(ConsumerView(
            name=name, channel=c.spec.from_, instances=tuple(insts),
            processed=sum(i.processed for i in insts), failed=sum(i.failed for i in insts),
            rate=rates.get(name, 0.0), health=health))
    return tuple(consumers)


def producer_views(eng: Engine, rates: dict[str, float]) -> tuple[ProducerView, ...]:
    """One row per producer, its instances added up."""
    per_name: dict[str, list[Any]] = {}
    for p in eng.producers:
        per_name.setdefault(p.name, []).append(p)
    return tuple(ProducerView(name=n, channel=ps[0].spec.to, sent=sum(p.sent for p in ps),
                              rejected=sum(p.rejected for p in ps), rate=rates.get(n, 0.0))
                 for n, ps in per_name.items())


def check_views(results: list[dict[str, Any]]) -> tuple[CheckView, ...]:
    """The checks' live (or final) verdicts."""
    return tuple(CheckView(name=str(r.get("name")), status=str(r.get("status")),
                           expected=str(r.get("expected") or ""), observed=str(r.get("observed") or ""),
                           evidence=tuple(str(x) for x in (r.get("evidence") or ())))
                 for r in results)
