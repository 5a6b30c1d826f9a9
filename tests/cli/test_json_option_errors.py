"""Issue 13: under `--json`, a bad option value is the JSON error object (file, line, column, message, hint)
on stdout and exit 2, whether click refuses it (`--seed abc`) or the command does (`--record bogus`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app

ERROR_FIELDS = {"file", "line", "column", "message", "hint"}

BAD_RUN_OPTIONS = [
    (["--record", "bogus"], "--record"), (["--speed", "fast"], "--speed"), (["--seed", "abc"], "--seed"),
    (["--max-wall", "soon"], "--max-wall"), (["--max-memory", "lots"], "--max-memory"),
    (["--max-memory", "0B"], "--max-memory"), (["--duration", "x"], "--duration"),
    (["--max-events", "0"], "--max-events"), (["--transport", "foo"], "--transport"),
    (["--compare", "local"], "--compare"), (["--bogus-flag"], "evtool run"),
    (["--set", "nope"], "--set"),
]


def _invoke(args: list[str], tmp_path: Path) -> Any:
    return CliRunner().invoke(app, args, env={"COLUMNS": "80", "NO_COLOR": "1", "EVTOOL_DB": str(tmp_path / "r.db")})


def _error(result: Any) -> dict[str, Any]:
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and set(doc["error"]) == ERROR_FIELDS, doc
    return doc["error"]


@pytest.mark.parametrize(("args", "where"), BAD_RUN_OPTIONS, ids=[" ".join(a) for a, _ in BAD_RUN_OPTIONS])
def test_bad_run_option_under_json(args: list[str], where: str, tmp_path: Path) -> None:
    error = _error(_invoke(["run", "retries-dlq-poison", "--json", *args], tmp_path))
    assert error["file"] == where and error["message"]
    assert "Traceback" not in error["message"] and "╭" not in error["message"]


@pytest.mark.parametrize("args", [["runs", "--limit", "0"], ["runs", "--outcome", "bogus"], ["show", "zzz"],
                                  ["diff", "a", "b"], ["explain", "nope"], ["lessons", "--bogus"]])
def test_reader_and_lesson_commands_under_json(args: list[str], tmp_path: Path) -> None:
    error = _error(_invoke([*args, "--json"], tmp_path))
    assert error["message"]


def test_without_json_the_error_stays_text(tmp_path: Path) -> None:
    result = _invoke(["run", "retries-dlq-poison", "--record", "bogus"], tmp_path)
    assert result.exit_code == 2 and "--record 'bogus'" in result.output and "{" not in result.output
    result = _invoke(["run", "retries-dlq-poison", "--seed", "abc"], tmp_path)
    assert result.exit_code == 2 and "--seed" in result.output and '"valid"' not in result.output


def test_a_bad_option_is_reported_before_the_scenario_is_read(tmp_path: Path) -> None:
    """The option is checked first: a missing file with a bad --record reports the option (one round)."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("evtool: '1'\nid: [\n", encoding="utf-8")
    error = _error(_invoke(["run", str(broken), "--json", "--record", "bogus"], tmp_path))
    assert error["file"] == "--record"
