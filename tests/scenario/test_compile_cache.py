"""The compiled selectors, assertions, expressions and templates are cached by source text and shared.

Sharing is only sound if a compiled object never changes after it is compiled: these tests check that
each one is frozen, and that using it (matching, evaluating, rendering) leaves every value reachable
from it (dataclass fields, closure cells, default arguments) exactly as it was, for every text the
bundled lessons compile.
"""

from __future__ import annotations

import dataclasses
import random
import types
from pathlib import Path
from typing import Any

import pytest

from evtool.scenario import expressions, selectors, templates
from evtool.scenario.expressions import ExpressionRuntimeError, compile_expression
from evtool.scenario.loader import load_scenario
from evtool.scenario.selectors import FIELD_LABELS, SelectorError, parse_assertion, parse_selector
from evtool.scenario.templates import TemplateRuntimeError, compile_template
from evtool.scenario.textcache import TextCache

LESSONS = sorted((Path(__file__).resolve().parents[2] / "evtool" / "lessons").glob("*.yaml"))


def _state(obj: Any, seen: set[int] | None = None) -> Any:
    """A comparable picture of everything reachable from `obj`: containers by content, functions by
    their closure cells and defaults, dataclasses by their fields (mutable containers keep their id,
    so a container swapped for another shows too)."""
    seen = set() if seen is None else seen
    if isinstance(obj, (str, int, float, bool, type(None), bytes, complex, range)):
        return obj
    if id(obj) in seen:
        return ("seen", id(obj))
    seen.add(id(obj))
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return (type(obj).__name__, id(obj) if isinstance(obj, (list, set)) else 0,
                [_state(v, seen) for v in items])
    if isinstance(obj, dict):
        return ("dict", id(obj), [(repr(k), _state(v, seen)) for k, v in obj.items()])
    if isinstance(obj, types.MethodType):
        return ("method", _state(obj.__self__, seen), _state(obj.__func__, seen))
    if isinstance(obj, types.FunctionType):
        if obj.__module__ not in {"evtool.scenario.expressions", "evtool.scenario.templates",
                                  "evtool.scenario.selectors", "evtool.scenario.labels"}:
            return ("function", obj.__qualname__)  # a library function (operator, math, ...) keeps no state here
        cells = [_state(c.cell_contents, seen) for c in obj.__closure__ or () if _filled(c)]
        return ("function", obj.__qualname__, cells, _state(obj.__defaults__, seen),
                _state(obj.__kwdefaults__, seen))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__, [(f.name, _state(getattr(obj, f.name), seen)) for f in dataclasses.fields(obj)])
    if callable(obj):  # a builtin, a class, an operator.attrgetter, a compiled regex method
        return ("callable", repr(obj))
    return ("object", type(obj).__name__, repr(obj))


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def compiled() -> dict[str, list[Any]]:
    """Every selector, assertion, expression and template the bundled lessons compile."""
    for path in LESSONS:
        load_scenario(path)
    return {
        "selectors": list(selectors._SELECTORS.items()),
        "assertions": list(selectors._ASSERTIONS.items()),
        "expressions": list(expressions._COMPILED.items()),
        "templates": list(templates._COMPILED.items()),
    }


def test_the_lessons_fill_every_cache(compiled: dict[str, list[Any]]) -> None:
    assert all(compiled.values()), {k: len(v) for k, v in compiled.items()}


def test_a_text_compiles_once() -> None:
    assert parse_selector("delivered{tag=poison}") is parse_selector("delivered{tag=poison}")
    assert parse_assertion("count(delivered) >= 1") is parse_assertion("count(delivered) >= 1")
    assert compile_expression("msg.amount > 3") is compile_expression("msg.amount > 3")
    assert compile_template("order-{{ seq }}") is compile_template("order-{{ seq }}")


def test_the_names_allowed_are_part_of_the_key() -> None:
    wide = compile_expression("state.total + 1")
    with pytest.raises(expressions.ExpressionError):
        compile_expression("state.total + 1", names=frozenset({"msg"}))
    assert compile_expression("state.total + 1") is wide


