"""Shared helpers for the lesson tests: which lessons exist, running one, known engine gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evtool.scenario.lessons import lesson_dir
from evtool.scenario.loader import load_scenario

LESSON_FILES = sorted(lesson_dir().glob("*.yaml"))
LESSON_IDS = [p.stem for p in LESSON_FILES]

# Lessons that cannot pass until an engine bug is fixed. Strict xfail: when the bug is fixed the
# test XPASSes and fails, which is the signal to delete the entry.
KNOWN_ENGINE_BUGS: dict[str, str] = {}


def patterns_available() -> bool:
    """Whether the pattern engine (evtool.sim.patterns.build_patterns) exists yet."""
    try:
        from evtool.sim.patterns import build_patterns  # noqa: F401
    except ImportError:
        return False
    return True


def lesson_marks(lesson_id: str, path: Path) -> list[Any]:
    """pytest marks for a lesson: strict xfail for a known engine bug, skip while its patterns are missing."""
    marks: list[Any] = []
    if lesson_id in KNOWN_ENGINE_BUGS:
        marks.append(pytest.mark.xfail(reason=KNOWN_ENGINE_BUGS[lesson_id], strict=True))
    if "\npatterns:" in path.read_text(encoding="utf-8") and not patterns_available():
        marks.append(pytest.mark.skip(reason="the pattern engine (evtool/sim/patterns) is not there yet"))
    return marks


def run_lesson(path: Path, sets: dict[str, Any] | None = None) -> Any:
    """Run a lesson (with overrides) to the end and return the RunOutcome."""
    from evtool.sim.engine import Engine

    return Engine(load_scenario(path, sets)).run()
