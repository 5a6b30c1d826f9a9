"""The bundled lessons (evtool/lessons/*.yaml), as the lesson picker lists them.

Each file is read with `load_scenario`, so a broken lesson shows its error
in the picker instead of hiding. No Textual import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LEVELS = {"beginner": 0, "intermediate": 1, "advanced": 2}


def lessons_dir() -> Path:
    """Where the bundled lessons live."""
    return Path(__file__).resolve().parent.parent / "lessons"


@dataclass(frozen=True)
class LessonInfo:
    """One lesson as the picker shows it."""

    id: str
    path: Path
    title: str
    level: str = ""
    concepts: tuple[str, ...] = ()
    summary: str = ""
    goals: tuple[str, ...] = field(default=())
    error: str | None = None


def read_lesson(path: Path) -> LessonInfo:
    """Read one scenario file's lesson metadata (never raises for a bad file)."""
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import load_scenario

    try:
        loaded = load_scenario(path)
    except ScenarioError as err:
        first = err.problems[0] if err.problems else None
        why = f"{first.line}:{first.column}: {first.message}" if first else "invalid"
        return LessonInfo(id=path.stem, path=path, title=path.stem, error=why)
    sc = loaded.model
    lesson = sc.lesson
    if lesson is None:
        return LessonInfo(id=sc.id, path=path, title=sc.description or sc.id)
    return LessonInfo(id=sc.id, path=path, title=lesson.title, level=lesson.level,
                      concepts=tuple(lesson.concepts), summary=" ".join(lesson.summary.split()),
                      goals=tuple(lesson.goals))


def bundled_lessons(directory: Path | None = None) -> list[LessonInfo]:
    """Every lesson in `directory` (default: the bundled ones), beginners first, then by title."""
    folder = directory or lessons_dir()
    infos = [read_lesson(p) for p in sorted(folder.glob("*.yaml"))]
    return sorted(infos, key=lambda i: (i.error is not None, LEVELS.get(i.level, 9), i.title.lower()))
