"""The recorder: streams one run's trace into the run database, off the engine's hot path.

Shape (why each part is there):

* The engine (synchronous code, in an asyncio program or not) calls
  `record(events)`; that appends to a pending list under a lock and returns.
  Once `batch_size` events are pending, the list is handed to the writer as
  one batch. The hot path never touches SQLite.
* A dedicated writer thread runs its own asyncio loop with one aiosqlite
  connection. Each batch costs two awaited calls (one `executemany`, one
  `commit`), because every awaited aiosqlite call is a thread hop of about
  90 µs; one hop per event would cap a run at a few thousand events/s.
* At most `max_batches` batches wait for the writer; when they are all
  taken, `record` blocks until the writer catches up (back-pressure), so
  memory stays bounded however long the run.
* Every `flush_interval` seconds the writer also takes whatever is pending,
  so a slow (real-time) run still commits its trace steadily; a SIGKILL then
  loses at most the last interval.
* The run row is written with outcome `incomplete` at `start`; `finish` or
  `abort` replace it. A killed process leaves `incomplete` and every
  committed batch.

Failures of the writer never reach the engine: `record` drops events once
the writer has failed, and `finish`/`abort` raise `RecorderError`.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import aiosqlite

from evtool.core.events import TraceEvent
from evtool.store import codec
from evtool.store.errors import RecorderError, StoreError
from evtool.store.model import RunHeader, RunResult, utc_now_iso
from evtool.store.paths import resolve_db_path
from evtool.store.schema import (
    configure,
    create_trace_sql,
    index_trace_sql,
    migrate,
    open_connection,
    trace_table,
)

INSERT_RUN = f"INSERT INTO runs ({codec.HEADER_COLUMNS}) VALUES ({', '.join('?' * 13)})"
UPDATE_RESULT = f"UPDATE runs SET ({codec.RESULT_COLUMNS}) = (?,?,?,?,?,?,?,?) WHERE rk = ?"
MARK_INDEXED = "UPDATE runs SET trace_indexed = 1 WHERE rk = ?"

# A batch on its way to the writer: first sequence number, the events, and
# whether it holds a back-pressure permit the writer must give back.
_Batch = tuple[int, list[TraceEvent], bool]


class Recorder:
    """Records one run into the run database (see the module docstring for the design).

    Typical use::

        rec = Recorder(db_path)
        rec.start(header)
        try:
            ... engine calls rec.record(events) ...
        except KeyboardInterrupt:
            rec.abort("interrupted"); raise
        rec.finish(result)

    or ``with Recorder(path) as rec: rec.start(header); ...; rec.finish(result)``:
    leaving the block by an exception records `interrupted` (Ctrl-C) or `crashed`.
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        batch_size: int = 2000,
        max_batches: int = 8,
        flush_interval: float = 0.25,
    ) -> None:
        if batch_size < 1 or max_batches < 1:
            raise ValueError("batch_size and max_batches must be at least 1")
        self.db_path: Path = resolve_db_path(db_path)
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.flush_interval = flush_interval
        self.run_id: str | None = None
        self.dropped = 0  # events dropped because the writer had failed
        self._header: RunHeader | None = None
        self._full = True
        self._lock = threading.Lock()
        self._pending: list[TraceEvent] = []
        self._next_seq = 0
        self._outbox: collections.deque[_Batch] = collections.deque()
        self._permits = threading.Semaphore(max_batches)
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._close: RunResult | None = None
        self._closed = False
        self._failed = False
        self._error: BaseException | None = None
        self._committed_events = 0
        self._commit_cond = threading.Condition()

    # ----- engine side -------------------------------------------------

    @property
    def error(self) -> BaseException | None:
        """The writer's failure, if it failed."""
        return self._error

    @property
    def committed(self) -> int:
        """Events committed to the database so far (read from another thread: approximate)."""
        return self._committed_events

    def start(self, header: RunHeader) -> str:
        """Create the database if needed, write the run row (outcome `incomplete`), start the writer.

        Blocks until the run row is committed; raises `StoreError` when the
        database cannot be opened or written. Returns the run id.
        """
        if self._thread is not None:
            raise RuntimeError("a Recorder records one run; make a new one")
        self._header = header
        self._full = header.record_mode == "full"
        self.run_id = header.id
        self._thread = threading.Thread(target=self._thread_main, name=f"evtool-recorder-{header.id}",
                                        daemon=True)
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            self._thread.join()
            raise StoreError(f"cannot record into {self.db_path}: {self._error}") from self._error
        return header.id

    def record(self, events: Sequence[TraceEvent]) -> None:
        """Append trace events (in order). Returns at once unless the writer is `max_batches` behind."""
        if not self._full or not events:
            return
        if self._failed or self._closed:
            self.dropped += len(events)
            return
        with self._lock:
            self._pending.extend(events)
            full = len(self._pending) >= self.batch_size
        if full:
            self._hand_over()

    def sink(self, event: TraceEvent) -> None:
        """Record one event (an `EventSink`); `record` with a list is cheaper per event."""
        if not self._full:
            return
        if self._failed or self._closed:
            self.dropped += 1
            return
        with self._lock:
            self._pending.append(event)
            full = len(self._pending) >= self.batch_size
        if full:
            self._hand_over()

    def flush(self) -> None:
        """Hand the pending events to the writer now (does not wait for the commit)."""
        if self._full and not self._failed and self._thread is not None:
            self._hand_over()

    def sync(self, timeout: float | None = None) -> bool:
        """Hand over the pending events and wait until everything recorded so far is committed.

        Returns False on timeout or when the writer has failed. Not needed in
        normal use (the writer commits on its own); tests and checkpoints use it.
        """
        if not self._full or self._thread is None:
            return not self._failed
        self._hand_over()
        with self._lock:
            target = self._next_seq
        with self._commit_cond:
            ok = self._commit_cond.wait_for(lambda: self._failed or self._committed_events >= target, timeout)
        return bool(ok) and not self._failed

    def finish(self, result: RunResult) -> None:
        """Write the remaining events and the result, then close. Raises `RecorderError` if the writer failed."""
        self._end(result)

    def abort(self, outcome: str = "interrupted", result: RunResult | None = None) -> None:
        """End the run as `interrupted` or `crashed`, keeping the trace written so far.

        Without a `result`, the event and message counts and the virtual
        duration are taken from what was committed.
        """
        if outcome not in ("interrupted", "crashed"):
            raise ValueError(f"abort outcome must be 'interrupted' or 'crashed', not {outcome!r}")
        if result is None:
            result = RunResult(outcome=outcome, ended_at=utc_now_iso(), events=-1)
        elif result.outcome != outcome:
            result = RunResult(**{**result.to_dict(), "outcome": outcome})
        self._end(result)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._thread is None or self._closed:
            return
        if exc_type is None:
            # Left without finish(): the run's end is unknown to us.
            self.abort("crashed")
        else:
            outcome = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "crashed"
            try:
                self.abort(outcome)
            except RecorderError:
                pass  # the original exception matters more

    def _hand_over(self) -> None:
        # Take a permit first and outside the lock: the writer takes the lock
        # too, so waiting for a permit while holding it could deadlock.
        while not self._permits.acquire(timeout=0.5):
            if self._failed:
                return
        with self._lock:
            batch = self._pending
            if not batch:
                self._permits.release()
                return
            self._pending = []
            self._outbox.append((self._next_seq, batch, True))
            self._next_seq += len(batch)
        self._poke()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                pass  # the loop has closed: the writer has stopped

    def _end(self, result: RunResult) -> None:
        if self._thread is None:
            raise RuntimeError("Recorder.start was not called")
        if self._closed:
            return
        if self._full and not self._failed:
            self._hand_over()
        self._close = result
        self._closed = True
        self._poke()
        self._thread.join()
        if self._error is not None:
            raise RecorderError(f"the run record in {self.db_path} is partial: {self._error}") from self._error

    # ----- writer side (its own thread and event loop) -----------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._writer())
        except BaseException as exc:  # noqa: BLE001 - reported through finish/abort
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self._error = self._error or exc
        self._failed = True
        self._started.set()
        with self._commit_cond:
            self._commit_cond.notify_all()
        # Wake any engine thread waiting for a permit.
        for _ in range(self.max_batches):
            self._permits.release()

    async def _writer(self) -> None:
        assert self._header is not None
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = await open_connection(self.db_path, "IMMEDIATE")
        try:
            await configure(conn)
            await migrate(conn)
            cur = await conn.execute(INSERT_RUN, codec.header_row(self._header))
            run_key = cur.lastrowid
            assert run_key is not None
            if self._full:
                await conn.execute(create_trace_sql(run_key))
            await conn.commit()
            self._started.set()
            await self._write_loop(conn, run_key)
        except BaseException as exc:
            self._fail(exc)
            # Leave the run row as it is (incomplete): that is the truth.
        finally:
            await conn.close()

    async def _write_loop(self, conn: aiosqlite.Connection, run_key: int) -> None:
        assert self._wake is not None
        insert = f"INSERT INTO {trace_table(run_key)} VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            except TimeoutError:
                self._take_pending()
            self._wake.clear()
            while self._outbox:
                first, batch, permit = self._outbox.popleft()
                await conn.executemany(insert, codec.event_rows(first, batch))
                await conn.commit()
                with self._commit_cond:
                    self._committed_events = first + len(batch)
                    self._commit_cond.notify_all()
                if permit:
                    self._permits.release()
            if self._close is not None:
                self._take_pending()
                if self._outbox:
                    continue
                await self._write_result(conn, run_key, self._close)
                return

    def _take_pending(self) -> None:
        with self._lock:
            if self._pending:
                batch, self._pending = self._pending, []
                self._outbox.append((self._next_seq, batch, False))
                self._next_seq += len(batch)

    async def _write_result(self, conn: aiosqlite.Connection, run_key: int, result: RunResult) -> None:
        table = trace_table(run_key)
        if result.events < 0:  # abort without a result: count what was committed
            count = last_t = published = 0
            if self._full:
                sql = (f"SELECT count(*), coalesce(max(t), 0), coalesce(sum(kind = 'published'), 0) FROM {table}")
                async with conn.execute(sql) as cur:
                    row = await cur.fetchone()
                if row:
                    count, last_t, published = row
            result = RunResult(outcome=result.outcome, ended_at=result.ended_at, virtual_ns=last_t,
                               events=count, messages=published)
        await conn.execute(UPDATE_RESULT, (*codec.result_row(result), run_key))
        await conn.commit()
        if self._full:
            # After the result is safe: each index is its own short transaction,
            # so another recording process waits at most one index build.
            for statement in index_trace_sql(run_key):
                await conn.execute(statement)
            await conn.execute(MARK_INDEXED, (run_key,))
            await conn.commit()
