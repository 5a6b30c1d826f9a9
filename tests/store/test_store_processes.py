"""Recording processes that are killed, interrupted, or run two at once."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from evtool.store.runstore import SyncRunStore

CHILD = Path(__file__).with_name("record_child.py")


def spawn(db: Path, mode: str, batches: int, size: int) -> subprocess.Popen[str]:
    """Start a recording child process."""
    return subprocess.Popen([sys.executable, str(CHILD), str(db), mode, str(batches), str(size)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until_ready(proc: subprocess.Popen[str]) -> tuple[str, int]:
    """Read the child's lines up to `ready`; return its run id and the last committed count it reported."""
    assert proc.stdout is not None
    run_id, committed = "", 0
    for line in proc.stdout:
        word, _, value = line.strip().partition(" ")
        if word == "run":
            run_id = value
        elif word == "committed":
            committed = int(value)
        elif word == "ready":
            return run_id, committed
    raise AssertionError(f"child ended early: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}")


def test_sigkill_leaves_an_openable_database_with_the_run_incomplete(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = spawn(db, "hang", 5, 500)
    try:
        run_id, committed = read_until_ready(proc)
        assert committed == 2500
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with SyncRunStore(db) as store:
        header, result = store.get(run_id)
        assert result is None
        row = store.list_runs()[0]
        assert (row.id, row.outcome) == (run_id, "incomplete")
        events = list(store.events(run_id))
        # every committed batch is there, in order, with no gap
        assert len(events) >= committed
        assert [e.t for e in events] == [i * 1000 for i in range(len(events))]
        assert row.events == len(events) and row.messages == (len(events) + 3) // 4
        assert store.progress(run_id) == (len(events), row.messages, events[-1].t)
        # an unindexed (killed) trace can still be filtered
        assert [e.msg for e in store.events(run_id, kinds=["published"], key="k-0")][:2] == ["m-0", "m-7"]


def test_sigint_marks_the_run_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = spawn(db, "hang", 3, 200)
    run_id, committed = read_until_ready(proc)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    with SyncRunStore(db) as store:
        _, result = store.get(run_id)
        assert result is not None and result.outcome == "interrupted"
        assert result.events >= committed
        assert result.events == len(list(store.events(run_id)))


def test_two_processes_record_into_one_new_database(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "runs.db"
    procs = [spawn(db, "finish", 40, 500) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "finished" in out
    with SyncRunStore(db) as store:
        runs = store.list_runs()
        assert len(runs) == 2
        for row in runs:
            assert (row.outcome, row.events) == ("passed", 20_000)
            assert len(list(store.events(row.id))) == 20_000
