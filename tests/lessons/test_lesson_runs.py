"""Every lesson passes as shipped, and every documented variation breaks exactly what it says.

The second half is what makes a lesson honest: a `try_next` entry with `set`
and `fails` claims "change this, and these expectations (and only these)
turn red". Each such claim is run here.
"""

from __future__ import annotations

from typing import Any

import pytest
from lesson_helpers import LESSON_FILES, lesson_marks, run_lesson

from evtool.scenario.loader import load_scenario
from evtool.scenario.models import Variation


def _base_params() -> list[Any]:
    return [pytest.param(p, id=p.stem, marks=lesson_marks(p.stem, p)) for p in LESSON_FILES]


def _variation_params() -> list[Any]:
    params = []
    for p in LESSON_FILES:
        model = load_scenario(p).model
        if model.lesson is None:
            continue
        for i, v in enumerate(model.lesson.try_next):
            if isinstance(v, Variation) and v.set:
                params.append(pytest.param(p, i, v, id=f"{p.stem}[{i}]", marks=lesson_marks(p.stem, p)))
    return params


def _describe(checks: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {c['status']:7} {c['name']}: {c['observed']}" for c in checks)


@pytest.mark.parametrize("path", _base_params())
def test_lesson_passes_with_its_seed(path: Any) -> None:
    out = run_lesson(path)
    assert out.drain == "complete", f"the drain did not finish ({out.drain})\n{_describe(out.checks)}"
    assert out.checks, "a lesson must have expectations"
    assert out.outcome == "passed", f"{path.stem} did not pass as shipped:\n{_describe(out.checks)}"
    assert all(c["status"] == "pass" for c in out.checks)


@pytest.mark.parametrize("path,index,variation", _variation_params())
def test_variation_fails_exactly_the_named_expectations(path: Any, index: int, variation: Variation) -> None:
    out = run_lesson(path, dict(variation.set))
    statuses = {c["name"]: c["status"] for c in out.checks}
    failed = {n for n, s in statuses.items() if s == "fail"}
    undecided = {n for n, s in statuses.items() if s == "unknown"}
    assert undecided == set(variation.unknown), (
        f"try_next[{index}] should leave exactly {sorted(variation.unknown)} undecided, "
        f"but left {sorted(undecided)}:\n{_describe(out.checks)}")
    assert failed == set(variation.fails), (
        f"try_next[{index}] ({variation.say!r}) should fail exactly {sorted(variation.fails)}, "
        f"but failed {sorted(failed)}:\n{_describe(out.checks)}")


def test_runs_are_deterministic() -> None:
    path = next(p for p in LESSON_FILES if p.stem == "competing-consumers")
    assert run_lesson(path).digest == run_lesson(path).digest


def test_every_variation_is_structured() -> None:
    """No text-only `try_next` entry: each one says what to set and which expectations it turns red."""
    for p in LESSON_FILES:
        model = load_scenario(p).model
        assert model.lesson is not None
        for i, v in enumerate(model.lesson.try_next):
            assert isinstance(v, Variation) and v.set, f"{p.stem}: try_next[{i}] is text only: {v!r}"


@pytest.mark.parametrize("path", _base_params())
def test_every_step_of_the_lesson_happens_in_its_own_run(path: Any) -> None:
    """A step whose trigger never matches is never narrated, in `evtool run` or in the dashboard.

    A step may belong to a variation (the alert that fires once batching is off): then some
    variation's run must reach it.
    """
    from evtool.report.narration import Narrator
    from evtool.sim.engine import Engine

    def never_reached(sets: dict[str, Any] | None) -> set[int]:
        loaded = load_scenario(path, sets)
        assert loaded.model.lesson is not None
        narrator = Narrator(loaded.model.lesson)
        engine = Engine(loaded, listeners=[narrator])
        engine.run()
        narrator.finish(engine.now)
        return {s["step"] for s in narrator.steps() if s["at_s"] is None}

    never = never_reached(None)
    lesson = load_scenario(path).model.lesson
    assert lesson is not None
    for v in lesson.try_next:
        if not never:
            break
        if isinstance(v, Variation):
            never &= never_reached(dict(v.set))
    assert not never, f"{path.stem}: steps that happen neither in the lesson nor in a variation: {sorted(never)}"
