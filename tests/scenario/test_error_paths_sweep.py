"""Every value of every bundled lesson, replaced by a wrong one: the problem is told in the language's words.

For each place a lesson writes a value (one place per key shape: `consumers.*.prefetch` once, whichever
lesson has it first), the value is replaced by a number out of range, a word, a mapping and a list. Each
problem's path must be a path of the document (never a member name pydantic gives a union, such as
`constrained-int` or `literal['unlimited']`), and its message must not say that nothing was found where a
value was written (it said `found nothing (null)` for `prefetch: 0` when the path held `constrained-int`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from evtool.scenario.errors import ScenarioError
from evtool.scenario.lessons import list_lessons
from evtool.scenario.loader import load_text

WRONG: list[Any] = [0, "abc", {"x": 1}, [1]]
PYDANTIC_WORDS = re.compile(r"constrained-|literal\[|function-(after|before|wrap|plain)|nullable\[|tagged-union|"
                            r"json-or-python|lax-or-strict|is-instance|model-fields")


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    else:
        yield path


def _shape(path: tuple[Any, ...]) -> tuple[Any, ...]:
    """The path with the names a scenario chooses (channels, actors, list positions) left out."""
    named = {"channels", "producers", "consumers", "schemas", "params", "patterns", "effects"}
    out: list[Any] = []
    for i, part in enumerate(path):
        out.append("*" if isinstance(part, int) or (i > 0 and path[i - 1] in named) else part)
    return tuple(out)


def _places() -> list[tuple[str, tuple[Any, ...]]]:
    seen: set[tuple[Any, ...]] = set()
    places = []
    for info in list_lessons():
        doc = yaml.safe_load(info.path.read_text(encoding="utf-8"))
        for path in _leaves(doc):
            if not path or path[0] in ("lesson", "evtool", "id"):  # the lesson's prose; the two headers
                continue
            if _shape(path) not in seen:
                seen.add(_shape(path))
                places.append((info.id, path))
    return places


PLACES = _places()


def test_the_sweep_covers_the_language() -> None:
    assert len(PLACES) > 100
    assert {p[0] for _, p in PLACES} >= {"run", "channels", "producers", "consumers", "faults", "expect"}


@pytest.mark.parametrize(("lesson", "path"), PLACES, ids=[".".join(map(str, p)) for _, p in PLACES])
def test_a_wrong_value_is_told_at_a_path_of_the_document(lesson: str, path: tuple[Any, ...]) -> None:
    info = next(i for i in list_lessons() if i.id == lesson)
    doc = yaml.safe_load(info.path.read_text(encoding="utf-8"))
    for wrong in WRONG:
        broken = copy.deepcopy(doc)
        node = broken
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = wrong
        try:
            load_text(yaml.safe_dump(broken, sort_keys=False), "x.yaml")
        except ScenarioError as exc:
            for problem in exc.errors:
                assert not PYDANTIC_WORDS.search(problem.path), (wrong, problem.format())
                assert "found nothing" not in problem.message, (wrong, problem.format())
                assert "Input should" not in problem.message, (wrong, problem.format())
