"""A run whose writer process died is stored as `partial` with the events actually committed.

Never as `passed` with the engine's full count: the stored trace is what a
reader inspects and exports, and the record must say it is not the whole run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from synthetic_runs import synthetic_events, synthetic_header, synthetic_result
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.store.errors import RecorderError
from evtool.store.model import RunResult, utc_now_iso
from evtool.store.recorder import Recorder
from evtool.store.runstore import SyncRunStore


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


def _kill_writer(rec: Recorder) -> None:
    assert rec._proc is not None
    rec._proc.kill()
    rec._proc.wait(timeout=30)


def test_a_writer_killed_mid_run_leaves_a_partial_record(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(700, poison_every=25))
    assert len(events) > 2000
    header = synthetic_header()
    result = synthetic_result(events, outcome="passed")
    assert result.outcome == "passed" and result.events == len(events)
    rec = Recorder(db, batch_size=250)
    rec.start(header)
    rec.record(events[:1000])
    assert rec.sync(timeout=30)
    _kill_writer(rec)
    rec.record(events[1000:])
    with pytest.raises(RecorderError, match="partial"):
        rec.finish(result)
    with SyncRunStore(db) as store:
        _, stored = store.get(header.id)
        assert stored is not None and stored.outcome == "partial"
        kept = sum(1 for _ in store.events(header.id))
        assert kept == stored.events == 1000
        assert stored.messages == sum(e.kind == "published" for e in events[:1000])
        record = stored.summary["record"]
        assert record["outcome"] == "passed" and record["events_run"] == len(events)
        assert record["events_committed"] == 1000
        assert store.list_runs()[0].shown_outcome == "partial"
    db_ = str(db)
    assert "partial" in cli("runs", "--db", db_).output
    shown = cli("show", "last", "--db", db_).output
    assert "partial" in shown and f"1,000 of the run's {len(events):,} events" in shown
    inspected = cli("inspect", "last", "--kind", "dead_lettered", "--db", db_)
    assert inspected.exit_code == 0 and "the trace is partial" in inspected.output
    exported = cli("export", "last", "-f", "md", "--db", db_)
    assert exported.exit_code == 0 and "the trace is partial" in exported.output
    assert "partial" in cli("export", "last", "-f", "md", "--db", db_).stdout.splitlines()[0]


def test_a_writer_killed_after_committing_everything_leaves_a_whole_record(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(120))
    header = synthetic_header()
    rec = Recorder(db, batch_size=100)
    rec.start(header)
    rec.record(events)
    assert rec.sync(timeout=30)
    _kill_writer(rec)
    rec.finish(synthetic_result(events, outcome="passed"))  # nothing was lost: no error, the real outcome
    with SyncRunStore(db) as store:
        _, stored = store.get(header.id)
        assert stored is not None and stored.outcome == "passed" and stored.events == len(events)
        assert sum(1 for _ in store.events(header.id)) == len(events)


def test_an_abort_after_the_writer_died_is_partial_too(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    events = list(synthetic_events(200))
    assert len(events) > 300
    header = synthetic_header()
    rec = Recorder(db, batch_size=100)
    rec.start(header)
    rec.record(events[:300])
    assert rec.sync(timeout=30)
    _kill_writer(rec)
    rec.record(events[300:])
    with pytest.raises(RecorderError):
        rec.abort("interrupted")
    with SyncRunStore(db) as store:
        _, stored = store.get(header.id)
        assert stored is not None and stored.outcome == "partial" and stored.events == 300
        assert stored.summary["record"]["outcome"] == "interrupted"
    assert RunResult(outcome="partial", ended_at=utc_now_iso()).outcome == "partial"


def test_a_partial_run_exports_json_that_follows_the_schema(tmp_path: Path) -> None:
    import json

    import jsonschema

    from evtool.report.export import run_schema

    db = tmp_path / "runs.db"
    events = list(synthetic_events(200))
    rec = Recorder(db, batch_size=100)
    rec.start(synthetic_header())
    rec.record(events[:100])
    assert rec.sync(timeout=30)
    _kill_writer(rec)
    rec.record(events[100:])
    with pytest.raises(RecorderError):
        rec.finish(synthetic_result(events, outcome="passed"))
    doc = json.loads(cli("export", "last", "-f", "json", "--db", str(db)).stdout)
    assert doc["result"]["outcome"] == "partial"
    jsonschema.validate(doc, run_schema())
