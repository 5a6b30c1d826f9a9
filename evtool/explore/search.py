"""The search: a swarm over seeds, each seed's fault-free run read for its interesting points,
then runs with up to `max_faults` faults placed at those points (docs/explore.md).

Deterministic for a given seed and a budget in runs: every choice comes from one
`random.Random(seed)`, and every run is deterministic. A wall-time budget stops wherever the
clock says, so only a budget in runs repeats exactly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evtool.explore.candidate import Candidate, Intervention, Runner, Tried, failed_checks, ns_text
from evtool.explore.points import FaultPoint, PointCollector, durations
from evtool.scenario import models as m

CONSUMER_FAULTS = frozenset({"crash", "restart", "pause", "slow"})
CHANNEL_FAULTS = frozenset({"duplicate", "drop"})
FAULTY_RUNS_PER_SEED = 24
"""Runs with faults tried on one seed's points before the next seed (at a capped scope)."""
FAULTY_RUNS_FULL_SIZE = 6
"""The same at the scenario's own size: those runs are the slowest, so the search moves on sooner."""
CHOICE_RUNS_PER_SEED = 6
"""Fault-free runs with the broker's choices drawn (`explore.schedule`) tried on each seed, when the profile
allows any (`core.broker_choices.BROKER_CHOICES`: which ready consumer gets the next message, the order of
leases ending together)."""
SCOPES = (None, 10, 40, 160)
"""Messages per producer in successive rounds (None: as the scenario says). Most schedule bugs show with
few messages (the small scope hypothesis), and small runs are fast, so most rounds cap the producers."""


@dataclass(frozen=True)
class Budget:
    """How long to search: a number of runs, or wall seconds."""

    runs: int | None = None
    seconds: float | None = None

    @staticmethod
    def parse(text: str) -> Budget:
        """`60s`, `2m`, `500 runs`, `500runs` or `500`; ValueError with the reason otherwise."""
        t = text.strip().lower().replace("_", "")
        for suffix in (" runs", "runs", " run", "run"):
            if t.endswith(suffix):
                t = t[: -len(suffix)].strip()
                if not t.isdigit() or int(t) < 1:
                    raise ValueError(f"{text!r}: expected a positive number of runs, e.g. 500 runs")
                return Budget(runs=int(t))
        if t.isdigit():
            if int(t) < 1:
                raise ValueError(f"{text!r}: expected at least one run")
            return Budget(runs=int(t))
        from evtool.scenario.units import UnitError, parse_duration

        try:
            ns = parse_duration(t, allow_zero=False)
        except UnitError as exc:
            raise ValueError(f"{text!r}: expected a duration (60s, 2m) or a number of runs (500 runs): {exc}") \
                from None
        return Budget(seconds=ns / 1e9)

    def describe(self) -> str:
        """`500 runs` or `60s`."""
        return f"{self.runs} runs" if self.runs is not None else f"{self.seconds:g}s"


@dataclass
class Progress:
    """What the search has covered so far (the report's "how far the search got")."""

    runs: int = 0
    seeds: int = 0
    faulty_runs: int = 0
    points_seen: int = 0
    points_tried: set[tuple[int, int, str]] = field(default_factory=set)
    """Distinct (seed round, point, fault kind) placed: a point of one seed's run is not a point of another's."""
    truncated_runs: int = 0
    """Fault-free runs with more points than the collector keeps (only their earliest were seen)."""
    ties_seen: int = 0
    """Instants where events of different actors fell together in the fault-free runs (choice points)."""
    kinds_tried: dict[str, int] = field(default_factory=dict)
    schedules_varied: int = 0
    """Runs with the order of simultaneous events of different actors varied (`explore.schedule`)."""
    broker_choices: tuple[str, ...] = ()
    """The broker choices the profile allows explore to vary (empty: none, e.g. RabbitMQ's round-robin)."""
    choice_runs: int = 0
    """Fault-free runs with the broker's choices drawn."""
    choice_points: int = 0
    """Broker choice points met in the runs with choices (a delivery with two or more ready consumers, two or
    more leases ending at one instant)."""
    choices_varied: int = 0
    """Of those, the points where the drawn choice differed from the plain broker's."""
    wall_s: float = 0.0
    digests: int = 0


