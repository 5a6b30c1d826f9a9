"""A lesson's variations are checked on the kept parse of its file, copied only where an override writes.

`_check_variations` loads the lesson once per `try_next` variation; those loads read the document the
parser keeps (`parse_yaml(shared=True)`) and `_apply_sets` copies each container on an override's path
before it writes. Neither the kept document nor a later read may see a variation's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evtool.scenario import yamlsource
from evtool.scenario.loader import Locations, _apply_sets, load_text

LESSONS = sorted((Path(__file__).resolve().parents[2] / "evtool" / "lessons").glob("*.yaml"))


def _with_variations() -> list[Path]:
    return [p for p in LESSONS if "try_next" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", _with_variations(), ids=lambda p: p.stem)
def test_checking_the_variations_leaves_the_kept_document_as_read(path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_text(encoding="utf-8")
    monkeypatch.setattr(yamlsource, "_CACHE", {})
    pristine, pristine_loc = yamlsource.parse_yaml(text, str(path))
    monkeypatch.setattr(yamlsource, "_CACHE", {})
    load_text(text, str(path))  # the base load, then one load per variation on the kept document
    kept, kept_loc = yamlsource.parse_yaml(text, str(path), shared=True)
    assert kept == pristine
    assert (kept_loc.values, kept_loc.keys, kept_loc.quoted) == (pristine_loc.values, pristine_loc.keys,
                                                                 pristine_loc.quoted)


def test_copy_on_write_sets_change_only_copies() -> None:
    shared: dict[str, Any] = {"consumers": {"a": {"instances": 1, "retry": {"max_attempts": 3}}},
                              "faults": [{"at": "1s"}], "run": {"seed": 1}}
    before = repr(shared)
    data = dict(shared)
    problems: list[Any] = []
    _apply_sets(data, {"consumers.a.retry.max_attempts": 5, "faults[0].at": "2s", "faults[+]": {"at": "3s"},
                       "run.seed": 9}, Locations("x.yaml"), problems, copy_on_write=True)
    assert not problems
    assert repr(shared) == before  # the shared containers are untouched ...
    assert data["consumers"]["a"]["retry"]["max_attempts"] == 5  # ... and the copies carry the overrides
    assert data["faults"] == [{"at": "2s"}, {"at": "3s"}] and data["run"] == {"seed": 9}
    assert data["consumers"]["a"]["instances"] == 1


def test_without_copy_on_write_sets_change_in_place() -> None:
    """The ordinary path (a fresh copy from the parser) still writes in place: the flag is what copies."""
    shared: dict[str, Any] = {"run": {"seed": 1}}
    _apply_sets(shared, {"run.seed": 9}, Locations("x.yaml"), [])
    assert shared == {"run": {"seed": 9}}
