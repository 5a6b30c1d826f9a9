"""An 'R' chunk's rows are stored in either of two forms, and every reader takes both.

The writer stores them as raw deflate after a marker byte (`chunks.compress_rows`,
no checksum pass: cheaper while the run runs); evtool wrote them as zlib before.
A database may hold both (a run recorded before, killed before its compaction):
readers and the compaction read each the same.
"""

from __future__ import annotations

import io
import marshal
import sqlite3
import zlib
from pathlib import Path

import pytest
from synthetic_runs import synthetic_events, synthetic_header, synthetic_result

from evtool.core.events import TraceEvent
from evtool.store import chunks, codec
from evtool.store.recorder import INSERT_RUN
from evtool.store.runstore import SyncRunStore
from evtool.store.schema import connect_sync, create_trace_sql, migrate_sync
from evtool.store.writer import encode_end, serve
from evtool.trace.digest import as_rows


def _rows(events: list[TraceEvent]) -> bytes:
    return marshal.dumps(as_rows(events), chunks.ROWS_VERSION)


def test_both_forms_inflate_to_the_rows() -> None:
    events = list(synthetic_events(50))
    raw = _rows(events)
    new, old = chunks.compress_rows(raw), zlib.compress(raw, 1)
    assert new[:1] == chunks.RAW_DEFLATE and old[:1] != chunks.RAW_DEFLATE
    assert chunks.inflate(new) == chunks.inflate(old) == raw
    assert chunks.columns(new, "R") == chunks.columns(old, "R") == list(zip(*as_rows(events), strict=True))


@pytest.mark.parametrize("cut", [1, 2, 20])
def test_a_cut_short_raw_chunk_is_an_error(cut: int) -> None:
    new = chunks.compress_rows(_rows(list(synthetic_events(50))))
    with pytest.raises(zlib.error):
        chunks.inflate(new[:-cut])
    with pytest.raises(zlib.error):
        chunks.inflate(new + b"\x00")


def _run_with_both_forms(db: Path, events: list[TraceEvent]) -> tuple[str, int]:
    """A run whose trace holds 'R' chunks in both forms, alternately, as a writer left it (no result yet)."""
    header = synthetic_header()
    conn = connect_sync(db)
    migrate_sync(conn)
    rk = conn.execute(INSERT_RUN, codec.header_row(header)).lastrowid
    assert rk is not None
    conn.execute("UPDATE runs SET trace_format = ? WHERE rk = ?", (chunks.FORMAT, rk))
    conn.execute(create_trace_sql(rk))
    for i, start in enumerate(range(0, len(events), 400)):
        part = events[start:start + 400]
        raw = _rows(part)
        blob = chunks.compress_rows(raw) if i % 2 else zlib.compress(raw, 1)
        conn.execute(f"INSERT INTO trace_{rk} VALUES (?,?,?,?,?,?,?)",
                     (start, len(part), part[-1].t, sum(e.kind == "published" for e in part), "R",
                      chunks.compress(chunks.EMPTY_SUMMARY), blob))
    conn.close()
    return header.id, int(rk)


def _formats(db: Path, rk: int) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute(f"SELECT fmt FROM trace_{rk}")}
    finally:
        conn.close()


def test_readers_and_the_compaction_take_both_forms(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(600))
    run_id, rk = _run_with_both_forms(db, events)
    dead = [e for e in events if e.kind == "dead_lettered"]
    some = events[7].msg
    with SyncRunStore(db) as store:
        assert list(store.events(run_id)) == events
        assert list(store.events(run_id, kinds=["dead_lettered"])) == dead
        assert list(store.events(run_id, msg=some)) == [e for e in events if e.msg == some]
    out = io.StringIO()
    end = encode_end(codec.result_row(synthetic_result(events, outcome="passed")), False)
    assert serve(str(db), rk, io.BytesIO(end), out) == 0
    assert [line.split()[0] for line in out.getvalue().splitlines()] == ["D", "I"]
    assert _formats(db, rk) == {"B"}
    with SyncRunStore(db) as store:
        assert list(store.events(run_id)) == events
        assert list(store.events(run_id, kinds=["dead_lettered"])) == dead
