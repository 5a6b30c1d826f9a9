"""Every ```python example in docs/api.md runs, in order, in one namespace, in an empty folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _examples() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(_examples()) >= 6


def test_every_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVTOOL_DB", raising=False)
    monkeypatch.setenv("EVTOOL_CONFIG", "")
    namespace: dict[str, object] = {"__name__": "docs_api"}
    for i, code in enumerate(_examples(), 1):
        try:
            exec(compile(code, f"docs/api.md example {i}", "exec"), namespace)  # noqa: S102 - the docs' own code
        except Exception as exc:
            raise AssertionError(f"docs/api.md example {i} failed: {exc!r}\n{code}") from exc
    out = capsys.readouterr().out
    assert "poison-attempts (fail)" in out and "re-run: evtool run retries-dlq-poison --seed 7" in out
    assert (tmp_path / ".evtool" / "runs.db").exists()
