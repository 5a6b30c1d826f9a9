"""Chunked traces (schema 3) read exactly like the row-per-event traces older evtools wrote.

The same events are stored four times: recorded by today's `Recorder` (chunks of
rows, format 'R', that its writer rewrites as columns, format 'B', once the
result is committed), as chunks of rows left as they are (a run whose recording
process died: no compaction), as chunks of columns written straight, and as an
evtool with schema version 2 wrote them (one row per event, data as JSON,
indexes). Every reader query must give the same answer for all, and a database
holding several kinds of run reads each one right.
"""

from __future__ import annotations

import io
import json
import marshal
import random
import sqlite3
from pathlib import Path

import pytest

from evtool.core.events import TraceEvent
from evtool.store import chunks, codec
from evtool.store.errors import StoreError
from evtool.store.model import RunHeader, RunResult, scenario_hash
from evtool.store.recorder import INSERT_RUN, Recorder
from evtool.store.runstore import SyncRunStore
from evtool.store.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    connect_sync,
    create_trace_sql,
    index_trace_sql,
    migrate_sync,
    statements,
)
from evtool.store.writer import encode_batch, encode_end, encode_rows, serve
from evtool.trace.digest import as_rows

ROW_COLUMNS = ("seq INTEGER PRIMARY KEY, t INTEGER NOT NULL, kind TEXT NOT NULL, msg TEXT, channel TEXT, "
               "actor TEXT, instance INTEGER, key TEXT, attempt INTEGER NOT NULL, tag TEXT, data TEXT")


def trace(messages: int = 3000, seed: int = 5) -> list[TraceEvent]:
    """A seeded trace with the shapes readers look for: lifecycles, retries, dead letters, emitted messages."""
    rng = random.Random(seed)
    out: list[TraceEvent] = []
    t = 0
    for i in range(messages):
        m = f"m-{i}"
        key = f"c-{rng.randrange(20)}"
        t += rng.randrange(1, 3_000_000)
        out.append(TraceEvent(t, "published", m, "orders", "checkout", None, key, 0, None, {"type": "OrderPlaced"}))
        out.append(TraceEvent(t + 1, "delivered", m, "orders", "billing", i % 2, key, 1))
        if i % 17 == 0:
            out.append(TraceEvent(t + 2, "failed", m, "orders", "billing", i % 2, key, 1, "poison",
                                  {"error": "Boom", "retryable": True}))
            out.append(TraceEvent(t + 3, "dead_lettered", m, "orders", None, None, key, 1, None,
                                  {"target": "orders.dlq", "reason": "rejected"}))
            continue
        out.append(TraceEvent(t + 2, "handled", m, "orders", "billing", i % 2, key, 1, None,
                              {"latency": 2, "processing": 1}))
        out.append(TraceEvent(t + 2, "acked", m, "orders", "billing", i % 2, key, 1))
        if i % 5 == 0:
            out.append(TraceEvent(t + 2, "emitted", f"p-{i}", "payments", "billing", i % 2, key, 0, None,
                                  {"causation_id": m, "type": "PaymentTaken"}))
    out.append(TraceEvent(t + 10, "run_ended"))
    return out


def header(run_id: str) -> RunHeader:
    text = "evtool: '1'\nid: chunks\n"
    return RunHeader(id=run_id, scenario_id="chunks", scenario_path="chunks.yaml", scenario_text=text,
                     scenario_hash=scenario_hash(text), seed=1, overrides={}, evtool_version="0.0.0",
                     profile="default", transport="local", lesson_title=None, record_mode="full",
                     started_at="2026-01-01T00:00:00+00:00")


def result(events: list[TraceEvent]) -> RunResult:
    return RunResult(outcome="passed", ended_at="2026-01-01T00:00:01+00:00", virtual_ns=events[-1].t,
                     digest="00" * 32, events=len(events), messages=sum(e.kind == "published" for e in events),
                     summary={}, checks=[])


def record_chunked(db: Path, run_id: str, events: list[TraceEvent]) -> None:
    rec = Recorder(db, batch_size=700, handle_sigterm=False)
    rec.start(header(run_id))
    for i in range(0, len(events), 333):
        rec.record(events[i:i + 333])
    rec.finish(result(events))
    assert rec.wait(30)


def _open_run(db: Path, run_id: str) -> int:
    """A run row and its (chunked) trace table, as `Recorder.start` makes them; its rk."""
    conn = connect_sync(db)
    migrate_sync(conn)
    rk = conn.execute(INSERT_RUN, codec.header_row(header(run_id))).lastrowid
    assert rk is not None
    conn.execute("UPDATE runs SET trace_format = ? WHERE rk = ?", (chunks.FORMAT, rk))
    conn.execute(create_trace_sql(rk))
    conn.close()
    return int(rk)


def _formats(db: Path, rk: int) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute(f"SELECT fmt FROM trace_{rk}")}
    finally:
        conn.close()


def write_rows_r(db: Path, run_id: str, events: list[TraceEvent]) -> None:
    """Chunks of rows (format 'R') left as they are: the writer got no end frame (its parent died)."""
    rk = _open_run(db, run_id)
    frames = []
    for i in range(0, len(events), 700):
        part = events[i:i + 700]
        bodies = [memoryview(marshal.dumps(as_rows(part[j:j + 100]), 2))[5:] for j in range(0, len(part), 100)]
        frames.append(encode_rows(bodies, len(part), part[-1].t, sum(e.kind == "published" for e in part)))
    out = io.StringIO()
    assert serve(str(db), rk, io.BytesIO(b"".join(frames)), out) == 0
    assert "D" not in out.getvalue().split()
    assert _formats(db, rk) == {"R"}


def write_columns(db: Path, run_id: str, events: list[TraceEvent]) -> None:
    """Chunks of columns (`encode_batch`, format 'B') written straight, through the writer."""
    rk = _open_run(db, run_id)
    frames = b"".join(encode_batch(events[i:i + 700]) for i in range(0, len(events), 700))
    out = io.StringIO()
    assert serve(str(db), rk, io.BytesIO(frames + encode_end(codec.result_row(result(events)), False)), out) == 0
    assert [line.split()[0] for line in out.getvalue().splitlines()[-2:]] == ["D", "I"]
    assert _formats(db, rk) == {"B"}


def write_rows_v2(db: Path, run_id: str, events: list[TraceEvent]) -> None:
    """The database an evtool with schema version 2 wrote: one row per event, JSON data, indexes."""
    conn = sqlite3.connect(db, isolation_level=None)
    for script in MIGRATIONS[:2]:
        for statement in statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version=2")
    h, r = header(run_id), result(events)
    conn.execute("INSERT INTO runs (id, scenario_id, scenario_path, scenario_text, scenario_hash, seed, overrides, "
                 "evtool_version, profile, transport, record_mode, started_at, outcome, ended_at, events, messages, "
                 "virtual_ns, digest, summary, checks, trace_indexed) "
                 "VALUES (?, ?, ?, ?, ?, '1', '{}', '0.0.0', 'default', 'local', 'full', ?, ?, ?, ?, ?, ?, ?, "
                 "'{}', '[]', 1)",
                 (h.id, h.scenario_id, h.scenario_path, h.scenario_text, h.scenario_hash, h.started_at,
                  r.outcome, r.ended_at, r.events, r.messages, r.virtual_ns, r.digest))
    rk = conn.execute("SELECT rk FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    conn.execute(f"CREATE TABLE trace_{rk} ({ROW_COLUMNS})")
    conn.executemany(f"INSERT INTO trace_{rk} VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     [(i, *e[:9], None if e.data is None else json.dumps(e.data)) for i, e in enumerate(events)])
    for statement in index_trace_sql(rk):
        conn.execute(statement)
    conn.close()


QUERIES = [
    {},
    {"kinds": ["dead_lettered"]},
    {"kinds": ["published", "failed"]},
    {"kinds": []},
    {"msg": "m-34"},
    {"msg": "nope"},
    {"msgs": ["m-0", "m-1700", "p-5"]},
    {"key": "c-3"},
    {"key": "c-3", "kinds": ["acked"], "msgs": [f"m-{i}" for i in range(0, 3000, 7)]},
]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[TraceEvent]]:
    tmp = tmp_path_factory.mktemp("chunks")
    events = trace()
    record_chunked(tmp / "new.db", "aaaaaaaaaaaa", events)
    write_rows_v2(tmp / "old.db", "bbbbbbbbbbbb", events)
    write_columns(tmp / "cols.db", "eeeeeeeeeeee", events)
    write_rows_r(tmp / "rows.db", "ffffffffffff", events)
    return tmp / "new.db", tmp / "old.db", events


def test_the_recorder_writes_chunks(stores: tuple[Path, Path, list[TraceEvent]]) -> None:
    new, _, events = stores
    conn = sqlite3.connect(new)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT trace_format, trace_indexed FROM runs").fetchone() == (chunks.FORMAT, 1)
    n, rows = conn.execute("SELECT sum(n), count(*) FROM trace_1").fetchone()
    assert n == len(events) and 1 < rows < len(events) / 100
    conn.close()
    assert _formats(new, 1) == {"B"}  # written as rows, compacted into columns once the result was committed


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: ",".join(sorted(q)) or "all")
def test_every_query_answers_the_same_for_chunks_and_rows(stores: tuple[Path, Path, list[TraceEvent]],
                                                          query: dict[str, object]) -> None:
    new, old, events = stores
    with SyncRunStore(new) as s:
        chunked = list(s.events("aaaaaaaaaaaa", **query))  # type: ignore[arg-type]
    with SyncRunStore(old) as s:
        rows = list(s.events("bbbbbbbbbbbb", **query))  # type: ignore[arg-type]
    with SyncRunStore(new.with_name("cols.db")) as s:
        columns = list(s.events("eeeeeeeeeeee", **query))  # type: ignore[arg-type]
    with SyncRunStore(new.with_name("rows.db")) as s:
        uncompacted = list(s.events("ffffffffffff", **query))  # type: ignore[arg-type]
    assert chunked == rows == columns == uncompacted
    expected = [e for e in events
                if ("kinds" not in query or e.kind in query["kinds"])  # type: ignore[operator]
                and ("msg" not in query or e.msg == query["msg"])
                and ("msgs" not in query or e.msg in query["msgs"])  # type: ignore[operator]
                and ("key" not in query or e.key == query["key"])]
    assert chunked == expected


def test_progress_message_ids_and_causes_agree(stores: tuple[Path, Path, list[TraceEvent]]) -> None:
    new, old, events = stores
    with SyncRunStore(new) as a, SyncRunStore(old) as b, SyncRunStore(new.with_name("rows.db")) as c:
        ra, rb, rc = "aaaaaaaaaaaa", "bbbbbbbbbbbb", "ffffffffffff"
        assert a.progress(ra) == b.progress(rb) == c.progress(rc) == (len(events), 3000, events[-1].t)
        for kind, limit in (("dead_lettered", 5), ("published", 3), ("acked", 10_000), ("nothing", 4)):
            assert a.message_ids(ra, kind, limit) == b.message_ids(rb, kind, limit) == c.message_ids(rc, kind, limit)
        assert a.caused_by(ra, "m-10") == b.caused_by(rb, "m-10") == c.caused_by(rc, "m-10") == ["p-10"]
        assert a.caused_by(ra, "m-11") == b.caused_by(rb, "m-11") == c.caused_by(rc, "m-11") == []
        assert a.count_kinds(ra, ["acked", "failed"]) == b.count_kinds(rb, ["acked", "failed"]) \
            == c.count_kinds(rc, ["acked", "failed"]) == sum(e.kind in ("acked", "failed") for e in events)
        assert [r.events for r in a.list_runs()] == [r.events for r in b.list_runs()] == [len(events)]
        # the same columns, whatever the chunks' sizes
        assert [sum(map(list, col), []) for col in zip(*a.column_pages(ra), strict=True)] == \
            [sum(map(list, col), []) for col in zip(*c.column_pages(rc), strict=True)] == \
            [list(col) for col in zip(*events, strict=True)]


def test_recording_into_an_old_database_keeps_its_runs_readable(stores: tuple[Path, Path, list[TraceEvent]],
                                                                tmp_path: Path) -> None:
    _, old, events = stores
    db = tmp_path / "mixed.db"
    db.write_bytes(old.read_bytes())
    record_chunked(db, "cccccccccccc", events[:500])
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT id, trace_format FROM runs ORDER BY rk").fetchall() == [
        ("bbbbbbbbbbbb", None), ("cccccccccccc", chunks.FORMAT)]
    conn.close()
    with SyncRunStore(db) as s:
        assert list(s.events("bbbbbbbbbbbb")) == events
        assert list(s.events("cccccccccccc")) == events[:500]


def test_a_damaged_chunk_is_a_store_error(stores: tuple[Path, Path, list[TraceEvent]], tmp_path: Path) -> None:
    new, _, _ = stores
    db = tmp_path / "damaged.db"
    db.write_bytes(new.read_bytes())
    conn = sqlite3.connect(db)
    conn.execute("UPDATE trace_1 SET cols = x'00112233' WHERE first_seq = (SELECT max(first_seq) FROM trace_1)")
    conn.commit()
    conn.close()
    with SyncRunStore(db) as s, pytest.raises(StoreError, match="damaged"):
        list(s.events("aaaaaaaaaaaa"))


def test_values_marshal_refuses_are_stored_as_json(tmp_path: Path) -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd!"

    events = [TraceEvent(1, "published", "m", "q", data={"x": Odd(), "y": [1, 2]}), TraceEvent(2, "acked", "m", "q")]
    rec = Recorder(tmp_path / "odd.db", handle_sigterm=False)
    rec.start(header("dddddddddddd"))
    rec.record(events)
    rec.finish(result(events))
    assert rec.wait(30)
    with SyncRunStore(tmp_path / "odd.db") as s:
        got = list(s.events("dddddddddddd"))
    assert got[0].data == {"x": "odd!", "y": [1, 2]} and got[1] == events[1]


def test_a_chunked_trace_is_small(stores: tuple[Path, Path, list[TraceEvent]]) -> None:
    """The run store's budget is 40 MB per million events; chunks of this trace take a fraction of it."""
    new, _, events = stores
    conn = sqlite3.connect(new)
    stored = conn.execute("SELECT sum(length(cols)) FROM trace_1").fetchone()[0]
    conn.close()
    assert stored / len(events) < 15, stored / len(events)
