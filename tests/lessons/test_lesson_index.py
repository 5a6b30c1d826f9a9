"""The lesson files: index, lookup, and the shape every lesson must have."""

from __future__ import annotations

from pathlib import Path

import pytest
from lesson_helpers import LESSON_FILES

from evtool.scenario.lessons import LessonNotFound, find_lesson, lesson_dir, list_lessons, read_lesson_info
from evtool.scenario.loader import load_scenario
from evtool.scenario.models import Variation

ROOT = Path(__file__).resolve().parents[2]


def test_lesson_dir_is_the_package_folder_and_scenarios_links_to_it() -> None:
    """Lessons ship inside the package (installed or not); scenarios/ in the repository links to them."""
    import evtool

    assert lesson_dir() == Path(evtool.__file__).resolve().parent / "lessons"
    assert (ROOT / "scenarios").resolve() == (ROOT / "evtool" / "lessons").resolve()
    installed = sorted(p.name for p in lesson_dir().glob("*.yaml"))
    assert installed == sorted(p.name for p in (ROOT / "evtool" / "lessons").glob("*.yaml"))


def test_list_lessons_has_every_file_once_with_its_id() -> None:
    infos = list_lessons()
    assert sorted(i.id for i in infos) == sorted(p.stem for p in LESSON_FILES)
    for i in infos:
        assert i.path.stem == i.id, "a lesson's file name is its id"
        assert i.title and i.level in ("beginner", "intermediate", "advanced") and i.concepts


def test_list_lessons_sorts_by_level_then_id() -> None:
    order = {"beginner": 0, "intermediate": 1, "advanced": 2}
    keys = [(order[i.level], i.id) for i in list_lessons()]
    assert keys == sorted(keys)


def test_files_without_a_lesson_block_are_not_lessons(tmp_path: Path) -> None:
    (tmp_path / "plain.yaml").write_text('evtool: "1"\nid: plain\n', encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("lesson: [unclosed\n", encoding="utf-8")
    (tmp_path / "one.yaml").write_text('evtool: "1"\nid: one\nlesson: {title: One, summary: s, level: advanced, '
                                       "concepts: [a, b]}\n", encoding="utf-8")
    assert read_lesson_info(tmp_path / "plain.yaml") is None
    infos = list_lessons(tmp_path)
    assert [(i.id, i.title, i.level, i.concepts) for i in infos] == [("one", "One", "advanced", ("a", "b"))]


def test_find_lesson_by_id_or_file_name() -> None:
    assert find_lesson("retries-dlq-poison") == lesson_dir() / "retries-dlq-poison.yaml"
    assert find_lesson("retries-dlq-poison.yaml") == lesson_dir() / "retries-dlq-poison.yaml"


def test_find_lesson_suggests_a_close_name() -> None:
    with pytest.raises(LessonNotFound, match="did you mean `retries-dlq-poison`"):
        find_lesson("retries-dlq-poisson")
    with pytest.raises(LessonNotFound, match="the lessons are: .*`pubsub-fanout`"):
        find_lesson("zzzz")
    with pytest.raises(LessonNotFound):
        find_lesson("../pyproject")


@pytest.mark.parametrize("path", LESSON_FILES, ids=lambda p: p.stem)
def test_lesson_has_what_the_issue_asks(path: Path) -> None:
    loaded = load_scenario(path)
    sc = loaded.model
    assert sc.id == path.stem
    lesson = sc.lesson
    assert lesson is not None
    assert lesson.title and lesson.summary and lesson.concepts and lesson.goals
    assert lesson.steps, "narrated steps"
    assert any(s.pause for s in lesson.steps), "at least one step pauses at a moment that matters"
    assert any(s.ask is not None for s in lesson.steps), "at least one question"
    breaking = [v for v in lesson.try_next if isinstance(v, Variation) and v.set and v.fails]
    assert breaking, "at least one structured variation that makes an expectation fail"
    names = [e.name for e in sc.expect]
    assert all(names) and len(set(names)) == len(names), "expectations are named, once each"
    for v in breaking:
        assert set(v.fails) <= set(names)
    for step in lesson.steps:
        if step.ask is not None and step.ask.choices:
            assert step.ask.answer in step.ask.choices, f"answer {step.ask.answer!r} is not among the choices"
    known = {p.stem for p in LESSON_FILES}
    assert set(lesson.prerequisites) <= known, "prerequisites name bundled lessons"


@pytest.mark.parametrize("path", LESSON_FILES, ids=lambda p: p.stem)
def test_lesson_runs_are_short(path: Path) -> None:
    run = load_scenario(path).model.run
    assert run.duration + run.drain.max <= 5 * 60 * 10**9, "a lesson's virtual time stays within a few minutes"


def test_docs_lessons_md_names_every_lesson_and_only_real_ones() -> None:
    import re

    text = (ROOT / "docs" / "lessons.md").read_text(encoding="utf-8")
    known = {p.stem for p in LESSON_FILES}
    table_ids = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.MULTILINE))
    assert table_ids == known, "the lessons table lists exactly the bundled lessons"
    concept_rows = [line for line in text.splitlines() if line.startswith("| ") and "|" in line[2:]]
    mentioned = set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", "\n".join(concept_rows)))
    lesson_like = {m for m in mentioned if m in known or m.endswith(("-consumer", "-saga", "-ordering"))}
    assert lesson_like <= known, f"docs/lessons.md names lessons that do not exist: {lesson_like - known}"
    for concept in ("发布-订阅", "点对点", "请求-响应", "事件溯源", "CQRS", "死信队列", "Saga", "RabbitMQ",
                    "Apache Kafka", "Amazon SQS", "Spring Cloud Stream", "Apache Camel"):
        assert concept in text
