"""A run database with two recorded synthetic runs: one with dead letters (A), one without (B)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from synthetic_runs import synthetic_events, synthetic_header, synthetic_result

from evtool.core.events import TraceEvent
from evtool.store.model import RunHeader, RunResult
from evtool.store.recorder import Recorder
from evtool.store.runstore import SyncRunStore


@dataclass
class Recorded:
    """What the fixture recorded, to compare reports against."""

    store: SyncRunStore
    a: RunHeader
    b: RunHeader
    events_a: list[TraceEvent]
    result_a: RunResult


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """Record run A (poison messages, dead letters, a redrive) and run B (no poison) into one database."""
    db: Path = tmp_path_factory.mktemp("runs") / "runs.db"
    sides = []
    for seed, poison in ((7, 37), (8, 0)):
        events = list(synthetic_events(400, seed=seed, poison_every=poison))
        header = synthetic_header(seed=seed)
        result = synthetic_result(events)
        rec = Recorder(db)
        rec.start(header)
        rec.record(events)
        rec.finish(result)
        sides.append((header, events, result))
    store = SyncRunStore(db)
    try:
        yield Recorded(store, sides[0][0], sides[1][0], sides[0][1], sides[0][2])
    finally:
        store.close()
