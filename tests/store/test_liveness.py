"""A run without a result is `running` while its process lives and `died` once it is gone.

The recorder stores the run's pid and host and refreshes a heartbeat; a
reader calls an `incomplete` run `died` when the heartbeat is stale and the
process is gone (evtool.store.liveness).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic_runs import synthetic_header
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.store import liveness, recorder
from evtool.store.liveness import STALE_S, pid_alive, run_state, this_host
from evtool.store.model import RunResult, utc_now_iso
from evtool.store.recorder import Recorder
from evtool.store.runstore import SyncRunStore

ROOT = Path(__file__).resolve().parents[2]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_run_state_needs_a_stale_heartbeat_and_a_gone_process() -> None:
    now = 1_000_000.0
    dead = _dead_pid()
    assert not pid_alive(dead) and pid_alive(os.getpid())
    assert run_state(dead, this_host(), now - 1, now) == "running"  # fresh heartbeat
    assert run_state(dead, this_host(), now - STALE_S - 1, now) == "died"
    assert run_state(os.getpid(), this_host(), now - STALE_S - 1, now) == "running"  # stopped, not dead
    assert run_state(os.getpid(), "another-host", now - STALE_S - 1, now) == "died"  # a pid means nothing there
    assert run_state(None, None, None, now) == "died"  # an older evtool's run that never ended


def test_the_recorder_stores_its_pid_and_beats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder, "HEARTBEAT_S", 0.05)
    db = tmp_path / "runs.db"
    header = synthetic_header()
    rec = Recorder(db)
    rec.start(header)
    conn = sqlite3.connect(db)
    pid, host, first = conn.execute("SELECT pid, host, heartbeat FROM runs").fetchone()
    assert (pid, host) == (os.getpid(), this_host()) and abs(first - time.time()) < 5
    deadline = time.monotonic() + 10
    while conn.execute("SELECT heartbeat FROM runs").fetchone()[0] == first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert conn.execute("SELECT heartbeat FROM runs").fetchone()[0] > first
    with SyncRunStore(db) as store:
        assert store.state(header.id) == "running" and store.list_runs()[0].state == "running"
    rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso()))
    assert rec._beat is not None and not rec._beat.is_alive()  # the heartbeat stops with the run
    with SyncRunStore(db) as store:
        assert store.state(header.id) is None and store.list_runs()[0].shown_outcome == "passed"
    conn.close()


CHILD = """
import sys, time
from evtool.store.recorder import Recorder
from synthetic_runs import synthetic_events, synthetic_header
rec = Recorder(sys.argv[1])
rec.start(synthetic_header())
rec.record(list(synthetic_events(200)))
assert rec.sync(timeout=30)
print("ready", flush=True)
time.sleep(600)
"""


def test_runs_tells_a_live_run_from_a_dead_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "runs.db"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join((str(ROOT), str(ROOT / "tests")))})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        runner = CliRunner()
        out = runner.invoke(app, ["runs", "--db", str(db)], env={"COLUMNS": "200"}).output
        assert " running " in out and "died" not in out, out
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    monkeypatch.setattr(liveness, "STALE_S", 0.2)  # instead of waiting STALE_S seconds
    time.sleep(0.3)
    out = CliRunner().invoke(app, ["runs", "--db", str(db)], env={"COLUMNS": "200"}).output
    assert " died " in out and "running" not in out, out
    died = CliRunner().invoke(app, ["runs", "--db", str(db), "--outcome", "died"], env={"COLUMNS": "200"})
    assert died.exit_code == 0 and " died " in died.output
    shown = CliRunner().invoke(app, ["show", "last", "--db", str(db)], env={"COLUMNS": "200"}).output
    assert "incomplete (died)" in shown and "process died" in shown
    inspected = CliRunner().invoke(app, ["inspect", "last", "--kind", "dead_lettered", "--db", str(db)],
                                   env={"COLUMNS": "200"}).output
    assert "the trace is partial" in inspected