class Explorer:
    """Searches runs of one scenario for one in which an expectation fails."""

    def __init__(self, runner: Runner, *, check: str | None, seed: int, budget: Budget,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.runner = runner
        self.check = check
        self.rng = random.Random(seed)
        self.budget = budget
        self.on_progress = on_progress
        base = runner.loaded()
        self.scenario: m.Scenario = base.model
        spec = self.scenario.explore or m.Explore()
        self.vocabulary = list(spec.faults)
        self.max_faults = spec.max_faults
        self.base_overrides: tuple[tuple[str, Any], ...] = ()
        if spec.scripted_faults == "off":
            self.base_overrides = tuple((f"faults[{i}].enabled", False)
                                        for i, f in enumerate(self.scenario.faults) if f.enabled)
        self.durations = durations(self.scenario)
        self.progress = Progress()
        from evtool.core.broker_choices import allowed_choices
        from evtool.sim.plan import profile_for

        self.progress.broker_choices = tuple(sorted(allowed_choices(profile_for(base))))
        self._t0 = 0.0
        self.stopped = False

    # ------------------------------------------------------------------ budget

    def _spent(self) -> bool:
        if self.stopped:
            return True
        if self.budget.runs is not None:
            return self.progress.runs >= self.budget.runs
        return time.monotonic() - self._t0 >= (self.budget.seconds or 0)

    def _tick(self) -> None:
        p = self.progress
        p.wall_s = time.monotonic() - self._t0
        p.digests = len(self.runner.digests)
        if self.on_progress is not None:
            self.on_progress(p)

    # ------------------------------------------------------------------ the search

    def search(self) -> Tried | None:
        """Run until a run fails the check (returned) or the budget is spent (None)."""
        self._t0 = time.monotonic()
        first_seed = self.scenario.run.seed
        rounds = 0
        while not self._spent():
            seed = first_seed if rounds == 0 else self.rng.randrange(1, 2**31)
            scope = SCOPES[rounds % len(SCOPES)]
            rounds += 1
            base = Candidate(seed, self.base_overrides + self._scope(scope))
            collector = PointCollector(self.runner.loaded(base.overrides).model)
            found = self._try(base, collector)
            self.progress.seeds += 1
            points = collector.points
            self.progress.points_seen += len(points)
            self.progress.truncated_runs += collector.truncated
            self.progress.ties_seen += collector.ties
            if found is not None:
                return found
            found = self._vary_choices(base)
            if found is not None:
                return found
            if not points or self.max_faults == 0 or not self.vocabulary:
                continue
            for _ in range(FAULTY_RUNS_FULL_SIZE if scope is None else FAULTY_RUNS_PER_SEED):
                if self._spent():
                    break
                ivs = self._place(points, rounds)
                if not ivs:
                    break
                cand = base.with_(interventions=tuple(sorted(ivs, key=lambda iv: iv[0])))
                if self.rng.random() < 0.5:  # half the runs also vary the order of simultaneous events
                    cand = cand.with_(overrides=(*cand.overrides, ("explore.schedule", self.rng.randrange(1, 2**31))))
                    self.progress.schedules_varied += 1
                found = self._try(cand)
                self.progress.faulty_runs += 1
                if found is not None:
                    return found
        return None

    def _vary_choices(self, base: Candidate) -> Tried | None:
        """Fault-free runs of `base` with the broker's allowed choices drawn from a schedule number (none when
        the profile allows no choice, so the search of such a scenario is as it was)."""
        if not self.progress.broker_choices:
            return None
        for _ in range(CHOICE_RUNS_PER_SEED):
            if self._spent():
                break
            cand = base.with_(overrides=(*base.overrides, ("explore.schedule", self.rng.randrange(1, 2**31))))
            self.progress.schedules_varied += 1
            self.progress.choice_runs += 1
            found = self._try(cand)
            if found is not None:
                return found
        return None

    def _scope(self, cap: int | None) -> tuple[tuple[str, Any], ...]:
        """Overrides capping every producer at `cap` messages (those with a smaller count keep it)."""
        if cap is None:
            return ()
        out = []
        for name, p in self.scenario.producers.items():
            count = getattr(p, "count", None)
            if count is None or count > cap:
                out.append((f"producers.{name}.count", cap))
        return tuple(out)

    def _try(self, cand: Candidate, listener: Any = None) -> Tried | None:
        outcome = self.runner.run(cand, listener)
        self.progress.runs += 1
        points, varied = self.runner.last_choices
        self.progress.choice_points += points
        self.progress.choices_varied += varied
        self._tick()
        failed = failed_checks(outcome, self.check, self.runner, cand)
        return Tried(cand, outcome, failed) if failed else None

    def _place(self, points: list[FaultPoint], round_: int = 0) -> list[Intervention]:
        """Up to `max_faults` faults from the vocabulary, each at a point where it can hit something.

        The kind of point (handling, retry, publish, saga_step, request, rebalance) is drawn first, then a
        point of that kind: rare kinds (a retry, a rebalance) are as likely as the thousands of handlings."""
        rng = self.rng
        by_where: dict[str, list[int]] = {}
        for i, p in enumerate(points):
            by_where.setdefault(p.where, []).append(i)
        wheres = sorted(by_where)
        out: list[Intervention] = []
        n = rng.randint(1, self.max_faults)
        for _ in range(n * 4):
            if len(out) == n:
                break
            kind = rng.choice(self.vocabulary)
            idx = rng.choice(by_where[rng.choice(wheres)])
            kind = next((k for k in points[idx].faults if k in self.vocabulary), kind)  # the point's own kind
            iv = self.fault_at(kind, points[idx], rng)
            if iv is None:
                continue
            out.append(iv)
            self.progress.points_tried.add((round_, idx, kind))
            self.progress.kinds_tried[kind] = self.progress.kinds_tried.get(kind, 0) + 1
        return out

    def fault_at(self, kind: str, p: FaultPoint, rng: random.Random, length: int | None = None) -> \
            Intervention | None:
        """The fault `kind` at point `p` (None when nothing there is a target for it)."""
        length = length if length is not None else rng.choice(p.lengths or self.durations)
        if kind in CONSUMER_FAULTS:
            if not p.consumers:
                return None
            target = rng.choice(p.consumers)
            spec: dict[str, Any] = {"action": kind, "target": target}
            if kind == "crash":
                spec["restart_after"] = ns_text(length)
            elif kind == "pause":
                spec["for"] = ns_text(length)
            elif kind == "slow":
                spec["for"] = ns_text(length)
                spec["latency_factor"] = 20
            return (p.t, "fault", spec)
        if kind in CHANNEL_FAULTS:
            if p.channel is None:
                return None
            start = p.t
            return (start, "fault", {"action": kind, "target": p.channel, "probability": 1.0,
                                     "scope": "per_message", "for": ns_text(max(p.window, 1))})
        if kind == "broker_restart":
            return (p.t, "fault", {"action": "broker_restart", "target": "broker", "downtime": ns_text(length)})
        return None
