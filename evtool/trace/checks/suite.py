"""Every expectation of a scenario as checkers over one run's trace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.trace.checks.assertions import AssertionChecker
from evtool.trace.checks.base import Checker, _result
from evtool.trace.checks.conservation import DeadLetters, NoLoss
from evtool.trace.checks.handling import EffectivelyOnce, Latency, NoDuplicates, PerKeyOrder
from evtool.trace.checks.patterns import ExclusiveOwnership, PatternEvents
from evtool.trace.metrics import Metrics
from evtool.trace.view import RunView


class CheckSuite:
    """Every expectation of a scenario as checkers over one run's trace."""

    def __init__(self, scenario: m.Scenario, view: RunView, metrics: Metrics) -> None:
        self.scenario = scenario
        self.view = view
        self.metrics = metrics
        self.checkers: list[Checker] = []
        self.abort_reason: str | None = None
        for i, spec in enumerate(scenario.expect):
            name = spec.name or f"expect[{i}]"
            self.checkers.append(self._make(spec, name))
        # Monitoring alerts are assertions watched at every sample; they raise events, not verdicts.
        self.alerts: list[tuple[Any, AssertionChecker]] = [
            (a, AssertionChecker(m.Assertion(that=a.that, name=a.name), a.name, view, metrics))
            for a in scenario.alerts
        ]
        self.alert_active: dict[str, bool] = {}

    def _make(self, spec: Any, name: str) -> Checker:
        sc = self.scenario
        if isinstance(spec, m.NoLossCheck):
            return NoLoss(spec, name, sc)
        if isinstance(spec, m.DeadLettersCheck):
            return DeadLetters(spec, name)
        if isinstance(spec, m.EffectivelyOnceCheck):
            return EffectivelyOnce(spec, name, sc)
        if isinstance(spec, m.NoDuplicatesCheck):
            return NoDuplicates(spec, name)
        if isinstance(spec, m.PerKeyOrderCheck):
            return PerKeyOrder(spec, name, sc)
        if isinstance(spec, m.LatencyCheck):
            return Latency(spec, name)
        if isinstance(spec, m.PatternCheck):
            if spec.check == "exclusive_ownership":
                return ExclusiveOwnership(spec, name)
            return PatternEvents(spec, name, self.view, sc)
        if isinstance(spec, m.Assertion):
            return AssertionChecker(spec, name, self.view, self.metrics)
        raise TypeError(f"unknown expectation {spec!r}")

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        """Fold a batch into every checker (and every alert)."""
        for c in self.checkers:
            c.consume(batch)
        for _, a in self.alerts:
            a.consume(batch)

    def tick_alerts(self, now: int) -> list[TraceEvent]:
        """`alert_raised` for each alert whose condition became true since the last sample."""
        raised = []
        for spec, checker in self.alerts:
            passed, left, right = checker.evaluate()
            was = self.alert_active.get(spec.name, False)
            if passed and not was:
                raised.append(TraceEvent(now, "alert_raised", None, None, spec.name, data={
                    "alert": spec.name, "that": spec.that, "value": left, "threshold": right}))
            self.alert_active[spec.name] = bool(passed)
        return raised

    def tick(self, now: int) -> None:
        """Evaluate the `always` and `eventually` checks at a sample."""
        for c in self.checkers:
            c.tick(now)
            if isinstance(c, AssertionChecker) and c.spec.abort and c.violation is not None and not self.abort_reason:
                self.abort_reason = c.name

    def live(self, now: int) -> list[dict[str, Any]]:
        """Provisional results while the run goes on (for the live view and dashboard).

        A check judged at the end is `pending` until then (with what it has seen so far); an
        `always` check fails as soon as it is violated; an `eventually` check passes once it held.
        """
        out = []
        for c in self.checkers:
            try:
                r = c.result(now, "pending")
                when = getattr(c.spec, "when", "end")
                if when == "end" or (when == "eventually" and r["status"] != "pass") or (
                        when == "always" and r["status"] == "unknown"):
                    r = {**r, "status": "pending"}
                out.append(r)
            except Exception as exc:  # noqa: BLE001 - a live preview must never stop the run
                out.append(_result(c.name, "?", "unknown", "", f"not yet: {exc}"))
        return out

    def finish(self, now: int, drain: str) -> list[dict[str, Any]]:
        """The final verdicts."""
        return [c.final(now, drain) for c in self.checkers]
