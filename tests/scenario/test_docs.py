"""docs/scenario-language.md stays in step with the models, the trace vocabulary and the metrics.

The reference is written by hand. Each table of keys is preceded by a marker
`<!-- model: Name Other -->` naming the models it documents; these tests
fail when a model gains a key the doc does not list, when the doc lists a
key no model has, or when an event kind or metric is missing.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from evtool.scenario import models as m
from evtool.scenario.loader import load_text
from evtool.scenario.selectors import METRICS
from evtool.scenario.vocabulary import KINDS
from evtool.scenario.yamlsource import parse_yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenario-language.md"
TEXT = DOC.read_text(encoding="utf-8")

# Bases that only lend their fields to the models documented here.
ABSTRACT = {m.Model, m.DeliveryChannel, m.FaultBase, m.ProbabilisticFault, m.CheckBase}
MODELS = [cls for cls in vars(m).values()
          if inspect.isclass(cls) and issubclass(cls, BaseModel) and cls.__module__.startswith(m.__name__ + ".")
          and cls not in ABSTRACT]

_MARKER = re.compile(r"<!-- model: ([A-Za-z ]+?) -->")
_ROW_KEY = re.compile(r"^\| `([^`]+)` \|", re.M)
_YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def _sections() -> list[tuple[list[str], list[str]]]:
    """(model names, documented keys) for every marked table."""
    out = []
    marks = list(_MARKER.finditer(TEXT))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(TEXT)
        # The keys table is the first run of `|` lines after the marker.
        lines = TEXT[mark.end():end].strip("\n").splitlines()
        table = []
        for line in lines:
            if not line.startswith("|"):
                break
            table.append(line)
        assert table, f"marker {mark.group(0)} is not followed by a table"
        out.append((mark.group(1).split(), _ROW_KEY.findall("\n".join(table))))
    return out


SECTIONS = _sections()


def _aliases(cls: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in cls.model_fields.items()}


def _section_of(title: str) -> str:
    start = TEXT.index(f"\n## {title}\n")
    end = TEXT.find("\n## ", start + 1)
    return TEXT[start:end if end != -1 else len(TEXT)]


def test_markers_name_real_models() -> None:
    names = {cls.__name__ for cls in MODELS}
    for models, _keys in SECTIONS:
        assert set(models) <= names, models


@pytest.mark.parametrize("cls", MODELS, ids=[c.__name__ for c in MODELS])
def test_every_field_is_documented(cls: type[BaseModel]) -> None:
    documented: set[str] = set()
    found = False
    for models, keys in SECTIONS:
        if cls.__name__ in models:
            found = True
            documented |= set(keys)
    assert found, f"no `<!-- model: {cls.__name__} -->` table in {DOC.name}"
    missing = _aliases(cls) - documented
    assert not missing, f"{cls.__name__}: keys missing from {DOC.name}: {sorted(missing)}"


def test_no_documented_key_is_stale() -> None:
    by_name = {cls.__name__: cls for cls in MODELS}
    for models, keys in SECTIONS:
        known = set().union(*(_aliases(by_name[n]) for n in models))
        stale = set(keys) - known
        assert not stale, f"{models}: documented but not a key: {sorted(stale)}"


def test_every_trace_event_kind_is_listed() -> None:
    listed = _ROW_KEY.findall(_section_of("Trace events"))
    assert set(listed) == set(KINDS)
    assert len(listed) == len(KINDS)


def test_every_metric_is_listed() -> None:
    listed = _ROW_KEY.findall(_section_of("Metrics"))
    assert set(listed) == set(METRICS)


def test_every_yaml_example_is_strict_yaml() -> None:
    blocks = _YAML_BLOCK.findall(TEXT)
    assert len(blocks) >= 30
    for block in blocks:
        parse_yaml(block, DOC.name)  # raises ScenarioError on duplicate keys, `on:` keys, tabs, ...


def test_complete_examples_load() -> None:
    complete = [b for b in _YAML_BLOCK.findall(TEXT) if b.startswith('evtool: "1"\nid:') and "run:" in b]
    assert complete
    for block in complete:
        load_text(block, DOC.name)


def test_every_check_and_fault_action_is_named() -> None:
    for check in m.CHECK_NAMES:
        assert f"`{check}`" in _section_of("expect"), check
    for cls in MODELS:
        action = cls.model_fields.get("action")
        if action is not None:
            (name,) = action.annotation.__args__  # type: ignore[union-attr]
            assert f"| `{name}` |" in _section_of("faults"), name


def test_the_in_flight_defaults_table_matches_the_profiles() -> None:
    """The consumer section's table of default prefetches says what docs/profiles.md (the code) says."""
    from evtool.core.profiles import PROFILES

    section = TEXT[TEXT.index("#### In-flight defaults"):]
    section = section[:section.index("\n### ")]
    rows = re.findall(r"^\| (`[^|]+) \| ([^|]+) \|", section, re.M)
    seen = set()
    for names, default in rows:
        for name in re.findall(r"`([a-z-]+)`", names):
            p = PROFILES[name]
            words = default.strip()
            shown = "unlimited" if p.prefetch == 0 else str(p.prefetch)
            assert words.split()[0] == shown, (name, words)
            if p.prefetch_cap is not None:
                assert f"{p.prefetch_cap}" in words, (name, words)
            seen.add(name)
    assert seen == set(PROFILES)