def test_a_failed_compile_is_not_cached_and_fails_the_same_way_again() -> None:
    with pytest.raises(SelectorError) as first:
        parse_selector("delivered(")
    with pytest.raises(SelectorError) as second:
        parse_selector("delivered(")
    assert (str(first.value), first.value.column) == (str(second.value), second.value.column)
    assert "delivered(" not in selectors._SELECTORS


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "_COMPILED", TextCache(4))
    for i in range(10):
        compile_template(f"t-{i}-{{{{ seq }}}}")
        assert len(templates._COMPILED) <= 4


def test_compiled_objects_are_frozen(compiled: dict[str, list[Any]]) -> None:
    for kind, objs in compiled.items():
        for _, obj in objs:
            first = dataclasses.fields(obj)[0].name
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(obj, first, "changed")
            if kind == "assertions":
                for node in [obj.compare, *obj.aggregates(), *obj.selectors()]:
                    assert type(node).__dataclass_params__.frozen, type(node)
            if kind == "selectors":
                for f in obj.filters:
                    assert type(f).__dataclass_params__.frozen


class _Event:
    """A trace event with every field a selector may read."""

    def __init__(self, kind: str, data: dict[str, Any]) -> None:
        self.kind = kind
        self.data = data
        for attr in FIELD_LABELS.values():
            setattr(self, attr, data.get(attr, "x"))


def _envs() -> list[dict[str, Any]]:
    msgs = [{"amount": 5, "id": "o-1", "kind": "order", "attempt": 1, "seq": 2, "key": "k"},
            {"amount": -1, "id": "o-2", "items": [1, 2], "total": 9.5}, {}]
    return [{"msg": m, "state": {"total": 3, "seen": ["a"]}, "key": "k1", "attempt": 2, "now": 1.5,
             "params": {"rate": 10}, "tag": "poison", "seq": 7, "n": 3, "producer": "p", "instance": 0}
            for m in msgs]


def _use(kind: str, obj: Any) -> list[Any]:
    """Use a compiled object every way a run does, collecting what it gives (or the error)."""
    out: list[Any] = []
    if kind == "selectors":
        for ev in (_Event(obj.name, {"tag": "poison", "group": "g"}), _Event("other", {}), _Event(obj.name, {})):
            out.append(obj.matches(ev))
            out.append(obj.matches_labels(ev.data))
    elif kind == "assertions":
        for value in (None, 0.0, 3.0, 1e9):
            out.append(obj.evaluate(lambda agg, v=value: v))
    elif kind == "expressions":
        for env in _envs():
            try:
                out.append(repr(obj.evaluate(env)))
            except ExpressionRuntimeError as exc:
                out.append(str(exc))
    else:
        for env in _envs():
            try:
                out.append(repr(obj.render(env, random.Random(7))))
            except TemplateRuntimeError as exc:
                out.append(str(exc))
    return out


def test_using_a_compiled_object_changes_nothing_reachable_from_it(compiled: dict[str, list[Any]]) -> None:
    checked = 0
    for kind, objs in compiled.items():
        for text, obj in objs:
            before = _state(obj)
            first = _use(kind, obj)
            assert _state(obj) == before, (kind, text)
            assert _use(kind, obj) == first, (kind, text)  # same inputs, same answers: no hidden state
            checked += 1
    assert checked >= 20


def test_a_shared_object_behaves_like_a_fresh_compile(compiled: dict[str, list[Any]]) -> None:
    fresh = {"selectors": selectors._parse_selector, "assertions": selectors._parse_assertion,
             "expressions": lambda key: expressions._compile_expression(*key),
             "templates": templates._compile_template}
    for kind, objs in compiled.items():
        for key, obj in objs:
            again = fresh[kind](key)
            assert again is not obj
            _use(kind, obj)  # used before ...
            assert _use(kind, obj) == _use(kind, again), (kind, key)  # ... still the same as new
