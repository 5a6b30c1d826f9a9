"""Shrinking: a failing run reduced to the fewest faults, the fewest messages and the earliest
instants that still fail the same check (as hypothesis and Jepsen shrink).

Each pass tries smaller candidates and keeps one only when it fails the same check; a pass that
keeps something is repeated, so the result is a local minimum: removing any one fault, or
moving any fault to an earlier point tried, makes the run pass. It is not the global minimum.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evtool.explore.candidate import Candidate, Intervention, Runner, Tried, failed_checks, ns_text
from evtool.explore.points import FaultPoint, PointCollector
from evtool.scenario.errors import ScenarioError
from evtool.scenario.units import parse_duration

SCOPES = (10, 40, 160)
"""The message counts `_smaller_scope` tries, smallest first."""
SCOPE_SEEDS = 8
"""Seeds tried per scope (the failing run's own seed first)."""
SCOPE_RUNS = 600
"""At most this many runs in `_smaller_scope`."""


@dataclass
class ShrinkStats:
    """What shrinking did."""

    runs: int = 0
    faults_before: int = 0
    messages_before: int = 0
    messages_after: int = 0
    scripted_disabled: tuple[str, ...] = ()
    scope_runs: int = 0
    seed_before: int | None = None
    """The seed of the failing run the search found (the counterexample's may be another: `_smaller_scope`)."""
    """Runs of the smaller-scope pass (counted in `runs`, not against `max_runs`: it has its own cap)."""


class Shrinker:
    """Reduces a failing `Tried` while it keeps failing `check`."""

    def __init__(self, runner: Runner, tried: Tried, check: str, *, max_runs: int = 400,
                 deadline: float | None = None, on_run: Callable[[int], None] | None = None) -> None:
        self.runner = runner
        self.best = tried
        self.check = check
        self.max_runs = max_runs
        self.deadline = deadline
        self.on_run = on_run
        self.stats = ShrinkStats(faults_before=len(tried.candidate.interventions), seed_before=tried.candidate.seed)
        self._in_scope = False

    # ------------------------------------------------------------------ helpers

    def _out_of_budget(self) -> bool:
        return self.stats.runs - self.stats.scope_runs >= self.max_runs or (self.deadline is not None and time.monotonic() > self.deadline)

    def _fails(self, cand: Candidate) -> bool:
        """Run `cand`; keep it as the best when it fails the same check."""
        if self._out_of_budget() or cand.key() == self.best.candidate.key():
            return False
        try:
            outcome = self.runner.run(cand)
        except ScenarioError:
            return False  # an override this scenario cannot take (a count on a `once` producer, ...)
        self.stats.runs += 1
        self.stats.scope_runs += self._in_scope
        if self.on_run is not None:
            self.on_run(self.stats.runs)
        failed = failed_checks(outcome, self.check, self.runner, cand)
        if failed:
            self.best = Tried(cand, outcome, failed)
            return True
        return False

    def _published(self, cand: Candidate) -> dict[str, int]:
        col = PointCollector(self.runner.loaded(cand.overrides).model)
        self.runner.run(cand, col)
        return col.published

    # ------------------------------------------------------------------ passes

    def shrink(self) -> Tried:
        """Every pass, repeated while any of them makes progress."""
        self.stats.messages_before = sum(self._published(self.best.candidate).values())
        changed = True
        rounds = 0
        while changed and not self._out_of_budget() and rounds < 4:
            rounds += 1
            changed = self._drop_faults()
            changed = self._drop_schedule() or changed
            changed = self._drop_scripted() or changed
            if rounds == 1:
                changed = self._smaller_scope() or changed
            changed = self._fewer_messages() or changed
            changed = self._earlier() or changed
            changed = self._shorter() or changed
        self.stats.messages_after = sum(self._published(self.best.candidate).values())
        return self.best

    def _drop_faults(self) -> bool:
        """Fewest faults: remove each intervention that the failure does not need."""
        changed = False
        i = 0
        while i < len(self.best.candidate.interventions):
            ivs = list(self.best.candidate.interventions)
            del ivs[i]
            if self._fails(self.best.candidate.with_(interventions=tuple(ivs))):
                changed = True
            else:
                i += 1
        return changed

    def _drop_schedule(self) -> bool:
        """Fewest schedule choices: the engine's own order of simultaneous events, if it still fails."""
        cand = self.best.candidate
        if not any(k == "explore.schedule" for k, _ in cand.overrides):
            return False
        return self._fails(cand.with_(overrides=tuple(o for o in cand.overrides if o[0] != "explore.schedule")))

    def _drop_scripted(self) -> bool:
        """Fewest faults, the scenario's own included: disable each scripted fault the failure does not need."""
        changed = False
        faults = self.runner.loaded(self.best.candidate.overrides).model.faults
        disabled = list(self.stats.scripted_disabled)
        for i, f in enumerate(faults):
            if not f.enabled:
                continue
            cand = self.best.candidate
            if self._fails(cand.with_(overrides=(*cand.overrides, (f"faults[{i}].enabled", False)))):
                changed = True
                disabled.append(f.name or f"{f.action}-{i}")
        self.stats.scripted_disabled = tuple(disabled)
        return changed

    def _fewer_messages(self) -> bool:
        """Fewest messages: the smallest count of each producer that still fails (bisection)."""
        changed = False
        published = self._published(self.best.candidate)
        for producer in self.runner.loaded(self.best.candidate.overrides).model.producers:
            hi = published.get(producer, 0)
            if hi <= 1:
                continue
            lo = 0  # lo passes (or is untried), hi fails
            while hi - lo > 1 and not self._out_of_budget():
                mid = (lo + hi) // 2
                cand = self.best.candidate
                rest = tuple(o for o in cand.overrides if o[0] != f"producers.{producer}.count")
                if self._fails(cand.with_(overrides=(*rest, (f"producers.{producer}.count", mid)))):
                    hi = mid
                    changed = True
                else:
                    lo = mid
        return changed

    def _smaller_scope(self) -> bool:
        self._in_scope = True
        try:
            return self._smaller_scope_runs()
        finally:
            self._in_scope = False

    def _smaller_scope_runs(self) -> bool:
        """A smaller scope: the same faults in a run of few messages. A failure that needs a rare state
        (a backlog deeper than the prefetch) may first arise late in the failing seed, so its own
        messages cannot be cut below that instant; the same kind of fault, with the same lengths and
        targets, often fails as well in a run of 10, 40 or 160 messages of another seed, placed at a
        point of that run. The failing run's own seed is tried first in every scope, so the counterexample
        keeps the seed the search found when it can; then the other seeds, smallest scope first. All in a
        fixed order (deterministic), within `SCOPE_RUNS` runs."""
        cand = self.best.candidate
        if len(cand.interventions) > 1:
            return False
        published = self._published(cand)
        producers = self.runner.loaded(cand.overrides).model.producers
        rng = random.Random(cand.seed)
        seeds = [cand.seed, *(rng.randrange(1, 2**31) for _ in range(SCOPE_SEEDS - 1))]
        rest = tuple(o for o in cand.overrides if not (o[0].startswith("producers.") and o[0].endswith(".count")))
        scopes = [sc for sc in SCOPES if sum(published.values()) > sc]
        tries = [(sc, cand.seed) for sc in scopes] + [(sc, seed) for sc in scopes for seed in seeds[1:]]
        for scope, seed in tries:
            caps = tuple((f"producers.{name}.count", min(scope, published.get(name, 0))) for name in producers
                         if published.get(name, 0) > 0)
            if self.stats.scope_runs >= SCOPE_RUNS or self._out_of_budget():
                return False
            small = Candidate(seed, rest + caps)
            if not cand.interventions:
                if self._fails(small):
                    return True
                continue
            iv = cand.interventions[0]
            try:
                col = PointCollector(self.runner.loaded(small.overrides).model)
                self.runner.run(small, col)
            except ScenarioError:
                return False
            self.stats.runs += 1  # the small run's fault-free run, read for its points
            self.stats.scope_runs += 1
            for p in (p for p in sorted(col.points, key=lambda p: p.t) if self._matches(p, iv[2])):
                if self.stats.scope_runs >= SCOPE_RUNS or self._out_of_budget():
                    return False
                if self._fails(small.with_(interventions=(self._moved(iv, p),))):
                    return True
        return False

    def _earlier(self) -> bool:
        """Earliest instants: move each fault to the earliest point of the same kind that still fails."""
        changed = False
        for i in range(len(self.best.candidate.interventions)):
            cand = self.best.candidate
            t, kind, spec = cand.interventions[i]
            col = PointCollector(self.runner.loaded(cand.overrides).model)
            self.runner.run(cand, col)
            earlier = [p for p in col.points if p.t < t and self._matches(p, spec)]
            # at most 8 tries per kind of point (handling, retry, ...), spread over its earlier points,
            # earliest first: a rare kind (a retry) is tried as often as the thousands of handlings
            by_where: dict[str, list[FaultPoint]] = {}
            for p in earlier:
                by_where.setdefault(p.where, []).append(p)
            tries = sorted((p for ps in by_where.values() for p in ps[::max(1, len(ps) // 8)]), key=lambda p: p.t)
            for p in tries:
                moved = self._moved(cand.interventions[i], p)
                ivs = list(cand.interventions)
                ivs[i] = moved
                if self._fails(cand.with_(interventions=tuple(sorted(ivs, key=lambda iv: iv[0])))):
                    changed = True
                    break
        return changed

    @staticmethod
    def _matches(p: FaultPoint, spec: dict[str, Any]) -> bool:
        target = spec["target"]
        if target.startswith("channel:"):
            return p.channel == target
        if target.startswith("consumer:"):
            name = target.partition("#")[0]
            return any(c.partition("#")[0] == name for c in p.consumers)
        return True

    @staticmethod
    def _moved(iv: Intervention, p: FaultPoint) -> Intervention:
        _t, kind, spec = iv
        spec = dict(spec)
        target = spec["target"]
        if target.startswith("channel:"):
            spec["for"] = ns_text(max(p.window, 1))
        elif target.startswith("consumer:"):
            name = target.partition("#")[0]
            same = [c for c in p.consumers if c.partition("#")[0] == name]
            spec["target"] = target if target in same else same[0]
        return (p.t, kind, spec)

    def _shorter(self) -> bool:
        """Shortest faults, in round numbers: each pause, crash downtime or slowdown becomes the shortest
        round length (`is_round`: 1s, 1500ms, 500ms, 20ms, ...) that still fails, found by bisection over
        those lengths below it; when none fails, the next one above it (6s rather than 5625ms)."""
        changed = False
        for i in range(len(self.best.candidate.interventions)):
            for field in ("for", "restart_after", "downtime"):
                if self._out_of_budget():
                    return changed
                _t, _kind, spec = self.best.candidate.interventions[i]
                if field not in spec or spec["target"].startswith("channel:"):
                    continue
                value = spec[field]
                ns = parse_duration(value) if isinstance(value, str) else int(value)
                ladder = [v for v in round_lengths(ns) if v < ns]
                lo, hi = -1, len(ladder)  # ladder[lo] passes (or is untried), ladder[hi] (or ns itself) fails
                while hi - lo > 1 and not self._out_of_budget():
                    mid = (lo + hi) // 2
                    if self._fails(self._with_length(i, field, ladder[mid])):
                        hi = mid
                        changed = True
                    else:
                        lo = mid
                if hi == len(ladder) and not is_round(ns):
                    above = next((v for v in round_lengths(ns * 2) if v > ns), None)
                    if above is not None and self._fails(self._with_length(i, field, above)):
                        changed = True
        return changed

    def _with_length(self, i: int, field: str, ns: int) -> Candidate:
        cand = self.best.candidate
        ivs = list(cand.interventions)
        t, kind, spec = ivs[i]
        ivs[i] = (t, kind, {**spec, field: ns_text(ns)})
        return cand.with_(interventions=tuple(ivs))


def round_lengths(upto: int) -> list[int]:
    """The round lengths (`is_round`) from 1 ms up to `upto` (inclusive), in order: 1ms, 2ms, ..., 9ms,
    10ms, 15ms, 20ms, ..., 950ms, 1s, 1500ms, 2s, ..."""
    out = []
    step = 100_000  # a tenth of the decade's unit: mantissas 10, 15, 20, ..., 95 of it
    while step * 10 <= upto:
        out.extend(m * step for m in range(10, 100, 5) if m * step <= upto and m * step % 1_000_000 == 0)
        step *= 10
    return out


def is_round(ns: int) -> bool:
    """One significant digit, or two ending in 5, in whole milliseconds (`5s`, `500ms`, `1500ms`; not
    `5625ms` or `6750ms`)."""
    if ns < 1_000_000 or ns % 1_000_000:
        return False
    while ns % 10 == 0:
        ns //= 10
    return ns < 10 or (ns < 100 and ns % 10 == 5)
