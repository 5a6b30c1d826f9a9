"""The writer compacts a recorded trace after the result is committed, while its owner has moved on.

`Recorder.finish` (and so `evtool run` and `api.run`) returns once the result
is committed; the writer process then rewrites the trace's row chunks as
column chunks on its own. What that must not cost: a reader during the
compaction sees the whole trace, a writer killed during it loses nothing, and
the process is reaped without anyone calling `wait` (no zombie, no "still
running" ResourceWarning).
"""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

from synthetic_runs import synthetic_events, synthetic_header, synthetic_result

from evtool.core.events import TraceEvent
from evtool.store import chunks, codec
from evtool.store.recorder import INSERT_RUN, Recorder
from evtool.store.runstore import SyncRunStore
from evtool.store.schema import connect_sync, create_trace_sql, migrate_sync
from evtool.store.writer import encode_end


def _record(db: Path, events: list[TraceEvent]) -> tuple[Recorder, str]:
    """A run recorded in many small chunks and finished: its writer is compacting (or about to) on return."""
    header = synthetic_header()
    rec = Recorder(db, batch_size=300, handle_sigterm=False)
    rec.start(header)
    for i in range(0, len(events), 500):
        rec.record(events[i:i + 500])
    rec.finish(synthetic_result(events, outcome="passed"))
    return rec, header.id


def _formats(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT fmt, count(*) FROM trace_1 GROUP BY fmt").fetchall())
    finally:
        conn.close()


def test_a_reader_during_the_compaction_sees_the_whole_trace(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(3000))
    rec, run_id = _record(db, events)
    reads = 0
    while True:
        gone = rec.wait(0)  # read once more after the writer has exited
        with SyncRunStore(db) as store:
            _, stored = store.get(run_id)
            assert stored is not None and stored.outcome == "passed" and stored.events == len(events)
            assert list(store.events(run_id)) == events
            assert list(store.events(run_id, kinds=["dead_lettered"])) == [e for e in events
                                                                            if e.kind == "dead_lettered"]
        reads += 1
        if gone:
            break
    assert rec.wait(30) and reads >= 1
    assert set(_formats(db)) == {"B"}


def test_a_writer_killed_during_the_compaction_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(3000))
    rec, run_id = _record(db, events)
    assert rec._proc is not None
    deadline = time.monotonic() + 30
    while "B" not in _formats(db) and rec._proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    rec._proc.kill()  # most often mid-way: some chunks rewritten as columns, the rest still rows
    rec._proc.wait(30)
    with SyncRunStore(db) as store:
        _, stored = store.get(run_id)
        assert stored is not None and stored.outcome == "passed" and stored.events == len(events)
        assert list(store.events(run_id)) == events
    assert set(_formats(db)) <= {"R", "B"}


def test_the_writer_is_reaped_without_wait(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(300))
    rec, _ = _record(db, events)
    proc = rec._proc
    assert proc is not None
    deadline = time.monotonic() + 30
    while proc.returncode is None and time.monotonic() < deadline:  # the listener thread reaps it
        time.sleep(0.01)
    assert proc.returncode == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del rec, proc
        gc.collect()
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_the_writer_process_exits_cleanly_when_its_input_ends_with_the_result(tmp_path: Path) -> None:
    """The writer's reader thread may still be blocked reading stdin when the writer is done; the
    process must still exit 0 (it used to abort in interpreter shutdown, on that thread's lock of
    stdin, in about one run of five)."""
    db = tmp_path / "runs.db"
    conn = connect_sync(db)
    migrate_sync(conn)
    runs = []
    for i in range(12):
        header = synthetic_header()
        header = type(header)(**{**header.to_dict(), "id": f"{i:012x}"})
        rk = conn.execute(INSERT_RUN, codec.header_row(header)).lastrowid
        assert rk is not None
        conn.execute("UPDATE runs SET trace_format = ? WHERE rk = ?", (chunks.FORMAT, rk))
        conn.execute(create_trace_sql(rk))
        runs.append(int(rk))
    conn.close()
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root}
    end = encode_end(codec.result_row(synthetic_result([], outcome="passed")), False)
    for rk in runs:
        done = subprocess.run([sys.executable, "-P", "-S", "-m", "evtool.store.writer", str(db), str(rk)],
                              input=end, capture_output=True, env=env, timeout=60, check=False)
        assert (done.returncode, done.stderr) == (0, b"")
        assert [line.split()[0] for line in done.stdout.decode().splitlines()] == ["D", "I"]


def test_the_writer_commits_the_result_without_the_heavy_modules(tmp_path: Path) -> None:
    """The writer process starts for every recorded run and writes the result while the user waits:
    it must not import the run model (dataclasses, typing, inspect: 20-35 ms of CPU, once spent there)."""
    db = tmp_path / "runs.db"
    conn = connect_sync(db)
    migrate_sync(conn)
    rk = conn.execute(INSERT_RUN, codec.header_row(synthetic_header())).lastrowid
    conn.execute("UPDATE runs SET trace_format = ? WHERE rk = ?", (chunks.FORMAT, rk))
    conn.execute(create_trace_sql(int(rk or 0)))
    conn.close()
    end = tmp_path / "end.bin"
    end.write_bytes(encode_end(codec.result_row(synthetic_result([], outcome="passed")), False))
    code = ("import io, sys\nfrom evtool.store.writer import serve\n"
            f"status = serve({str(db)!r}, {rk}, open({str(end)!r}, 'rb'), io.StringIO())\n"
            "heavy = ('dataclasses', 'typing', 'inspect', 'json', 'pathlib', 'evtool.store.model', 'evtool.store.codec')\n"
            "print(status, [m for m in heavy if m in sys.modules])\n")
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-P", "-S", "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": root}, check=False)
    assert done.stdout.split("\n")[0] == "0 []", done.stdout + done.stderr
