"""Checks of patterns, judged from their trace events: partition ownership, request outcomes,
correlation, sagas and projections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.scenario.units import format_duration
from evtool.trace.checks.base import Checker
from evtool.trace.view import RunView


class ExclusiveOwnership(Checker):
    """No partition is owned by two live members at once."""

    def __init__(self, spec: m.PatternCheck, name: str) -> None:
        super().__init__(spec, name)
        self.owner: dict[tuple[Any, Any], Any] = {}
        self.assignments = 0
        self.violations: list[str] = []

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        for ev in batch:
            if ev.kind not in ("partition_assigned", "partition_revoked") or ev.data is None:
                continue
            group = ev.data.get("group")
            if self.spec.group is not None and group != self.spec.group:
                continue
            key = (group, ev.data.get("partition"))
            member = (ev.actor, ev.instance)
            if ev.kind == "partition_assigned":
                self.assignments += 1
                cur = self.owner.get(key)
                if cur is not None and cur != member:
                    self.violations.append(f"partition {key[1]} given to {member[0]}#{member[1]} while "
                                           f"{cur[0]}#{cur[1]} owned it")
                self.owner[key] = member
            elif self.owner.get(key) == member:
                del self.owner[key]

    def result(self, now: int, drain: str) -> dict[str, Any]:
        expected = "no partition is owned by two members at once"
        if not self.assignments:
            return self.out("unknown", expected, "no partition was assigned")
        if self.violations:
            return self.out("fail", expected, "; ".join(self.violations[:3]))
        return self.out("pass", expected, f"{self.assignments} assignments, never shared")


class PatternEvents(Checker):
    """Checks of patterns, judged from their trace events (request-response, sagas, projections)."""

    STARTS = {"request_outcomes": "request_sent", "saga_terminates": "saga_started",
              "saga_compensation": "saga_compensating", "projection_consistent": "projection_updated",
              "correlation": "reply_received"}

    def __init__(self, spec: m.PatternCheck, name: str, view: RunView | None = None,
                 scenario: m.Scenario | None = None) -> None:
        super().__init__(spec, name)
        self.WITHIN_AT_END = spec.check == "saga_terminates"
        self.view = view
        self.scenario = scenario
        self.started: dict[str, int] = {}
        self.ended: dict[str, str] = {}
        self.bad: list[str] = []
        self.count = 0
        self.last_lag: int | None = None

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        check = self.spec.check
        pattern = self.spec.pattern
        for ev in batch:
            if pattern is not None and ev.actor != pattern:
                continue
            kind = ev.kind
            data = ev.data or {}
            if check == "request_outcomes":
                rid = str(data.get("request_id", ev.msg))
                if kind == "request_sent" and data.get("attempt", 1) == 1:
                    self.count += 1
                    self.started[rid] = ev.t
                elif kind in ("reply_received", "request_fell_back"):  # an error outcome is a fell_back
                    if rid in self.ended:
                        self.bad.append(rid)
                    self.ended[rid] = kind
            elif check == "correlation":
                if kind == "reply_received":
                    self.count += 1
                    if data.get("mismatch"):
                        self.bad.append(ev.msg or "")
            elif check == "saga_terminates":
                sid = ev.msg or ""
                if kind == "saga_started":
                    self.count += 1
                    self.started[sid] = ev.t
                elif kind in ("saga_completed", "saga_compensated", "saga_stuck"):
                    within = self.spec.within
                    if within is not None and sid in self.started and ev.t - self.started[sid] > within:
                        self.bad.append(sid)
                    self.ended[sid] = kind
            elif check == "saga_compensation":
                if kind == "saga_compensated":
                    self.count += 1
                    if data.get("order_ok") is False or data.get("repeated"):
                        self.bad.append(ev.msg or "")
            elif check == "projection_consistent":
                if kind == "projection_updated":
                    self.count += 1
                    self.last_lag = data.get("lag")

    def result(self, now: int, drain: str) -> dict[str, Any]:
        check = self.spec.check
        if check == "exclusive_ownership":  # handled by ExclusiveOwnership
            raise AssertionError
        expected = {
            "request_outcomes": "every request ends in exactly one outcome (reply, fallback or error)",
            "correlation": "every reply reaches the request it answers",
            "saga_terminates": "every saga ends completed, compensated or stuck"
                               + (f" within {format_duration(self.spec.within)}" if self.spec.within else ""),
            "saga_compensation": "compensations run in reverse order, only for completed or uncertain steps, once",
            "projection_consistent": "the projection catches up with its source, and its read model equals "
                                     "the aggregates' state",
        }[check]
        if not self.count:
            return self.out("unknown", expected, f"no `{self.STARTS[check]}` events were recorded")
        if check in ("request_outcomes", "saga_terminates"):
            open_ = [k for k in self.started if k not in self.ended]
            if self.bad or open_:
                return self.out("fail", expected,
                                f"{len(open_)} without an outcome, {len(self.bad)} wrong or late", open_ + self.bad)
            return self.out("pass", expected, f"{self.count} started, all ended")
        if check == "projection_consistent":
            if self.last_lag not in (0, None):
                return self.out("fail", expected, f"still {self.last_lag} event(s) behind at the end")
            differ = self._read_model_differs()
            if differ:
                return self.out("fail", expected, f"caught up, but the read model differs from the aggregates for "
                                                  f"{len(differ)} id(s)", differ)
            return self.out("pass", expected, f"{self.count} updates, caught up, read model equals the aggregates")
        if self.bad:
            return self.out("fail", expected, f"{len(self.bad)} violation(s)", self.bad)
        return self.out("pass", expected, f"{self.count} checked")

    def _read_model_differs(self) -> list[str]:
        """Aggregate ids whose read model is not the write side's state (empty when not comparable).

        A projection keeps its read model in its state (`read_model`), the aggregate it reads keeps
        the write side's (`aggregates`); both are read through the run's view.
        """
        if self.view is None or self.scenario is None:
            return []
        for name, pat in self.scenario.patterns.items():
            if not isinstance(pat, m.ProjectionPattern):
                continue
            if self.spec.pattern is not None and name != self.spec.pattern:
                continue
            mine = self.view.state_of(name)
            source = self.view.state_of(pat.source)
            model = mine.get("read_model") if mine is not None else None
            truth = source.get("aggregates") if source is not None else None
            if model is None or truth is None:
                continue
            return sorted(str(k) for k in set(model) | set(truth) if model.get(k) != truth.get(k))
        return []
