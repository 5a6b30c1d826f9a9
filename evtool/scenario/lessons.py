"""The bundled lessons: where they live, their index, and finding one by name.

A lesson is an ordinary scenario file in `evtool/lessons/` (the repository's
`scenarios/` links there) whose file name is its id and which carries a
`lesson:` block. The index reads only what a listing needs (id, title,
level, concepts, summary) from each file's YAML, without validating the
whole scenario, so `evtool lessons` stays quick; `evtool validate` and the
lesson tests judge the files in full. `checked_lessons` loads each file in
full instead, for the dashboard's lesson picker, so that a broken lesson
shows its first problem there instead of hiding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evtool.scenario.errors import did_you_mean, known_list
from evtool.scenario.yamlsource import parse_yaml, read_text

LEVELS = ("beginner", "intermediate", "advanced")
"""Lesson levels, easiest first (the listing's sort order)."""


@dataclass(frozen=True)
class LessonInfo:
    """One bundled lesson, as listed by `evtool lessons`."""

    id: str
    title: str
    level: str
    concepts: tuple[str, ...]
    path: Path
    summary: str = ""
    prerequisites: tuple[str, ...] = field(default_factory=tuple)
    goals: tuple[str, ...] = field(default_factory=tuple)
    error: str | None = None
    """The first problem of a lesson that does not load (only from `checked_lessons`)."""


class LessonNotFound(LookupError):
    """No bundled lesson has this name; the message lists the known ones or suggests one."""


def lesson_dir() -> Path:
    """The directory holding the bundled lesson files."""
    return Path(__file__).resolve().parent.parent / "lessons"


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def read_lesson_info(path: Path) -> LessonInfo | None:
    """The listing fields of one scenario file, or None when it has no `lesson:` block or cannot be read."""
    try:
        data, _ = parse_yaml(read_text(path), str(path))
    except Exception:  # noqa: BLE001 - a broken file is not a lesson; `evtool validate` explains it
        return None
    if not isinstance(data, dict) or not isinstance(data.get("lesson"), dict):
        return None
    lesson = data["lesson"]
    concepts = lesson.get("concepts") or []
    prereq = lesson.get("prerequisites") or []
    goals = lesson.get("goals") or []
    return LessonInfo(
        id=str(data.get("id") or path.stem),
        title=_text(lesson.get("title")) or path.stem,
        level=str(lesson.get("level") or "beginner"),
        concepts=tuple(str(c) for c in concepts) if isinstance(concepts, list) else (),
        path=path,
        summary=_text(lesson.get("summary")),
        prerequisites=tuple(str(p) for p in prereq) if isinstance(prereq, list) else (),
        goals=tuple(str(g) for g in goals) if isinstance(goals, list) else (),
    )


def list_lessons(directory: Path | None = None) -> list[LessonInfo]:
    """Every bundled lesson, easiest level first, then by id."""
    folder = directory or lesson_dir()
    infos = [info for p in sorted(folder.glob("*.yaml")) if (info := read_lesson_info(p)) is not None]
    rank = {lvl: i for i, lvl in enumerate(LEVELS)}
    return sorted(infos, key=lambda i: (rank.get(i.level, len(LEVELS)), i.id))


def find_lesson(name: str, directory: Path | None = None) -> Path:
    """The file of the bundled lesson `name` (its id, with or without `.yaml`).

    Raises `LessonNotFound` with a did-you-mean hint when there is none.
    """
    folder = directory or lesson_dir()
    stem = name[:-5] if name.endswith(".yaml") else name
    path = folder / f"{stem}.yaml"
    if stem and "/" not in stem and path.is_file():
        return path
    ids = [p.stem for p in sorted(folder.glob("*.yaml"))]
    guess = did_you_mean(stem, ids)
    if guess:
        raise LessonNotFound(f"no lesson named `{name}`; {guess}")
    raise LessonNotFound(f"no lesson named `{name}`; the lessons are: {known_list(ids, limit=40)}")


def check_lesson(path: Path) -> LessonInfo:
    """One scenario file's lesson, loaded and validated in full (never raises: a broken file carries
    its first problem in `error`; a scenario without a `lesson:` block is titled by its description)."""
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import load_scenario

    try:
        loaded = load_scenario(path)
    except ScenarioError as err:
        first = err.problems[0] if err.problems else None
        why = f"{first.line}:{first.column}: {first.message}" if first else "invalid"
        return LessonInfo(id=path.stem, title=path.stem, level="", concepts=(), path=path, error=why)
    sc = loaded.model
    lesson = sc.lesson
    if lesson is None:
        return LessonInfo(id=sc.id, title=sc.description or sc.id, level="", concepts=(), path=path)
    return LessonInfo(id=sc.id, title=lesson.title, level=lesson.level, concepts=tuple(lesson.concepts), path=path,
                      summary=_text(lesson.summary), prerequisites=tuple(lesson.prerequisites),
                      goals=tuple(lesson.goals))


def checked_lessons(directory: Path | None = None) -> list[LessonInfo]:
    """Every scenario file in `directory` (default: the bundled lessons), each checked in full: the ones
    that load first, easiest level first, then by title (the dashboard picker's order)."""
    folder = directory or lesson_dir()
    infos = [check_lesson(p) for p in sorted(folder.glob("*.yaml"))]
    rank = {lvl: i for i, lvl in enumerate(LEVELS)}
    return sorted(infos, key=lambda i: (i.error is not None, rank.get(i.level, 9), i.title.lower()))
