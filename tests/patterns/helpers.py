"""Running a small pattern scenario through the engine and reading its trace."""

from __future__ import annotations

from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine, RunOutcome


def run(text: str, overrides: dict[str, Any] | None = None) -> tuple[Engine, list[TraceEvent], RunOutcome]:
    """Run a scenario text to the end; return the engine, every trace event and the outcome."""
    events: list[TraceEvent] = []
    engine = Engine(load_text(text, "pattern-test.yaml", overrides), listeners=[events.extend])
    outcome = engine.run()
    return engine, events, outcome


def kinds(events: list[TraceEvent], kind: str, actor: str | None = None) -> list[TraceEvent]:
    """The events of one kind (and actor)."""
    return [e for e in events if e.kind == kind and (actor is None or e.actor == actor)]


def check(outcome: RunOutcome, name: str) -> dict[str, Any]:
    """One check's result by name."""
    return next(c for c in outcome.checks if c["name"] == name)
