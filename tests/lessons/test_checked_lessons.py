"""One lesson index for the listing and the dashboard's picker (scenario/lessons.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from evtool.scenario.lessons import checked_lessons, find_lesson, list_lessons


def test_the_picker_and_the_listing_agree_on_every_bundled_lesson() -> None:
    listed = {i.id: i for i in list_lessons()}
    checked = {i.id: i for i in checked_lessons()}
    assert listed.keys() == checked.keys()
    for lesson_id, info in checked.items():
        assert info.error is None, f"{lesson_id}: {info.error}"
        assert (info.title, info.level, info.concepts, info.summary, info.goals) == (
            listed[lesson_id].title, listed[lesson_id].level, listed[lesson_id].concepts, listed[lesson_id].summary,
            listed[lesson_id].goals)


def test_a_broken_lesson_shows_its_first_problem_last(tmp_path: Path) -> None:
    shutil.copy(find_lesson("retries-dlq-poison"), tmp_path / "retries-dlq-poison.yaml")
    (tmp_path / "broken.yaml").write_text('evtool: "1"\nid: broken\nchannels: {}\nlesson: {title: x}\n')
    infos = checked_lessons(tmp_path)
    assert [i.id for i in infos] == ["retries-dlq-poison", "broken"]
    assert infos[1].error is not None and infos[1].error.split(":")[0].isdigit()
