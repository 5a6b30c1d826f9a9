"""One run explore tries: a seed, overrides of the scenario, and interventions placed at virtual instants.

An intervention is exactly what a person injects by hand in the dashboard: `(t, "fault", spec)`,
carried out by `Engine.schedule_interventions` first at its instant and recorded in the trace as
`user_intervention`. So a counterexample is an ordinary run: the run store keeps it, `evtool replay`
rebuilds it from its events, and `evtool run --replay-interventions` repeats it with the same digest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evtool.scenario.loader import LoadedScenario, load_text
from evtool.sim.engine import Engine, RunOutcome

Intervention = tuple[int, str, dict[str, Any]]
"""(virtual time in ns, "fault", the fault as `faults:` spells it)."""


def ns_text(ns: int) -> str:
    """A duration the scenario language reads back exactly (`1500ms`, `2s`, `1234567ns`)."""
    for unit, size in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def describe(iv: Intervention) -> str:
    """One intervention in words: `at 1.234s: pause consumer:billing#1 for 1500ms`."""
    from evtool.sim.faults import fault_words

    t, _kind, spec = iv
    first, *rest = fault_words(spec)
    return f"at {t / 1e9:.6f}s: {first}" + (" " + ", ".join(rest) if rest else "")


@dataclass(frozen=True)
class Candidate:
    """What decides one explored run: the seed, `--set` overrides and the interventions."""

    seed: int
    overrides: tuple[tuple[str, Any], ...] = ()
    interventions: tuple[Intervention, ...] = field(default_factory=tuple)

    def with_(self, **changes: Any) -> Candidate:
        """A copy with some fields changed."""
        return Candidate(**{"seed": self.seed, "overrides": self.overrides, "interventions": self.interventions,
                            **changes})

    def override_dict(self) -> dict[str, Any]:
        """The overrides as `load_text` takes them."""
        return dict(self.overrides)

    def key(self) -> tuple[Any, ...]:
        """A hashable identity (two equal keys are the same run)."""
        return (self.seed, self.overrides, tuple((t, k, tuple(sorted(s.items()))) for t, k, s in self.interventions))


@dataclass
class Tried:
    """The outcome of one explored run, with the checks that failed."""

    candidate: Candidate
    outcome: RunOutcome
    failed: tuple[str, ...]


class Runner:
    """Runs candidates of one scenario text (loading each distinct set of overrides once)."""

    def __init__(self, text: str, file: str, base_overrides: Mapping[str, Any] | None = None) -> None:
        self.text = text
        self.file = file
        self.base = dict(base_overrides or {})
        self._loaded: dict[tuple[tuple[str, Any], ...], LoadedScenario] = {}
        self.runs = 0
        self.digests: set[str] = set()
        self._scope_failures: dict[tuple[tuple[str, Any], ...], frozenset[str]] = {}
        self.last_choices = (0, 0)
        """Broker choice points the last run met, and how many of them it decided otherwise than the plain
        broker (`core.broker_choices.ChoosingBroker`; (0, 0) for a run without broker choices)."""

    def loaded(self, overrides: Sequence[tuple[str, Any]] = ()) -> LoadedScenario:
        """The scenario with the base overrides and `overrides` applied (cached)."""
        key = tuple(overrides)
        hit = self._loaded.get(key)
        if hit is None:
            hit = load_text(self.text, self.file, {**self.base, **dict(overrides)} or None)
            self._loaded[key] = hit
        return hit

    def run(self, cand: Candidate, listener: Callable[[Sequence[Any]], None] | None = None, *,
            counted: bool = True) -> RunOutcome:
        """Run one candidate to the end and return its outcome (`counted`: in `runs` and `digests`)."""
        engine = Engine(self.loaded(cand.overrides), seed=cand.seed, listeners=[listener] if listener else ())
        if cand.interventions:
            engine.schedule_interventions(list(cand.interventions))
        outcome = engine.run()
        b = engine.broker
        self.last_choices = (getattr(b, "choice_points", 0), getattr(b, "choices_varied", 0))
        if counted:
            self.runs += 1
            self.digests.add(outcome.digest)
        return outcome


    def scope_failures(self, cand: Candidate) -> frozenset[str]:
        """The checks that fail by themselves at `cand`'s message counts: in the fault-free run of the
        scenario's own seed with `cand`'s overrides, but not in that run at the scenario's own counts.

        Explore makes runs smaller (`producers.NAME.count`); an expectation that counts messages
        (`sum(charges) == 1000`), or one that needs the load to be there when a scripted fault strikes
        (`count(redelivered) > 0`), then fails without anything going wrong. Such a failure is no
        counterexample, so it is not counted (`failed_checks`)."""
        def is_count(o: tuple[str, Any]) -> bool:
            return o[0].startswith("producers.") and o[0].endswith(".count")

        if not any(is_count(o) for o in cand.overrides):
            return frozenset()
        rest = tuple(o for o in cand.overrides if not is_count(o))
        key = cand.overrides
        hit = self._scope_failures.get(key)
        if hit is None:
            hit = self._quiet_failures(cand.overrides) - self._quiet_failures(rest)
            self._scope_failures[key] = hit
        return hit

    def _quiet_failures(self, overrides: tuple[tuple[str, Any], ...]) -> frozenset[str]:
        """The checks failing in the run of the scenario's own seed with `overrides` and no interventions."""
        key = (("<quiet>", True), *overrides)
        hit = self._scope_failures.get(key)
        if hit is None:
            outcome = self.run(Candidate(self.loaded(overrides).model.run.seed, overrides), counted=False)
            hit = frozenset(c["name"] for c in outcome.checks if c.get("status") == "fail")
            self._scope_failures[key] = hit
        return hit


def failed_checks(outcome: RunOutcome, wanted: str | None, runner: Runner | None = None,
                  cand: Candidate | None = None) -> tuple[str, ...]:
    """The failed checks of a run (only `wanted` when given), leaving out those that fail by themselves at
    the candidate's message counts (`Runner.scope_failures`) when the runner and candidate are given."""
    failed = tuple(c["name"] for c in outcome.checks
                   if c.get("status") == "fail" and (wanted is None or c["name"] == wanted))
    if failed and runner is not None and cand is not None:
        trivial = runner.scope_failures(cand)
        failed = tuple(c for c in failed if c not in trivial)
    return failed
