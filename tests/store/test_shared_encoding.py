"""The recorder stores the encoding the trace digest made of each batch, and that changes nothing.

`evtool.trace.digest.shared_encoding` hands a listener the marshal bytes of the
batch the digest has just folded in; the recorder stores them as its chunks
(format 'R', rewritten as columns once the run has ended). These tests pin down that the bytes are exactly the batch's
encoding, that any other batch gets None (and is encoded by the recorder
itself), and that an engine run recorded this way reads back event for event
with the digest of the unrecorded run.
"""

from __future__ import annotations

import marshal
import sqlite3
from pathlib import Path

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.store import recorder as recorder_module
from evtool.store.model import RunHeader, RunResult, utc_now_iso
from evtool.store.recorder import Recorder
from evtool.store.runstore import SyncRunStore
from evtool.trace.digest import TraceDigest, as_rows, shared_encoding

SCENARIO = """
evtool: "1"
id: shared
run: {seed: 3, duration: 3s, drain: {max: 1m}}
channels:
  work: {kind: queue}
producers:
  load:
    to: work
    arrival: {process: poisson, rate: 800/s}
    count: 1500
    key: {dist: uniform, space: 20, format: "k-{n}"}
consumers:
  worker: {from: work, instances: 3, prefetch: 5, processing: 2ms}
"""


def batch(n: int, offset: int = 0) -> list[TraceEvent]:
    return [TraceEvent(offset + i, "published", f"m-{offset + i}", "q", "p", None, None, 0, None,
                       {"i": i} if i % 3 else None) for i in range(n)]


def test_the_shared_bytes_are_the_batch_encoding_and_are_taken_once() -> None:
    events = batch(50)
    digest = TraceDigest()
    digest.update(events)
    body = shared_encoding(events)
    assert body is not None
    assert bytes(body) == marshal.dumps(as_rows(events), 2)[5:]
    assert marshal.loads(b"[" + len(events).to_bytes(4, "little") + bytes(body)) == as_rows(events)
    assert shared_encoding(events) is None  # taken


@pytest.mark.parametrize("other", [
    batch(49),  # another size
    batch(50, offset=1),  # other events
    [*batch(50)[:25], TraceEvent(25, "acked", "x"), *batch(50)[26:]],  # the same ends, another middle
], ids=["size", "events", "middle"])
def test_another_batch_gets_nothing(other: list[TraceEvent]) -> None:
    digest = TraceDigest()
    digest.update(batch(50))
    assert shared_encoding(other) is None


def test_a_recorded_engine_run_stores_the_digest_bytes_and_reads_back_the_same_trace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_text(SCENARIO, "shared.yaml")
    seen: list[TraceEvent] = []
    plain = Engine(loaded, listeners=[seen.extend]).run()

    # The recorder must never encode an engine batch itself: every one is shared by the digest.
    def no_encoding(events: object) -> object:
        raise AssertionError("the recorder encoded a batch the digest had encoded already")

    monkeypatch.setattr(recorder_module, "as_rows", no_encoding)
    db = tmp_path / "runs.db"
    rec = Recorder(db, batch_size=500, handle_sigterm=False)
    header = RunHeader(id="5a5a5a5a5a5a", scenario_id="shared", scenario_path="shared.yaml",
                       scenario_text=loaded.text, scenario_hash=loaded.sha256, seed=3, started_at=utc_now_iso())
    rec.start(header)
    out = Engine(loaded, listeners=[rec.record]).run()
    rec.finish(RunResult(outcome=out.outcome, ended_at=utc_now_iso(), virtual_ns=out.virtual_ns, digest=out.digest,
                         events=out.events, messages=out.summary.get("published", 0), summary=out.summary,
                         checks=out.checks))
    assert rec.wait(60)
    assert out.digest == plain.digest  # recording changes nothing
    with SyncRunStore(db) as store:
        assert list(store.events(header.id)) == seen
        assert store.progress(header.id) == (len(seen), sum(e.kind == "published" for e in seen), seen[-1].t)
        one = [e for e in seen if e.msg == "load-7"]
        keyed = [e for e in seen if e.key == "k-9"]
        assert len(one) >= 3 and len(keyed) > 50
        assert list(store.events(header.id, msg="load-7")) == one
        assert list(store.events(header.id, key="k-9")) == keyed
        assert list(store.events(header.id, key="k-99")) == []
    conn = sqlite3.connect(db)
    # written as the digest's rows ('R'); once the result was committed the writer rewrote them as columns
    assert {r[0] for r in conn.execute("SELECT fmt FROM trace_1")} == {"B"}
    # and gave the pages the rows took back to the file system (a new database vacuums incrementally)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    conn.close()


