"""Reader commands (`runs`, `show`, `inspect`, `export`, `diff`) and `new` never print a traceback.

Every store or file problem is exit 2 and a message that names the file and
the cause: a file that is not a database, a directory, a truncated database,
one from an older evtool (read as it is) or a newer one (refused), one on a
read-only file system (opened read-only), a full disk.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from synthetic_runs import synthetic_events, synthetic_header
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.store.model import RunResult, utc_now_iso
from evtool.store.recorder import Recorder
from evtool.store.schema import MIGRATIONS, SCHEMA_VERSION, statements

READERS: list[list[str]] = [["runs"], ["show", "last"], ["inspect", "last", "--kind", "dead_lettered"],
                            ["export", "last", "-f", "jsonl"], ["export", "last", "-f", "md"],
                            ["diff", "last", "last"]]


def cli(*args: str) -> Any:
    """Invoke the CLI in-process."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def assert_exit_2(result: Any, *needles: str) -> str:
    """Exit 2, a message, no traceback."""
    out = str(result.output)
    assert result.exit_code == 2, (result.exit_code, out, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out and "error" in out
    for needle in needles:
        assert needle in out, out
    return out


def record(db: Path, n: int = 300, outcome: str = "passed") -> str:
    """Record one synthetic run; its id."""
    events = list(synthetic_events(n, seed=3, poison_every=20))
    header = synthetic_header()
    rec = Recorder(db, wait_for_index=True)
    rec.start(header)
    rec.record(events)
    rec.finish(RunResult(outcome=outcome, ended_at=utc_now_iso(), events=len(events)))
    rec.wait(30)
    return header.id


@pytest.fixture(scope="module")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("good") / "runs.db"
    record(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a))
def test_a_file_that_is_not_a_database(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("these are my notes, not a database\n" * 100)
    assert_exit_2(cli(*args, "--db", str(db)), str(db), "not a run database")
    assert db.read_text().startswith("these are my notes")


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a))
def test_a_directory(tmp_path: Path, args: list[str]) -> None:
    assert_exit_2(cli(*args, "--db", str(tmp_path)), "is a directory")


@pytest.mark.parametrize("cut", [50, 3000, 0.5])
def test_a_truncated_database(good_db: Path, tmp_path: Path, cut: float) -> None:
    data = good_db.read_bytes()
    db = tmp_path / "cut.db"
    db.write_bytes(data[:int(cut * len(data)) if isinstance(cut, float) else cut])
    for args in READERS:
        r = cli(*args, "--db", str(db))
        if r.exit_code != 0:  # a cut past the runs table may still list runs; reading the trace then fails
            assert_exit_2(r, str(db))


def test_a_database_of_another_application_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE customers (name TEXT)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    for args in READERS:
        assert_exit_2(cli(*args, "--db", str(db)), "not an evtool run database")
    assert db.read_bytes() == before


