"""The base of every check: an expectation folded over the trace, with `when` and `within` applied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario.units import format_duration
from evtool.trace import measure

EVIDENCE = 10
"""Most message ids quoted as evidence for one result."""


def _result(name: str, check: str, status: str, expected: str, observed: str, evidence: list[str] | None = None,
            because: str | None = None, when: str = "end") -> dict[str, Any]:
    return {"name": name, "check": check, "status": status, "expected": expected, "observed": observed,
            "evidence": list(evidence or [])[:EVIDENCE], "because": because, "when": when}


class Checker:
    """Base: an expectation folded over the trace.

    `result` judges what has been seen so far; `final` is the verdict, with the expectation's
    `when` applied: `always` fails at the first sample whose result failed, `eventually` passes at
    the first sample whose result passed (no later than `within`). A `within` the check cannot
    honour makes the verdict unknown rather than being ignored.
    """

    WITHIN_AT_END = False
    """True for checks that give `within` a meaning of their own (saga_terminates)."""

    def __init__(self, spec: Any, name: str) -> None:
        self.spec = spec
        self.name = name
        self.failed_at: tuple[int, str] | None = None
        self.held_at: tuple[int, str] | None = None

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        """Fold in a batch of events."""

    def tick(self, now: int) -> None:
        """Called at every metric sample: judge `always` / `eventually` checks at this instant."""
        when = getattr(self.spec, "when", "end")
        if when == "end" or (self.failed_at is not None and when == "always") or self.held_at is not None:
            return
        within = getattr(self.spec, "within", None)
        r = self.result(now, "pending")
        if when == "always" and r["status"] == "fail":
            self.failed_at = (now, r["observed"])
        elif when == "eventually" and r["status"] == "pass" and (within is None or now <= within):
            self.held_at = (now, r["observed"])

    def result(self, now: int, drain: str) -> dict[str, Any]:
        """The verdict on what was seen so far."""
        raise NotImplementedError

    def final(self, now: int, drain: str) -> dict[str, Any]:
        """The verdict at the end of the run, with `when` and `within` honoured."""
        r = self.result(now, drain)
        when = getattr(self.spec, "when", "end")
        within = getattr(self.spec, "within", None)
        if within is not None and when != "eventually" and not self.WITHIN_AT_END:
            return {**r, "status": "unknown",
                    "observed": f"`within` applies to `when: eventually`; it was not honoured here "
                                f"({r['observed']})"}
        if when == "always":
            if self.failed_at is not None:
                t, seen = self.failed_at
                return {**r, "status": "fail", "expected": f"{r['expected']}, at every sample",
                        "observed": f"false at {measure.duration(t)}: {seen}"}
            return {**r, "expected": f"{r['expected']}, at every sample"}
        if when == "eventually":
            limit = f" within {format_duration(within)}" if within is not None else ""
            expected = f"{r['expected']}, eventually{limit}"
            if self.held_at is not None:
                t, seen = self.held_at
                return {**r, "status": "pass", "expected": expected, "observed": f"held at {measure.duration(t)}: {seen}"}
            if r["status"] == "pass" and (within is None or now <= within):
                return {**r, "expected": expected}
            if r["status"] == "pass":
                return {**r, "status": "fail", "expected": expected,
                        "observed": f"held only after {measure.duration(within)}: {r['observed']}"}
            return {**r, "expected": expected}
        return r

    def out(self, status: str, expected: str, observed: str, evidence: list[str] | None = None) -> dict[str, Any]:
        """A result dict carrying this checker's name, kind, because and when."""
        check = getattr(self.spec, "check", None) or "that"
        return _result(self.name, check, status, expected, observed, evidence, self.spec.because,
                       self.spec.when)
