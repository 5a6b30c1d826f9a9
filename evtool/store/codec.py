"""Turning trace events and run records into SQLite rows and back."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.store import schema
from evtool.store.model import RunHeader, RunResult

# Compact and stable: no spaces, keys in the order the engine wrote them.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_decode = json.JSONDecoder().decode

EVENT_COLUMNS = "t, kind, msg, channel, actor, instance, key, attempt, tag, data"

Row = tuple[Any, ...]


def dumps(value: Any) -> str:
    """Compact JSON text of a value (unknown objects become their `str`)."""
    return _encode(value)


def loads(text: str) -> Any:
    """Parse JSON text."""
    return _decode(text)


def event_rows(first_seq: int, events: Iterable[TraceEvent]) -> Iterator[Row]:
    """Rows for a trace table, numbered from `first_seq` (lazy: encoded as SQLite consumes them)."""
    seq = first_seq
    for e in events:
        data = e[9]
        yield (seq, e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8],
               None if data is None else _encode(data))
        seq += 1


def row_event(row: Sequence[Any]) -> TraceEvent:
    """A `TraceEvent` from a row selected as `EVENT_COLUMNS`."""
    data = row[9]
    return TraceEvent(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                      None if data is None else _decode(data))


def seed_to_db(seed: int) -> str:
    """Seeds are stored as decimal text so any Python int survives."""
    return str(int(seed))


def header_row(h: RunHeader) -> Row:
    """Values for the header columns of `runs`, in `HEADER_COLUMNS` order."""
    return (h.id, h.scenario_id, h.scenario_path, h.scenario_text, h.scenario_hash, seed_to_db(h.seed),
            dumps(h.overrides), h.evtool_version, h.profile, h.transport, h.lesson_title, h.record_mode,
            h.started_at)


HEADER_COLUMNS = ("id, scenario_id, scenario_path, scenario_text, scenario_hash, seed, overrides, "
                  "evtool_version, profile, transport, lesson_title, record_mode, started_at")
RESULT_COLUMNS = schema.RESULT_COLUMNS


def header_from_row(row: Sequence[Any]) -> RunHeader:
    """A `RunHeader` from a row selected as `HEADER_COLUMNS`."""
    return RunHeader(id=row[0], scenario_id=row[1], scenario_path=row[2], scenario_text=row[3],
                     scenario_hash=row[4], seed=int(row[5]), overrides=loads(row[6]), evtool_version=row[7],
                     profile=row[8], transport=row[9], lesson_title=row[10], record_mode=row[11],
                     started_at=row[12])


def result_row(r: RunResult) -> Row:
    """Values for `RESULT_COLUMNS`."""
    return (r.outcome, r.ended_at, r.virtual_ns, r.digest, r.events, r.messages, dumps(r.summary),
            dumps(r.checks))


def result_from_row(row: Sequence[Any]) -> RunResult | None:
    """A `RunResult` from a row selected as `RESULT_COLUMNS`, or None while the run is open."""
    if row[1] is None:  # no ended_at: the run never finished (still open, or killed)
        return None
    return RunResult(outcome=row[0], ended_at=row[1], virtual_ns=row[2] or 0, digest=row[3] or "",
                     events=row[4] or 0, messages=row[5] or 0,
                     summary=loads(row[6]) if row[6] else {}, checks=loads(row[7]) if row[7] else [])
