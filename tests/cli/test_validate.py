"""`evtool validate`: exit 0 when every file is valid, 2 when any is not; `--json` for machines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "evtool" / "lessons").glob("*.yaml"))
VALID = sorted((ROOT / "tests" / "fixtures" / "valid").glob("*.yaml"))
INVALID = sorted((ROOT / "tests" / "fixtures" / "invalid").glob("*.yaml"))
_EXPECT_RE = re.compile(r"^# expect: (\d+):(\d+) (\S*): (.+)$")


def run(*args: str) -> Any:
    """Invoke the CLI in-process (stdout and stderr are both in `.output`)."""
    return CliRunner().invoke(app, list(args))


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = run("validate", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_every_lesson_and_valid_fixture_passes() -> None:
    files = [str(p) for p in [*LESSONS, *VALID]]
    result = run("validate", *files)
    assert result.exit_code == 0, result.output
    for f in files:
        assert f"✓ {f}: valid" in result.output


def test_json_output_for_valid_files() -> None:
    code, doc = run_json(str(VALID[0]), str(LESSONS[0]))
    assert code == 0
    assert doc["valid"] is True
    assert [f["file"] for f in doc["files"]] == [str(VALID[0]), str(LESSONS[0])]
    assert all(f["valid"] for f in doc["files"])
    assert all(isinstance(f["id"], str) and f["id"] for f in doc["files"])


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_fixture_json(path: Path) -> None:
    m = _EXPECT_RE.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert m, path
    code, doc = run_json(str(path))
    assert code == 2
    assert doc["valid"] is False
    (entry,) = doc["files"]
    assert entry["valid"] is False and entry["file"] == str(path)
    first = entry["problems"][0]
    assert set(first) == {"file", "line", "column", "path", "message", "hint", "severity"}
    assert (first["file"], first["line"], first["column"], first["path"]) == (str(path), int(m[1]), int(m[2]), m[3])
    assert m[4] in first["message"]
    assert first["severity"] == "error"


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_fixture_text(path: Path) -> None:
    m = _EXPECT_RE.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert m, path
    result = run("validate", str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{path}:{m[1]}:{m[2]}:" in result.output
    # The offending source line is quoted with a caret under the column.
    source_line = path.read_text(encoding="utf-8").splitlines()[int(m[1]) - 1]
    assert source_line in result.output
    assert " " * (int(m[2]) - 1) + "^" in result.output


def test_mixed_files_exit_2_and_report_each() -> None:
    code, doc = run_json(str(VALID[0]), str(INVALID[0]))
    assert code == 2
    assert [f["valid"] for f in doc["files"]] == [True, False]


def test_problems_sorted_by_line(tmp_path: Path) -> None:
    f = tmp_path / "two.yaml"
    f.write_text('evtool: "1"\nid: x\nrun: {seed: 1, duration: 5}\nchannels: {q: {kind: queu}}\n'
                 "consumers: {c: {from: q, instnaces: 1}}\n", encoding="utf-8")
    code, doc = run_json(str(f))
    assert code == 2
    lines = [p["line"] for p in doc["files"][0]["problems"]]
    assert lines == sorted(lines) and len(lines) == 3


def test_set_override_is_applied(tmp_path: Path) -> None:
    valid = str(VALID[0])
    assert run("validate", valid, "--set", "consumers.billing.instances=3").exit_code == 0
    code, doc = run_json(valid, "--set", "consumers.billing.instances=0")
    assert code == 2
    (p,) = doc["files"][0]["problems"]
    assert p["file"] == "--set" and p["path"] == "consumers.billing.instances"
    assert "must be at least 1" in p["message"] and "--set consumers.billing.instances" in p["message"]


def test_malformed_set_is_reported_without_traceback() -> None:
    result = run("validate", str(VALID[0]), "--set", "no-equals-sign")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "is not `path=value`" in result.output


def test_strict_turns_warnings_into_failure() -> None:
    everything = next(p for p in VALID if p.name == "everything.yaml")
    code, doc = run_json(str(everything))
    assert code == 0
    warnings = doc["files"][0]["problems"]
    assert warnings and all(w["severity"] == "warning" for w in warnings)
    code, doc = run_json("--strict", str(everything))
    assert code == 2 and doc["files"][0]["valid"] is False


def test_missing_file_exits_2(tmp_path: Path) -> None:
    code, doc = run_json(str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "cannot read the file" in doc["files"][0]["problems"][0]["message"]


def test_binary_and_empty_files(tmp_path: Path) -> None:
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\x00\x01\x02")
    empty = tmp_path / "e.yaml"
    empty.write_text("")
    code, doc = run_json(str(binary), str(empty))
    assert code == 2
    messages = [f["problems"][0]["message"] for f in doc["files"]]
    assert "binary" in messages[0] and "empty" in messages[1]


def test_validate_accepts_a_bundled_lesson_id_and_names_it() -> None:
    """A lesson id works wherever a scenario file does; messages name the lesson, never site-packages."""
    from typer.testing import CliRunner

    from evtool.cli.app import app

    result = CliRunner().invoke(app, ["validate", "retries-dlq-poison"])
    assert result.exit_code == 0, result.output
    assert "retries-dlq-poison: valid" in result.output
    assert "site-packages" not in result.output and "/lessons/" not in result.output