def test_a_batch_marshal_refuses_keeps_its_place_between_row_chunks(tmp_path: Path) -> None:
    """Rows, then a batch with an object in `data` (sent as JSON, a chunk of its own), then rows: the
    order survives, and the compaction rewrites the row chunks around the JSON one."""

    class Odd:
        def __str__(self) -> str:
            return "odd!"

    before, after = batch(300), batch(300, offset=1000)
    odd = [TraceEvent(500, "failed", "m-odd", "q", "c", 1, None, 1, None, {"error": Odd()})]
    db = tmp_path / "mixed.db"
    rec = Recorder(db, batch_size=250, handle_sigterm=False)
    rec.start(RunHeader(id="6b6b6b6b6b6b", scenario_id="mixed", scenario_path="mixed.yaml", scenario_text="x",
                        scenario_hash="h", seed=1, started_at=utc_now_iso()))
    for part in (before[:100], before[100:], odd, after):
        rec.record(part)
    rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso(), events=601))
    assert rec.wait(60)
    conn = sqlite3.connect(db)
    assert [r[0] for r in conn.execute("SELECT fmt FROM trace_1 ORDER BY first_seq")] == ["B", "J", "B"]
    conn.close()
    with SyncRunStore(db) as store:
        got = list(store.events("6b6b6b6b6b6b"))
        assert got == [*before, odd[0]._replace(data={"error": "odd!"}), *after]
        assert store.progress("6b6b6b6b6b6b") == (601, 600, after[-1].t)


@pytest.mark.parametrize("writev", [True, False], ids=["writev", "no-writev"])
def test_a_frame_written_as_parts_arrives_whole_and_in_order(writev: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender writes a frame's parts with `os.writev`: through a pipe far smaller than the frame (each
    write waits for the reader) and with more parts than one writev takes (one call with them all fails
    with EINVAL), the reader gets exactly the joined bytes."""
    import fcntl
    import os
    import threading

    parts: list[bytes | memoryview] = [bytes([i % 251]) * (i * 37 % 5000) for i in range(3000)]
    parts[7] = memoryview(b"abc" * 10000)[5:]  # a slice, as the pure build's bodies are
    parts[8] = b""
    expected = b"".join(parts)
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ: one page
    got = bytearray()

    def drain() -> None:
        while chunk := os.read(read_end, 1000):
            got.extend(chunk)

    if not writev:  # as on a system without it
        monkeypatch.delattr(os, "writev")
    reader = threading.Thread(target=drain)
    reader.start()
    try:
        recorder_module._write_parts(write_end, parts)  # noqa: SLF001
    finally:
        os.close(write_end)
        reader.join(10)
        os.close(read_end)
    assert len(expected) > 100 * 4096
    assert bytes(got) == expected


def test_a_sender_that_fails_otherwise_fails_the_recording_instead_of_hanging(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any exception in the sender thread (here a TypeError from writing a frame) marks the recording failed:
    `record` stops waiting for a queue nobody drains and `finish` raises RecorderError, within seconds."""
    import threading

    from evtool.store.errors import RecorderError

    def broken(fd: int, parts: object) -> None:
        raise TypeError("memoryview: a non-contiguous view")

    monkeypatch.setattr(recorder_module, "_write_parts", broken)
    # (no SIGTERM handler: `finish` runs in another thread here, where a handler cannot be put back)
    rec = Recorder(tmp_path / "runs.db", batch_size=10, max_batches=1, handle_sigterm=False)
    rec.start(RunHeader(id="sender-fails", scenario_id="s", scenario_path="s.yaml", scenario_text="x",
                        scenario_hash="h", seed=1, started_at=utc_now_iso()))
    events = [TraceEvent(i, "published", f"m{i}", "q", "p", None, None, 0, None, None) for i in range(10)]
    outcome: list[BaseException | None] = []

    def drive() -> None:
        try:
            for _ in range(50):
                rec.record(events)
            rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso()))
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    driver.join(30)
    assert not driver.is_alive(), "the recording hung"
    assert isinstance(outcome[0], RecorderError) and "TypeError" in str(outcome[0])


def test_a_frames_declared_size_counts_bytes_whatever_a_parts_item_size() -> None:
    """`rows_frame` sizes the frame in bytes, as `_write_parts` sends it, also for a view of wider items."""
    from array import array

    from evtool.store.writer import FRAME, rows_frame

    parts = rows_frame([memoryview(array("i", [1, 2, 3])), b"xyz"], 2, 5, 0)
    declared = FRAME.unpack_from(parts[0])[1]
    assert declared == sum(memoryview(p).nbytes for p in parts) - FRAME.size == len(b"".join(
        memoryview(p).cast("B") for p in parts)) - FRAME.size


def test_the_writer_runs_in_its_own_process_group(tmp_path: Path) -> None:
    """A Ctrl-C at the terminal goes to the foreground process group: the writer is not in it, so even in its
    first milliseconds, before it ignores SIGINT, only the run's own process gets it."""
    import os

    rec = Recorder(tmp_path / "runs.db")
    rec.start(RunHeader(id="pgroup", scenario_id="s", scenario_path="s.yaml", scenario_text="x",
                        scenario_hash="h", seed=1, started_at=utc_now_iso()))
    try:
        assert rec._proc is not None  # noqa: SLF001
        assert os.getpgid(rec._proc.pid) == rec._proc.pid != os.getpgid(0)  # noqa: SLF001
    finally:
        rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso()))
