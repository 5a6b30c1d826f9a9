"""Checks that look past the trace into state: the projection's read model against the aggregates."""

from __future__ import annotations

import math
from pathlib import Path

from evtool.scenario.loader import load_scenario
from evtool.sim.engine import Engine

LESSONS = Path(__file__).resolve().parents[2] / "evtool" / "lessons"


def test_projection_consistent_compares_the_read_model_with_the_aggregates() -> None:
    """A projection that caught up but holds a wrong value fails, naming the aggregate."""
    engine = Engine(load_scenario(LESSONS / "cqrs-projection.yaml"))
    engine.run_until(math.inf)
    projection = next(p for p in engine.patterns if hasattr(p, "read_model"))
    some_id = sorted(projection.read_model)[0]
    projection.read_model[some_id] = {"corrupted": True}
    checks = [c for c in engine.finish().checks if c["check"] == "projection_consistent"]
    assert checks and checks[0]["status"] == "fail"
    assert some_id in checks[0]["evidence"]
