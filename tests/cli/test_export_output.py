"""`export -o` never destroys data: never the run database, never an existing file without --force."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from synthetic_runs import synthetic_events, synthetic_header
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.store.model import RunResult, utc_now_iso
from evtool.store.recorder import Recorder
from evtool.store.runstore import SyncRunStore


def cli(*args: str, **env: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1", **env})


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the default run store (.evtool/runs.db) holding one run."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVTOOL_DB", raising=False)
    db = tmp_path / ".evtool" / "runs.db"
    rec = Recorder(db)
    rec.start(synthetic_header())
    rec.record(list(synthetic_events(100)))
    rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso()))
    rec.wait(30)
    return tmp_path


def _runs(db: Path) -> int:
    with SyncRunStore(db) as store:
        return len(store.list_runs())


@pytest.mark.parametrize("fmt", ["md", "jsonl"])
def test_export_refuses_to_overwrite_the_run_database(store_dir: Path, fmt: str) -> None:
    db = store_dir / ".evtool" / "runs.db"
    before = db.read_bytes()
    r = cli("export", "last", "-f", fmt, "-o", ".evtool/runs.db")
    assert r.exit_code == 2 and "refusing to write the export onto the run database" in r.output, r.output
    r = cli("export", "last", "-f", fmt, "-o", ".evtool/runs.db", "--force")  # --force does not change that
    assert r.exit_code == 2 and "refusing" in r.output
    assert db.read_bytes() == before and _runs(db) == 1


def test_export_refuses_the_database_by_any_other_name(store_dir: Path) -> None:
    db = store_dir / ".evtool" / "runs.db"
    (store_dir / "link.db").symlink_to(db)
    os.link(db, store_dir / "hard.db")
    (store_dir / "sub").mkdir()
    for name in ("link.db", "hard.db", "sub/../.evtool/runs.db", str(db), ".evtool/runs.db-wal"):
        r = cli("export", "last", "-o", name, "--force", "--db", str(db))
        assert r.exit_code == 2 and "refusing" in r.output, (name, r.output)
    assert _runs(db) == 1
    other = store_dir / "other.db"
    r = cli("export", "last", "-o", str(db), "--db", str(other))
    assert r.exit_code == 2  # not refused as the database (another one is open) but as an existing file
    assert "already exists" in r.output and _runs(db) == 1


def test_export_refuses_an_existing_file_without_force(store_dir: Path) -> None:
    notes = store_dir / "notes.md"
    notes.write_text("my notes\n")
    r = cli("export", "last", "-o", "notes.md")
    assert r.exit_code == 2 and "already exists" in r.output and "--force" in r.output
    assert notes.read_text() == "my notes\n"
    r = cli("export", "last", "-o", "notes.md", "--force")
    assert r.exit_code == 0, r.output
    assert notes.read_text().startswith("# Retries")
    r = cli("export", "last", "-f", "json", "-o", "fresh.json")
    assert r.exit_code == 0 and (store_dir / "fresh.json").read_text().startswith("{")
    assert not [p for p in store_dir.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


def test_export_to_a_directory_is_refused(store_dir: Path) -> None:
    r = cli("export", "last", "-o", str(store_dir))
    assert r.exit_code == 2 and "is a directory" in r.output
