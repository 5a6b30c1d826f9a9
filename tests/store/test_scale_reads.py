"""The fast read paths (column pages, kind counts, the JSONL row encoder) answer exactly like the event paths.

Both storage layouts are checked: a chunked trace (schema 3) and a row-per-event
trace as schema 2 wrote it, from the helpers of test_trace_chunks.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_trace_chunks import record_chunked, trace, write_rows_v2

from evtool.core.events import TraceEvent
from evtool.report.export import export_run, jsonl_columns, to_jsonl
from evtool.store.runstore import SyncRunStore

ODD = [
    TraceEvent(1, "published", "m-\u202eevil", "q\x9b", "pro\x7fducer", None, "k\u2066", 0, "t\"ag",
               {"text": "a\u200fb\x1b[2J", "n": 1.5, "ok": True, "list": [1, None]}),
    TraceEvent(2, "delivered", "m-é", "q", "c", 0, None, 3, None, None),
    TraceEvent(3, "acked", None, None, None, None, None, 0, None, {}),
    TraceEvent(4, "run_ended"),
]


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[TraceEvent]]:
    tmp = tmp_path_factory.mktemp("scale")
    events = trace(1500) + [e._replace(t=e.t + 10**12) for e in ODD]
    record_chunked(tmp / "new.db", "aaaaaaaaaaaa", events)
    write_rows_v2(tmp / "old.db", "bbbbbbbbbbbb", events)
    return tmp / "new.db", tmp / "old.db", events


def _columns(events: list[TraceEvent]) -> list[tuple[object, ...]]:
    return list(zip(*events, strict=True))


def test_column_pages_are_the_trace_in_order(dbs: tuple[Path, Path, list[TraceEvent]]) -> None:
    new, old, events = dbs
    for db, run in ((new, "aaaaaaaaaaaa"), (old, "bbbbbbbbbbbb")):
        with SyncRunStore(db) as s:
            pages = list(s.column_pages(run))
        assert len(pages) > 1
        got = [TraceEvent._make(row) for cols in pages for row in zip(*cols, strict=True)]
        assert got == events


@pytest.mark.parametrize("kinds", [["acked"], ["dead_lettered"], ["published", "failed"], ["emitted"],
                                   ["redriven"], []])
def test_count_kinds_matches_the_events(dbs: tuple[Path, Path, list[TraceEvent]], kinds: list[str]) -> None:
    new, old, events = dbs
    expected = sum(e.kind in kinds for e in events)
    with SyncRunStore(new) as a, SyncRunStore(old) as b:
        assert a.count_kinds("aaaaaaaaaaaa", kinds) == b.count_kinds("bbbbbbbbbbbb", kinds) == expected


def test_jsonl_export_is_byte_identical_to_the_event_encoder(dbs: tuple[Path, Path, list[TraceEvent]]) -> None:
    new, old, events = dbs
    expected = "".join(to_jsonl(events))
    assert "\\u202e" in expected and "\\u009b" in expected  # the terminal-unsafe characters stay escaped
    for db, run in ((new, "aaaaaaaaaaaa"), (old, "bbbbbbbbbbbb")):
        with SyncRunStore(db) as s:
            buf = io.StringIO()
            assert export_run(s, run, "jsonl", out=buf) is None
            assert buf.getvalue() == expected
            assert export_run(s, run, "jsonl") == expected


def test_odd_value_types_take_the_event_encoder(dbs: tuple[Path, Path, list[TraceEvent]]) -> None:
    """A bool attempt or a non-str id is not what the fast encoder writes directly: same text anyway."""
    odd = [TraceEvent(1, "acked", "m", "q", attempt=True), TraceEvent(2, "acked", 7, "q"),  # type: ignore[arg-type]
           TraceEvent(3.5, "acked", "m", "q", instance=2)]  # type: ignore[arg-type]
    for e in odd:
        assert jsonl_columns(_columns([e])) == "".join(to_jsonl([e]))
    assert jsonl_columns(_columns(ODD)) == "".join(to_jsonl(ODD))
