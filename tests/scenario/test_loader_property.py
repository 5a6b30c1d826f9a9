"""Property: whatever text or YAML tree the loader is fed, it raises nothing but ScenarioError.

Three generators: arbitrary text; arbitrary YAML trees; and valid scenarios
with one subtree replaced by an arbitrary value (which reaches the deep
validators, the cross-reference checks and the small languages).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from fixture_files import VALID_FILES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.scenario.yamlsource import parse_yaml

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = ["queue", "log", "topic", "router", "poisson", "constant", "crash", "drop", "no_loss", "that", "check",
         "kind", "dist", "uniform", "10s", "0s", "-1s", "20/s", "max", "end", "forever", "4KiB", "on", "yes",
         "${x}", "{{ uuid() }}", "{{", "count(delivered) > 1", "delivered{tag=", "msg.payload.a <", "1->2",
         "consumer:billing#9", "channel:nope", "fault:x", "", " ", "null", "~", "é", "\x00"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), st.sampled_from(WORDS),
)
keys = st.one_of(st.text(max_size=12), st.sampled_from(WORDS))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=25,
)

_BASES: list[Any] = [parse_yaml(p.read_text(encoding="utf-8"), str(p))[0] for p in VALID_FILES]


def _load(text: str) -> None:
    try:
        load_text(text, "fuzz.yaml")
    except ScenarioError as err:
        assert err.problems, "a ScenarioError always says why"
        for p in err.problems:
            assert p.file in ("fuzz.yaml", "--set") and p.line >= 1 and p.column >= 1
            assert p.message


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    _load(text)


@SETTINGS
@given(st.lists(st.sampled_from([*WORDS, ":", "- ", "\n", "  ", "&a ", "*a", "!!str ", "!x ", "[", "]", "{", "}",
                                 ",", "'", '"', "#", "---\n", "? ", "|\n", "<<: "]), max_size=60))
def test_yaml_shaped_text(parts: list[str]) -> None:
    _load("".join(parts))


@SETTINGS
@given(trees)
def test_arbitrary_yaml_tree(tree: Any) -> None:
    _load(yaml.safe_dump(tree, allow_unicode=True))


@SETTINGS
@given(st.data())
def test_valid_scenario_with_one_subtree_replaced(data: st.DataObject) -> None:
    base = copy.deepcopy(data.draw(st.sampled_from(_BASES)))
    path = data.draw(st.sampled_from(_paths(base)))
    mutated = _replace(base, path, data.draw(trees))
    _load(yaml.safe_dump(mutated, allow_unicode=True, sort_keys=False))


@SETTINGS
@given(st.data())
def test_valid_scenario_with_arbitrary_overrides(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(_BASES))
    path = data.draw(st.sampled_from([p for p in _paths(base) if p]))
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")
    value = data.draw(st.one_of(trees, st.text(max_size=10)))
    try:
        load_text(yaml.safe_dump(base, sort_keys=False), "fuzz.yaml", {dotted: value})
    except ScenarioError:
        pass
    try:
        load_text(yaml.safe_dump(base, sort_keys=False), "fuzz.yaml", [f"{dotted}={value}"])
    except ScenarioError:
        pass
