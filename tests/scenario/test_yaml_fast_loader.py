"""The libyaml reader gives exactly what the pure-Python reader gives: values, positions, problems.

`parse_yaml` composes with PyYAML's `CSafeLoader` when PyYAML has libyaml (its wheels do) and
falls back to the pure `SafeLoader` for documents libyaml refuses. Every YAML file in the
repository (lessons, scenarios, valid, invalid and hostile fixtures, the semantics atlas) and a
set of awkward snippets are read both ways and must agree on every value, every key and value
position, every quoted path, and on every problem (file, line, column, path, message, hint).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from evtool.scenario import yamlsource
from evtool.scenario.errors import ScenarioError
from evtool.scenario.yamlsource import decode_text, parse_yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*ROOT.glob("evtool/lessons/*.yaml"), *ROOT.glob("scenarios/*.yaml"), *ROOT.glob("tests/**/*.yaml")]
)

SNIPPETS = {
    "non-ascii": 'id: "é x"\nb: [1, {c: ü, d: 2}]\n# ö\nc:\n  - ééé: 3\n    f: "\U0001f600" \n    g: 😀x\n',
    "crlf": "evtool: '1'\r\nid: x\r\nchannels:\r\n  q: {kind: queue}\r\n",
    "cr-only": "a: 1\rb: 2\r",
    "unicode-breaks": "a: x\u2028b\nc: y\x85z\nd: [1,\u20292]\n",
    "block-scalars": "a: |\n  one\n  two\nb: >-\n  three\n  four\nc: 'single ''q'''\n",
    "anchors": "base: &b {x: 1, y: [1, 2]}\nuse: *b\nother: *b\n",
    "tab-indent": "a:\n\tb: 1\n",
    "unclosed-quote": 'a: "abc\nb: 2\n',
    "unclosed-flow": "a: {b: 1, c: 2\nd: 3\n",
    "bad-indent": "a:\n  b: 1\n c: 2\n",
    "two-docs": "a: 1\n---\nb: 2\n",
    "undefined-alias": "a: *nope\n",
    "bad-char": "a: @x\n",
    "duplicate": "a: 1\na: 2\n",
    "on-key": "on: 1\n",
    "tag": "a: !!python/object x\n",
    "merge": "b: &b {x: 1}\nc: {<<: *b}\n",
    "empty": "",
    "comment-only": "# nothing\n",
    "deep-block": "".join("  " * i + f"k{i}:\n" for i in range(60)) + "  " * 60 + "v\n",
    "compact-deep": "- " * 1500 + "x\n",
    "long-line": "a: " + "x" * 100_000 + "\n",
    "numbers": "a: 0x1F\nb: 0o17\nc: 1.5e3\nd: .inf\ne: -.inf\nf: .nan\ng: 1:30\nh: 2001-12-14\n",
}


def _outcome(text: str, name: str) -> tuple[str, Any, Any]:
    try:
        value, loc = parse_yaml(text, name)
    except ScenarioError as exc:
        return "error", [(p.file, p.line, p.column, p.path, p.message, p.hint) for p in exc.problems], None
    return "ok", _norm(value), (loc.values, loc.keys, loc.quoted)


def _norm(value: Any) -> Any:
    """NaN never equals itself: compare it as a marker."""
    if isinstance(value, float) and math.isnan(value):
        return "<nan>"
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def _both(text: str, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[tuple[str, Any, Any], ...]:
    """The outcome read by libyaml and by the pure reader, each parsed afresh.

    `parse_yaml` keeps the last documents read: without an empty memo for each side, the pure
    read of a document the fast read has just parsed would get the fast read's copy back.
    """
    with monkeypatch.context() as m:
        m.setattr(yamlsource, "_CACHE", {})
        fast = _outcome(text, name)
    with monkeypatch.context() as m:
        m.setattr(yamlsource, "_CACHE", {})
        m.setattr(yamlsource, "_FAST_LOADER", None)
        pure = _outcome(text, name)
    return fast, pure


@pytest.fixture
def composed_by(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The loaders `yaml.compose_all` is called with, in order."""
    calls: list[object] = []
    real = yaml.compose_all

    def spy(stream: str, Loader: object) -> object:  # noqa: N803 (PyYAML's own keyword)
        calls.append(Loader)
        return real(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "compose_all", spy)
    return calls


needs_libyaml = pytest.mark.skipif(
    not getattr(yaml, "__with_libyaml__", False), reason="this PyYAML was built without libyaml (no CSafeLoader)"
)


def test_the_repository_has_yaml_files_to_compare() -> None:
    assert len(FILES) > 100, FILES
    assert any("invalid" in str(p) for p in FILES) and any("lessons" in str(p) for p in FILES)


@needs_libyaml
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_reads_the_same_with_libyaml(path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     composed_by: list[object]) -> None:
    try:
        text = decode_text(path.read_bytes(), str(path))
    except ScenarioError:
        pytest.skip("not UTF-8 text: refused before any YAML parsing")
    fast, pure = _both(text, str(path), monkeypatch)
    assert fast == pure
    # Both readers really ran: libyaml first (and, for a document it refuses, the pure reader for
    # the message), then the pure reader alone; a document refused before any parsing (too deep) reaches neither.
    assert fast[0] == "error" if not composed_by else composed_by[0] is yamlsource._FAST_LOADER and composed_by[-1] is yaml.SafeLoader
    if fast[0] == "ok":
        assert composed_by == [yamlsource._FAST_LOADER, yaml.SafeLoader]


@needs_libyaml
@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_awkward_snippets_read_the_same_with_libyaml(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, pure = _both(SNIPPETS[name], f"{name}.yaml", monkeypatch)
    assert fast == pure


@needs_libyaml
def test_libyaml_is_what_reads_a_valid_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid lesson is composed by libyaml, never by the pure reader."""
    calls: list[object] = []
    real = yaml.compose_all

    def spy(stream: str, Loader: object) -> object:  # noqa: N803 (PyYAML's own keyword)
        calls.append(Loader)
        return real(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "compose_all", spy)
    lesson = next(p for p in FILES if "lessons" in str(p))
    parse_yaml(lesson.read_text(encoding="utf-8"), str(lesson))
    assert calls == [yamlsource._FAST_LOADER] and issubclass(calls[0], yaml.CSafeLoader)


@needs_libyaml
def test_an_invalid_file_gets_the_pure_readers_message(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = yaml.compose_all

    def spy(stream: str, Loader: object) -> object:  # noqa: N803
        calls.append(Loader)
        return real(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "compose_all", spy)
    with pytest.raises(ScenarioError) as info:
        parse_yaml("a: {b: 1\n", "x.yaml")
    assert calls == [yamlsource._FAST_LOADER, yaml.SafeLoader]
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (1, 4)
    assert "expected ',' or '}'" in problem.message


def test_a_repeated_read_is_a_fresh_copy() -> None:
    """The loader reads a lesson again for each variation and changes what it gets: no read sees another's edits."""
    lesson = next(p for p in FILES if "lessons" in str(p))
    text = lesson.read_text(encoding="utf-8")
    first, loc1 = parse_yaml(text, str(lesson))
    pristine = _norm(first)
    first["id"] = "changed"
    first.setdefault("channels", {}).clear()
    loc1.values.clear()
    second, loc2 = parse_yaml(text, str(lesson))
    assert _norm(second) == pristine and second is not first
    assert loc2.values.get(("id",)) is not None
