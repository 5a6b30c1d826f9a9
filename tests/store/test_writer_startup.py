"""The writer process starts for every recorded run, so what it imports is part of what recording costs.

`python -P -S -c WRITER_COMMAND` imports the writer, sqlite3, zlib and struct: not `runpy` (what `-m` would
import), nor `queue`, `threading`, `signal` (and its enums) or `typing`, which cost it about a third of its
start-up (record_bench.py's writer CPU). These tests pin that down, and that a recorded run still works
through that command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evtool.store import writer

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"runpy", "queue", "threading", "signal", "enum", "typing", "pathlib", "dataclasses"}


def test_the_writer_process_imports_nothing_it_does_not_need() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    probe = ("import sys; sys.argv = ['-c']\n"
             "from evtool.store import writer, schema\n"
             "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-P", "-S", "-c", probe], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert "sqlite3" in out and "zlib" in out
    assert not HEAVY & set(out), sorted(HEAVY & set(out))


def test_the_recorder_starts_the_writer_without_runpy(tmp_path: Path) -> None:
    """The recorder's writer process runs `python -P -S -c WRITER_COMMAND`, not `-m` (which imports runpy), and
    that program runs the writer's `main` (its usage line without arguments)."""
    from evtool.store.model import RunHeader, RunResult, utc_now_iso
    from evtool.store.recorder import Recorder

    rec = Recorder(tmp_path / "runs.db")
    rec.start(RunHeader(id="cmdline", scenario_id="s", scenario_path="s.yaml", scenario_text="x",
                        scenario_hash="h", seed=1, started_at=utc_now_iso()))
    try:
        assert rec._proc is not None  # noqa: SLF001
        cmd = Path(f"/proc/{rec._proc.pid}/cmdline").read_bytes().split(b"\0")  # noqa: SLF001
    finally:
        rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso()))
    assert cmd[1:5] == [b"-P", b"-S", b"-c", writer.WRITER_COMMAND.encode()]
    assert b"-m" not in cmd
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bad = subprocess.run([sys.executable, "-P", "-S", "-c", writer.WRITER_COMMAND], env=env, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr
