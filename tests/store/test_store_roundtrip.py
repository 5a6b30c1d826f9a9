"""The run store keeps every field of a run and its trace, and finds runs by reference."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from synthetic_runs import synthetic_events, synthetic_header, synthetic_result

from evtool.core.events import TraceEvent
from evtool.store.errors import AmbiguousRun, RecorderError, RunNotFound, StoreError
from evtool.store.model import RunHeader, RunResult, scenario_hash
from evtool.store.paths import default_db_path, resolve_db_path
from evtool.store.recorder import Recorder
from evtool.store.runstore import SyncRunStore
from evtool.store.schema import SCHEMA_VERSION


def record(db: Path, header: RunHeader, events: list[TraceEvent], result: RunResult | None,
           batch_size: int = 50) -> None:
    """Record a whole run in uneven chunks."""
    rec = Recorder(db, batch_size=batch_size)
    rec.start(header)
    for i in range(0, len(events), 37):
        rec.record(events[i:i + 37])
    if result is not None:
        rec.finish(result)
    else:
        rec.abort("interrupted")


def odd_header(run_id: str = "0123456789ab") -> RunHeader:
    """A header exercising every field with awkward values."""
    text = "name: ünïcode — scenario\nseed: 1\n"
    return RunHeader(id=run_id, scenario_id="ünïcode", scenario_path="/tmp/x y/s.yaml", scenario_text=text,
                     scenario_hash=scenario_hash(text), seed=2**70 + 3,
                     overrides={"a.b": [1, 2, {"c": None}], "d": 1.5, "e": "ü"}, evtool_version="9.9.9",
                     profile="nats", transport="rabbitmq", lesson_title=None, record_mode="full",
                     started_at="2026-01-02T03:04:05.000006+00:00")


def odd_events() -> list[TraceEvent]:
    """Events with every field set, every field unset, nested data and unicode."""
    return [
        TraceEvent(0, "published", "m-1", "orders", "checkout", None, "k", 0, "poison",
                   {"type": "T", "seq": 1, "causation_id": None, "correlation_id": "c", "nested": {"x": [1, "ü"]}}),
        TraceEvent(1, "run_ended"),
        TraceEvent(2**62, "failed", "m-1", "orders", "billing", 3, "k", 4, None, {"error": "E", "retryable": False}),
        TraceEvent(5, "delivered", "m-1", "orders", "billing", 0, "", 1, "", {}),
    ]


def test_every_field_round_trips(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "dir" / "runs.db"
    header = odd_header()
    events = odd_events() * 40
    result = RunResult(outcome="failed", ended_at="2026-01-02T03:05:00+00:00", virtual_ns=123456789, digest="ab" * 32,
                       events=len(events), messages=40,
                       summary={"kinds": {"published": 40}, "latency_ms": {"overall": {"p50": 1.5}}, "drain": "timed_out",
                                "channels": {"orders": {"ready": 1}}},
                       checks=[{"name": "n", "check": "c", "status": "fail", "expected": 1, "observed": [2],
                                "evidence": ["m-1"], "because": "x", "when": "always"}])
    record(db, header, events, result)
    with SyncRunStore(db) as store:
        got_header, got_result = store.get(header.id)
        assert got_header == header
        assert got_result == result
        assert list(store.events(header.id)) == events
        row = store.list_runs()[0]
        assert (row.id, row.seed, row.outcome, row.events, row.messages, row.virtual_ns) == (
            header.id, 2**70 + 3, "failed", len(events), 40, 123456789)


def test_event_filters_and_causation(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(200))
    header = synthetic_header()
    record(db, header, events, synthetic_result(events))
    with SyncRunStore(db) as store:
        dead = list(store.events(header.id, kinds=["dead_lettered"]))
        assert dead == [e for e in events if e.kind == "dead_lettered"] and dead
        assert list(store.events(header.id, msg="m-37")) == [e for e in events if e.msg == "m-37"]
        assert list(store.events(header.id, key="c-3")) == [e for e in events if e.key == "c-3"]
        both = list(store.events(header.id, msgs=["m-1", "m-2"], kinds=["published"]))
        assert [e.msg for e in both] == ["m-1", "m-2"]
        caused = {e.data["causation_id"]: e.msg for e in events if e.kind == "emitted" and e.data}
        cause, effect = next(iter(caused.items()))
        assert store.caused_by(header.id, cause) == [effect]
        assert store.message_ids(header.id, "dead_lettered", 2) == [e.msg for e in dead[:2]]


def test_paging_returns_long_traces_in_order(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = [TraceEvent(i, "delivered", f"m-{i}") for i in range(12_345)]
    header = synthetic_header()
    record(db, header, events, RunResult(outcome="passed", ended_at="x", events=len(events)), batch_size=1000)
    with SyncRunStore(db) as store:
        assert [e.t for e in store.events(header.id)] == list(range(12_345))


def test_summary_mode_keeps_no_trace(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(50))
    header = synthetic_header(record_mode="summary")
    result = synthetic_result(events)
    record(db, header, events, result)
    with SyncRunStore(db) as store:
        assert store.get(header.id) == (header, result)
        assert list(store.events(header.id)) == []
        assert store.list_runs()[0].events == result.events


def test_resolve_last_prefix_ambiguous_unknown(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    ids = ["abc000000001", "abc000000002", "abd000000003"]
    for run_id in ids:
        record(db, synthetic_header(run_id=run_id), [TraceEvent(0, "run_ended")],
               RunResult(outcome="passed", ended_at="x", events=1))
    with SyncRunStore(db) as store:
        assert store.resolve("last") == "abd000000003"
        assert store.resolve("abd") == "abd000000003"
        assert store.resolve("ABC000000002") == "abc000000002"
        with pytest.raises(AmbiguousRun) as err:
            store.resolve("abc")
        assert err.value.candidates == ids[:2]
        assert "abc000000001" in str(err.value)
        with pytest.raises(RunNotFound, match="no run id starts with 'fff'"):
            store.resolve("fff")
        with pytest.raises(RunNotFound, match="not a run id"):
            store.resolve("zz")


def test_list_filters_by_scenario_and_outcome(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    for i, (path, outcome) in enumerate([("a/one.yaml", "passed"), ("b/two.yaml", "failed"), ("a/one.yaml", "failed")]):
        header = synthetic_header(scenario_path=path, run_id=f"{i:012x}")
        record(db, header, [TraceEvent(0, "run_ended")], RunResult(outcome=outcome, ended_at="x", events=1))
    with SyncRunStore(db) as store:
        assert [r.id for r in store.list_runs()] == ["000000000002", "000000000001", "000000000000"]
        assert [r.id for r in store.list_runs(scenario="one")] == ["000000000002", "000000000000"]
        assert [r.id for r in store.list_runs(outcome="failed")] == ["000000000002", "000000000001"]
        assert [r.id for r in store.list_runs(scenario="a/one.yaml", outcome="passed")] == ["000000000000"]
        assert len(store.list_runs(limit=1)) == 1
        store.delete("000000000001")
        assert [r.id for r in store.list_runs()] == ["000000000002", "000000000000"]


def test_abort_counts_what_was_committed(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(30))
    header = synthetic_header()
    record(db, header, events, None)
    with SyncRunStore(db) as store:
        _, result = store.get(header.id)
        assert result is not None and result.outcome == "interrupted"
        assert result.events == len(events)
        assert result.messages == sum(e.kind == "published" for e in events)
        assert result.virtual_ns == events[-1].t


def test_context_manager_marks_crash_and_interrupt(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    headers = [synthetic_header(), synthetic_header()]
    for header, exc in zip(headers, (RuntimeError("boom"), KeyboardInterrupt()), strict=True):
        with pytest.raises(type(exc)), Recorder(db) as rec:
            rec.start(header)
            rec.record([TraceEvent(0, "published", "m-1")])
            raise exc
    with SyncRunStore(db) as store:
        assert [store.get(h.id)[1].outcome for h in headers] == ["crashed", "interrupted"]  # type: ignore[union-attr]


def test_backpressure_blocks_record_while_writer_is_stuck(tmp_path: Path) -> None:
    import threading

    db = tmp_path / "runs.db"
    size = 5000  # ~250 kB a frame: the pipe (1 MiB) and the writer's queue fill after a few
    rec = Recorder(db, batch_size=size, max_batches=2, flush_interval=3600)
    rec.start(synthetic_header())
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the writer's next commit must wait for this lock
    done = threading.Event()
    batches = 40

    def engine() -> None:
        for i in range(batches):
            rec.record([TraceEvent(i * size + j, "delivered", f"m-{i * size + j}", "orders", "billing", 1, None, 1,
                                   None, {"latency": j}) for j in range(size)])
        done.set()

    thread = threading.Thread(target=engine)
    thread.start()
    assert not done.wait(0.5)
    assert rec._frames.qsize() <= 2  # memory stays bounded while the engine waits
    assert rec.committed == 0
    blocker.execute("ROLLBACK")
    thread.join(timeout=60)
    assert done.is_set()
    rec.finish(RunResult(outcome="passed", ended_at="x", events=batches * size))
    with SyncRunStore(db) as store:
        assert [e.t for e in store.events(store.resolve("last"))] == list(range(batches * size))


def test_writer_failure_is_reported_and_the_run_still_ends(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    rec = Recorder(db, batch_size=10, flush_interval=3600)
    header = synthetic_header()
    rec.start(header)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TABLE trace_1")  # the writer's inserts now fail
    conn.close()
    rec.record([TraceEvent(i, "delivered") for i in range(10)])
    with pytest.raises(RecorderError, match="partial"):
        rec.finish(RunResult(outcome="passed", ended_at="x", events=10))
    rec.record([TraceEvent(11, "delivered")])  # after the end: dropped, no error
    with SyncRunStore(db) as store:
        _, result = store.get(header.id)
        # never `passed` with 10 events: the trace lost them (tests/store/test_writer_death.py)
        assert result is not None and result.outcome == "partial" and result.events == 0
        assert result.summary["record"]["outcome"] == "passed"


def test_odd_data_values_are_stored_as_json_text(tmp_path: Path) -> None:
    import decimal
    import enum

    class Color(enum.Enum):
        RED = 1

    db = tmp_path / "runs.db"
    header = synthetic_header()
    events = [TraceEvent(1, "handled", "m", data={"amount": decimal.Decimal("1.50"), "color": Color.RED,
                                                   "tags": ("a", "b")})]
    record(db, header, events, RunResult(outcome="passed", ended_at="x", events=1))
    with SyncRunStore(db) as store:
        (got,) = store.events(header.id)
        assert got.data == {"amount": "1.50", "color": "Color.RED", "tags": ["a", "b"]}


def test_unwritable_path_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="cannot record"):
        Recorder(tmp_path / "dir.db").start(synthetic_header())


def test_reading_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no run database"):
        SyncRunStore(tmp_path / "none.db")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this evtool"):
        SyncRunStore(db)


def test_an_empty_database_reads_as_no_runs_and_the_first_recording_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    sqlite3.connect(db).close()
    with SyncRunStore(db) as store:
        assert store.list_runs() == []
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0  # reading never writes
    conn.close()
    record(db, synthetic_header(), [TraceEvent(0, "run_ended")], RunResult(outcome="passed", ended_at="x"))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_default_db_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVTOOL_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_db_path() == tmp_path / ".evtool" / "runs.db"
    monkeypatch.setenv("EVTOOL_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    assert resolve_db_path(tmp_path / "y.db") == tmp_path / "y.db"
    assert resolve_db_path(None) == tmp_path / "x.db"