def test_an_empty_database_has_no_runs_and_is_not_written(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    db.touch()
    r = cli("runs", "--db", str(db))
    assert r.exit_code == 0 and "no recorded runs" in r.output
    assert_exit_2(cli("show", "last", "--db", str(db)), "no runs recorded yet")
    assert db.stat().st_size == 0 and not Path(f"{db}-wal").exists()


def test_a_database_from_a_newer_evtool_is_refused(good_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "newer.db"
    shutil.copy(good_db, db)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    for args in READERS:
        assert_exit_2(cli(*args, "--db", str(db)), f"schema version {SCHEMA_VERSION + 5}", "upgrade evtool")


def _old_database(db: Path, version: int = 1) -> str:
    """A run database as evtool with schema `version` wrote it, holding one finished run; its id."""
    conn = sqlite3.connect(db, isolation_level=None)
    for script in MIGRATIONS[:version]:
        for statement in statements(script):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={version}")
    run_id = uuid.uuid4().hex[:12]
    conn.execute("INSERT INTO runs (id, scenario_id, scenario_path, scenario_text, scenario_hash, seed, overrides, "
                 "evtool_version, profile, transport, record_mode, started_at, outcome, ended_at, events, messages, "
                 "virtual_ns, summary, checks) VALUES (?, 'old', 'old.yaml', '', '', '1', '{}', '0.0.1', 'default', "
                 "'local', 'full', '2025-01-01T00:00:00', 'passed', '2025-01-01T00:00:01', 2, 1, 5, '{}', '[]')",
                 (run_id,))
    conn.execute("CREATE TABLE trace_1 (seq INTEGER PRIMARY KEY, t INTEGER NOT NULL, kind TEXT NOT NULL, msg TEXT, "
                 "channel TEXT, actor TEXT, instance INTEGER, key TEXT, attempt INTEGER NOT NULL, tag TEXT, data TEXT)")
    conn.execute("INSERT INTO trace_1 VALUES (0, 1, 'published', 'm1', 'q', 'p', NULL, NULL, 0, NULL, NULL)")
    conn.execute("INSERT INTO trace_1 VALUES (1, 5, 'dead_lettered', 'm1', 'q', NULL, NULL, NULL, 1, NULL, "
                 "'{\"target\":\"q.dlq\",\"reason\":\"rejected\"}')")
    conn.close()
    return run_id


@pytest.mark.skipif(SCHEMA_VERSION < 2, reason="needs a schema older than the current one")
def test_a_database_from_an_older_evtool_is_read_as_it_is(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    run_id = _old_database(db)
    before = db.read_bytes()
    for args in READERS:
        r = cli(*args, "--db", str(db))
        assert r.exit_code == 0, r.output
    assert run_id in cli("runs", "--db", str(db)).output
    assert "m1" in cli("inspect", "last", "--kind", "dead_lettered", "--db", str(db)).output
    assert db.read_bytes() == before  # reading did not migrate it
    record(db)  # recording does migrate it, and keeps the old run
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    assert run_id in cli("runs", "--db", str(db)).output


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs (4 MiB) of its own; needs root (skipped otherwise)."""
    if not _can_mount():
        pytest.skip("needs root to mount a tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _remount_ro(mnt: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)


def test_a_database_on_a_read_only_file_system_is_read(good_db: Path, tmpfs: Path) -> None:
    db = tmpfs / "runs.db"
    shutil.copy(good_db, db)  # a clean database: no -wal or -shm file next to it
    old = tmpfs / "old.db"
    _old_database(old)
    _remount_ro(tmpfs)
    for args in READERS:
        r = cli(*args, "--db", str(db))
        assert r.exit_code == 0, r.output
    assert "passed" in cli("runs", "--db", str(db)).output
    assert "m1" in cli("inspect", "last", "--kind", "dead_lettered", "--db", str(old)).output


def _fill(mnt: Path) -> None:
    """Fill a file system to the last byte."""
    fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def test_a_full_disk_is_called_a_full_disk(tmpfs: Path) -> None:
    db = tmpfs / "runs.db"
    record(db, n=50)
    _fill(tmpfs)
    with pytest.raises(Exception, match="disk (is )?full") as info:
        rec = Recorder(db)
        rec.start(synthetic_header())
        rec.record(list(synthetic_events(20000)))
        rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso()))
    assert "cannot rollback" not in str(info.value)
    r = cli("runs", "--db", str(db))  # reading still works on a full disk
    assert r.exit_code == 0, r.output
    out = assert_exit_2(cli("export", "last", "-f", "md", "-o", str(tmpfs / "report.md"), "--db", str(db)),
                        "disk full")
    assert "Traceback" not in out
    assert not (tmpfs / "report.md").exists()  # no half-written file is left behind
    assert_exit_2(cli("new", str(tmpfs / "fresh")), "disk full")
    assert not (tmpfs / "fresh.yaml").exists()


def test_a_full_sqlite_database_says_disk_full_not_cannot_rollback(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's SQLITE_FULL ("database or disk is full") without a full disk: a page limit on the connection."""
    from evtool.store import schema

    db = tmp_path / "runs.db"
    record(db, n=10)
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    monkeypatch.setattr(schema, "PRAGMAS", (*schema.PRAGMAS, f"PRAGMA max_page_count={pages}"))
    rec = Recorder(db)
    with pytest.raises(Exception, match="disk full") as info:
        rec.start(dataclasses.replace(synthetic_header(), scenario_text="x" * 200_000))
    assert "cannot rollback" not in str(info.value)


def test_export_to_dev_full_says_disk_full(good_db: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    assert_exit_2(cli("export", "last", "-f", "md", "-o", "/dev/full", "--force", "--db", str(good_db)),
                  "disk full")


def test_new_reports_file_system_errors(tmp_path: Path) -> None:
    assert_exit_2(cli("new", str(tmp_path / "missing" / "x")), "does not exist")
    lesson = tmp_path / "broken.yaml"
    lesson.write_bytes(b"id: x\n\xff\xfe not utf-8")
    r = cli("new", str(tmp_path / "copy"), "--from", str(lesson))
    assert_exit_2(r)


def test_a_path_that_looks_like_markup_is_shown_as_typed(tmp_path: Path) -> None:
    d = tmp_path / "[red]x"
    d.mkdir()
    assert_exit_2(cli("runs", "--db", str(d / "none.db")), "[red]x")


def test_a_closed_pipe_ends_a_reader_quietly(good_db: Path) -> None:
    """`evtool export ... | head -1`: no traceback when the reader of the output goes away.

    The trace is larger than a pipe holds, so the export is still writing when the pipe closes.
    """
    args = ["export", "last", "-f", "jsonl"]
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "evtool", *args, "--db", str(good_db)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(root), "COLUMNS": "120"})
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does after its line
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "error" not in err, err
    assert proc.returncode == 0
