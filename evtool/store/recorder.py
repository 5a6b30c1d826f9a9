"""The recorder: streams one run's trace into the run database, off the engine's hot path.

Shape (why each part is there):

* `start` writes the run row (outcome `incomplete`) and creates the run's
  trace table synchronously, so a bad `--db` fails at once; for a full
  recording it then starts a writer process (`evtool.store.writer`).
* The engine calls `record(events)` with each batch it has just folded into
  the trace digest: the recorder takes the digest's encoding of that batch
  (evtool.trace.digest.shared_batch: marshal version 2 of the rows, made
  once for both) and its count of `published` events (a compiled build counts
  them as it encodes; the pure one counts them here), and keeps only those
  bytes (no events: keeping them alive made the garbage collector walk them
  again and again); once `batch_size` events are pending the bytes become one
  frame and are queued. A batch the digest did not just encode (a direct
  call, `sink`) is encoded here the same way. That is all the engine's thread
  does; the hot path never touches SQLite or JSON.
* A sender thread writes queued frames to the writer's stdin. At most
  `max_batches` frames wait; when they are all taken `record` blocks until
  the writer catches up (back-pressure), so memory stays bounded.
* Every `flush_interval` seconds the sender also takes whatever is pending,
  so a slow (real-time) run still commits its trace steadily.
* Once the result is committed the writer rewrites the trace's row chunks as
  column chunks at the lowest CPU priority (`Writer.compact`), then marks the
  trace indexed: readers decode columns faster, and they are half the size.
* Why a process and not a thread: the engine is CPU-bound Python; a writer
  thread competes with it for the GIL and made a recorded run 2-3 times
  slower. The writer process runs on another core.
* A reader thread follows the writer's replies (events committed, result
  written, failure).

Crash safety: if this process dies (SIGKILL), the writer sees its stdin
close, commits what it received and exits; the run keeps `incomplete` and
every committed batch. Ctrl-C reaches only this process (the writer runs in
its own process group and ignores SIGINT and SIGTERM as well);
`abort("interrupted")` then records the outcome. SIGTERM
is turned into the same KeyboardInterrupt while the run records. The run row
carries this process's pid and a heartbeat, so readers tell a live run from
a dead one (evtool.store.liveness).

Failures of the writer never reach the engine: `record` drops events once
the writer has failed, and `finish`/`abort` raise `RecorderError` (after
writing the result row themselves, so the run is not left `incomplete`).
"""

from __future__ import annotations

import marshal
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from operator import countOf, itemgetter
from pathlib import Path
from types import TracebackType
from typing import IO

from evtool.core.events import TraceEvent
from evtool.store import chunks, codec
from evtool.store.errors import RecorderError, StoreError, describe_sqlite_error
from evtool.store.liveness import HEARTBEAT_S, this_host
from evtool.store.model import RunHeader, RunResult, utc_now_iso
from evtool.store.paths import resolve_db_path
from evtool.store.schema import connect_sync, create_trace_sql, is_busy, migrate_sync, rollback_sync
from evtool.store.signals import SigtermAsInterrupt
from evtool.store.writer import WRITER_COMMAND, encode_batch, encode_end, rows_frame
from evtool.trace.digest import as_rows, shared_batch

INSERT_RUN = f"INSERT INTO runs ({codec.HEADER_COLUMNS}) VALUES ({', '.join('?' * 13)})"
UPDATE_RESULT = f"UPDATE runs SET ({codec.RESULT_COLUMNS}) = (?,?,?,?,?,?,?,?) WHERE rk = ?"
_KIND = itemgetter(1)
_LIST_HEADER = 5  # marshal's list header: a type byte and the count
# Linux lets a pipe hold up to 1 MiB (fs.pipe-max-size): a few batches in flight, so the sender rarely waits.
_F_SETPIPE_SZ = 1031
_PIPE_BYTES = 1 << 20
try:
    _IOV_MAX = max(16, os.sysconf("SC_IOV_MAX"))  # parts one writev takes (Linux: 1024; POSIX: at least 16)
except (AttributeError, ValueError, OSError):
    _IOV_MAX = 16
_Frame = bytes | list[bytes | memoryview]  # a frame, or the parts of one (`rows_frame`)


def _write_parts(fd: int, parts: Sequence[bytes | memoryview]) -> None:
    """Write a frame's parts to `fd` in order, whole: writev, again after a partial write."""
    views = [memoryview(part).cast("B") for part in parts]
    if not hasattr(os, "writev"):  # not POSIX
        for view in views:
            while view.nbytes:
                view = view[os.write(fd, view):]
        return
    i = 0
    while i < len(views):
        written = os.writev(fd, views[i:i + _IOV_MAX])
        while i < len(views) and written >= views[i].nbytes:
            written -= views[i].nbytes
            i += 1
        if written:
            views[i] = views[i][written:]


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

    `handle_sigterm`: from `start` to the end of the run, SIGTERM raises
    KeyboardInterrupt in the main thread, as Ctrl-C does, so the caller's
    Ctrl-C handling records the run as `interrupted` (evtool.store.signals).

    `wait_for_index`: by default `finish` returns as soon as the result is
    committed and the writer process then compacts the trace (its row chunks
    rewritten as columns, at nice 19: 1-2 µs of CPU an event), marks
    it complete (`trace_indexed`) and exits on its own, even after this
    process has exited. With True, `finish` waits for it too; `wait()` does
    the same afterwards.
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        batch_size: int = 8000,
        max_batches: int = 8,
        flush_interval: float = 0.25,
        wait_for_index: bool = False,
        handle_sigterm: bool = True,
    ) -> None:
        if batch_size < 1 or max_batches < 1:
            raise ValueError("batch_size and max_batches must be at least 1")
        self.db_path: Path = resolve_db_path(db_path)
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.flush_interval = flush_interval
        self.wait_for_index = wait_for_index
        self.run_id: str | None = None
        self.dropped = 0  # events dropped because the writer had failed
        # CPU seconds the writer process had spent when it committed the result (benchmarks read it)
        self.writer_cpu_at_result: float | None = None
        self._recorded = 0  # events given to `record` (the stored trace is whole when all are committed)
        self._full = True
        self._run_key = 0
        self._started = False
        self._lock = threading.Lock()
        # Pending events, as the marshal encodings of their rows (see the module docstring), their count,
        # the time of the last one and how many are `published`.
        self._pending: list[bytes | memoryview] = []
        self._pending_n = 0
        self._pending_t = 0
        self._pending_published = 0
        self._sent = 0  # events handed to the sender
        self._frames: queue.Queue[_Frame | None] = queue.Queue(max_batches)
        self._proc: subprocess.Popen[bytes] | None = None
        self._sender: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._state = threading.Condition()
        self._committed_events = 0
        self._result_written = False
        self._indexed = False
        self._writer_gone = False
        self._closed = False
        self._failed = False
        self._error: BaseException | None = None
        self._beat: threading.Thread | None = None
        self._beat_stop = threading.Event()
        self._sigterm = SigtermAsInterrupt() if handle_sigterm else None

    # ----- engine side -------------------------------------------------

    @property
    def error(self) -> BaseException | None:
        """The writer's failure, if it failed."""
        return self._error

    @property
    def committed(self) -> int:
        """Events committed to the database so far (as last reported by the writer)."""
        return self._committed_events

    def start(self, header: RunHeader) -> str:
        """Create the database if needed, write the run row (outcome `incomplete`), start the writer.

        Raises `StoreError` when the database cannot be opened or written.
        Returns the run id.
        """
        if self._started:
            raise RuntimeError("a Recorder records one run; make a new one")
        self._started = True
        self._full = header.record_mode == "full"
        self.run_id = header.id
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self._run_key = self._write_header(header)
        except StoreError as exc:
            raise StoreError(f"cannot record: {exc}") from exc
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot record: {describe_sqlite_error(self.db_path, exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - any failure here means: not recording
            raise StoreError(f"cannot record into {self.db_path}: {exc}") from exc
        if self._full:
            self._spawn()
        self._beat = threading.Thread(target=self._heartbeat, name=f"evtool-recorder-heartbeat-{self.run_id}",
                                      daemon=True)
        self._beat.start()
        if self._sigterm is not None:
            self._sigterm.install()
        return header.id

    def record(self, events: Sequence[TraceEvent]) -> None:
        """Append trace events (in order). Returns at once unless the writer is `max_batches` behind."""
        if not self._full or not events:
            return
        self._recorded += len(events)
        if self._failed or self._closed:
            self.dropped += len(events)
            return
        n = len(events)
        shared = shared_batch(events)
        published: int | None
        if shared is None:
            try:
                body = memoryview(marshal.dumps(as_rows(events), 2))[_LIST_HEADER:]
            except ValueError:  # a value marshal refuses (an object in `data`): a frame of its own, as JSON
                with self._lock:
                    self._send_pending()
                    self._queue(encode_batch(events), n)
                return
            published = None
        else:
            body, published = shared
        if published is None:
            published = countOf(map(_KIND, events), "published")
        with self._lock:
            self._pending.append(body)
            self._pending_n += n
            self._pending_t = events[-1][0]
            self._pending_published += published
            if self._pending_n >= self.batch_size:
                self._send_pending()

    def sink(self, event: TraceEvent) -> None:
        """Record one event (an `EventSink`); `record` with a list is cheaper per event."""
        self.record((event,))

    def flush(self) -> None:
        """Hand the pending events to the writer now (does not wait for the commit)."""
        if self._full and not self._failed and not self._closed and self._proc is not None:
            with self._lock:
                self._send_pending()

    def sync(self, timeout: float | None = None) -> bool:
        """Hand over the pending events and wait until everything recorded so far is committed.

        Returns False on timeout or when the writer has failed. Not needed in
        normal use (the writer commits on its own); tests and checkpoints use it.
        """
        if not self._full or self._proc is None:
            return not self._failed
        self.flush()
        target = self._sent
        with self._state:
            ok = self._state.wait_for(
                lambda: self._failed or self._writer_gone or self._committed_events >= target, timeout)
        return bool(ok) and not self._failed and self._committed_events >= target

    def finish(self, result: RunResult) -> None:
        """Write the remaining events and the result, then close. Raises `RecorderError` if the writer failed."""
        self._end(result, count=False)

    def abort(self, outcome: str = "interrupted", result: RunResult | None = None) -> None:
        """End the run as `interrupted` or `crashed`, keeping the trace written so far.

        Without a `result`, the event and message counts and the virtual
        duration are taken from what was committed.
        """
        if outcome not in ("interrupted", "crashed"):
            raise ValueError(f"abort outcome must be 'interrupted' or 'crashed', not {outcome!r}")
        if result is None:
            self._end(RunResult(outcome=outcome, ended_at=utc_now_iso()), count=True)
            return
        if result.outcome != outcome:
            result = RunResult(**{**result.to_dict(), "outcome": outcome})
        self._end(result, count=False)

    def wait(self, timeout: float | None = None) -> bool:
        """After `finish`/`abort`: wait until the writer process has indexed the trace and exited.

        Returns False on timeout. Tests and benchmarks use it; the CLI does not need to.
        """
        if self._proc is None:
            return True
        with self._state:
            if not self._state.wait_for(lambda: self._writer_gone, timeout):
                return False
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._started or self._closed:
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

    # ----- internals ------------------------------------------------------

    def _write_header(self, header: RunHeader) -> int:
        conn = connect_sync(self.db_path)
        try:
            migrate_sync(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                run_key = conn.execute(INSERT_RUN, codec.header_row(header)).lastrowid
                assert run_key is not None
                conn.execute("UPDATE runs SET pid = ?, host = ?, heartbeat = ?, trace_format = ? WHERE rk = ?",
                             (os.getpid(), this_host(), time.time(), chunks.FORMAT if self._full else None,
                              run_key))
                if self._full:
                    conn.execute(create_trace_sql(run_key))
                conn.execute("COMMIT")
            except BaseException:
                rollback_sync(conn)
                raise
            return int(run_key)
        finally:
            conn.close()

    def _spawn(self) -> None:
        env = dict(os.environ)
        # The writer imports evtool: make this copy importable even when it is not installed.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            self._proc = subprocess.Popen(
                # -P: the current directory is not put first on sys.path, so an `evtool` folder there
                # (another checkout) cannot stand in for this copy's writer; -S: no `site` (its .pth
                # files and editable-install finders cost a recorded run ~10 ms of CPU), as the writer
                # needs only the standard library and this copy of evtool, which PYTHONPATH names
                [sys.executable, "-P", "-S", "-c", WRITER_COMMAND, str(self.db_path), str(self._run_key)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                # its own process group: a Ctrl-C at the terminal, or a SIGTERM to this process's group,
                # reaches this process only, also in the writer's first milliseconds, before it ignores them
                close_fds=True, process_group=0,
            )
        except OSError as exc:
            raise StoreError(f"cannot record into {self.db_path}: cannot start the writer process: {exc}") from exc
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            import fcntl

            fcntl.fcntl(self._proc.stdin.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
        except (ImportError, OSError):
            pass  # not Linux, or over the limit: the default pipe works, with more waiting
        self._sender = threading.Thread(target=self._send_loop, args=(self._proc.stdin,),
                                        name=f"evtool-recorder-send-{self.run_id}", daemon=True)
        self._listener = threading.Thread(target=self._listen, args=(self._proc.stdout,),
                                          name=f"evtool-recorder-listen-{self.run_id}", daemon=True)
        self._sender.start()
        self._listener.start()

    def _take_pending(self) -> list[bytes | memoryview] | None:
        """The pending events as one frame (its parts), or None (the caller holds `_lock`)."""
        if not self._pending_n:
            return None
        frame = rows_frame(self._pending, self._pending_n, self._pending_t, self._pending_published)
        self._pending = []
        self._pending_n = self._pending_published = 0
        return frame

    def _send_pending(self) -> None:
        """Queue the pending events (the caller holds `_lock`); blocks when `max_batches` are queued."""
        n = self._pending_n
        frame = self._take_pending()
        if frame is not None:
            self._queue(frame, n)

    def _queue(self, frame: _Frame, n: int) -> None:
        """Queue a frame of `n` events (the caller holds `_lock`); blocks when `max_batches` are queued."""
        self._sent += n
        while not self._failed:
            try:
                self._frames.put(frame, timeout=0.5)
                return
            except queue.Full:
                continue
        self.dropped += n

    def _send_loop(self, pipe: IO[bytes]) -> None:
        """The sender thread: write frames to the writer; every `flush_interval`, take what is pending."""
        while True:
            try:
                frame = self._frames.get(timeout=self.flush_interval)
            except queue.Empty:
                self._timed_flush()
                continue
            if frame is None:
                break
            if self._failed:
                continue  # keep draining so a blocked `record` returns
            try:
                if isinstance(frame, bytes):
                    pipe.write(frame)
                    pipe.flush()
                else:
                    _write_parts(pipe.fileno(), frame)
            except (OSError, ValueError) as exc:
                self._fail(RecorderError(f"the writer process stopped: {exc}"))
            except Exception as exc:  # noqa: BLE001 - a sender that died silently would leave `record` waiting
                self._fail(RecorderError(f"the recorder could not send a frame: {type(exc).__name__}: {exc}"))
        try:
            pipe.close()
        except OSError:
            pass

    def _timed_flush(self) -> None:
        # Never wait for the lock: the engine may hold it while blocked on a full queue.
        if self._closed or not self._lock.acquire(blocking=False):
            return
        try:
            if self._pending_n and not self._frames.full():
                n = self._pending_n
                frame = self._take_pending()
                assert frame is not None
                self._sent += n
                self._frames.put_nowait(frame)
        finally:
            self._lock.release()

    def _listen(self, out: IO[bytes]) -> None:
        """The listener thread: follow the writer's replies (see `evtool.store.writer`)."""
        for raw in out:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            word, _, rest = line.partition(" ")
            with self._state:
                if word == "C":
                    self._committed_events = int(rest)
                elif word == "D":
                    self._result_written = True
                    try:
                        self.writer_cpu_at_result = float(rest)
                    except ValueError:
                        pass
                elif word == "I":
                    self._indexed = True
                elif word == "E":
                    self._error = self._error or RecorderError(rest)
                    self._failed = True
                self._state.notify_all()
        # The writer closes its stdout when it exits: reap it here, so a run whose owner never calls
        # `wait` (`evtool run`, `api.run`) leaves no zombie, no open pipe and no ResourceWarning.
        out.close()
        if self._proc is not None:
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        with self._state:
            self._writer_gone = True
            self._state.notify_all()

    def _heartbeat(self) -> None:
        """The heartbeat thread: refresh runs.heartbeat every HEARTBEAT_S until the run ends.

        It runs in this process, not in the writer, so a live heartbeat means
        the run's own process is alive (evtool.store.liveness). A failed
        beat is skipped: a busy or full database must not stop the run.
        """
        conn = None
        try:
            while not self._beat_stop.wait(HEARTBEAT_S):
                try:
                    if conn is None:
                        conn = connect_sync(self.db_path)
                    conn.execute("UPDATE runs SET heartbeat = ? WHERE rk = ? AND ended_at IS NULL",
                                 (time.time(), self._run_key))
                except (sqlite3.Error, StoreError, OSError):
                    continue
        finally:
            if conn is not None:
                conn.close()

    def _stop_heartbeat(self) -> None:
        self._beat_stop.set()
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join(timeout=5)

    def _fail(self, exc: BaseException) -> None:
        with self._state:
            self._error = self._error or exc
            self._failed = True
            self._state.notify_all()

    def _end(self, result: RunResult, *, count: bool) -> None:
        if not self._started:
            raise RuntimeError("Recorder.start was not called")
        if self._closed:
            return
        self._stop_heartbeat()
        if self._sigterm is not None:
            self._sigterm.restore()
        if not self._full or self._proc is None:
            self._closed = True
            self._write_result(result, count=False)
            return
        with self._lock:
            self._closed = True
            if self._failed:
                self._take_pending()
            else:
                self._send_pending()
            if not self._failed:
                self._put(encode_end(codec.result_row(result), count))
            self._put(None)
        assert self._sender is not None
        self._sender.join()
        with self._state:
            if self.wait_for_index:
                self._state.wait_for(lambda: self._writer_gone)
            else:
                self._state.wait_for(lambda: self._writer_gone or self._result_written)
        if self.wait_for_index or self._writer_gone:
            self._proc.wait()
        if not self._result_written:
            # The writer failed or died: record the end ourselves, so the run is not left incomplete,
            # and say `partial` unless every recorded event did reach the database.
            reason = self._error or RecorderError(f"the writer process exited with status {self._proc.returncode}")
            try:
                lost = self._write_end_without_writer(result, count=count, reason=reason)
            except Exception as exc:  # noqa: BLE001 - the writer's error is the one to report
                self._error = self._error or exc
                lost = True
            if lost:
                raise RecorderError(f"the run record in {self.db_path} is partial: {reason}") from self._error
            return
        if self._error is not None:
            raise RecorderError(f"the run record in {self.db_path} is partial: {self._error}") from self._error

    def _put(self, frame: bytes | None) -> None:
        while True:
            try:
                self._frames.put(frame, timeout=0.5)
                return
            except queue.Full:
                if self._sender is None or not self._sender.is_alive():
                    return

    def _write_end_without_writer(self, result: RunResult, *, count: bool, reason: BaseException) -> bool:
        """Write the end of a run whose writer is gone; True when the stored trace lacks events.

        The table is the truth: what it holds was committed. When it holds
        fewer events than were recorded, the run is stored as `partial` with
        the committed counts, and summary["record"] keeps what the run
        itself reported (its outcome, its event count) and why.
        """
        from evtool.store.schema import trace_table

        conn = connect_sync(self.db_path)
        try:
            committed, last_t, published = conn.execute(
                chunks.COUNTS_SQL.format(table=trace_table(self._run_key))).fetchone()
        except sqlite3.Error:
            committed = last_t = published = 0  # the trace cannot be read: nothing of it counts
        finally:
            conn.close()
        if committed >= self._recorded:
            self._write_result(result, count=count)
            return False
        summary = dict(result.summary)
        summary["record"] = {"outcome": result.outcome, "events_run": result.events or self._recorded,
                             "events_recorded": self._recorded, "events_committed": committed,
                             "error": str(reason)}
        partial = RunResult(outcome="partial", ended_at=result.ended_at or utc_now_iso(),
                            virtual_ns=result.virtual_ns or last_t, digest=result.digest, events=committed,
                            messages=published, summary=summary, checks=result.checks)
        self._write_result(partial, count=False)
        return True

    def _write_result(self, result: RunResult, *, count: bool) -> None:
        """Write the result row from this process (summary mode, or when the writer failed)."""
        from evtool.store.schema import trace_table

        row = list(codec.result_row(result))
        conn = connect_sync(self.db_path)
        try:
            if count:
                n = last_t = published = 0
                if self._full:
                    n, last_t, published = conn.execute(
                        chunks.COUNTS_SQL.format(table=trace_table(self._run_key))).fetchone()
                row[2], row[4], row[5] = last_t, n, published
            for _ in range(100):
                try:
                    conn.execute(UPDATE_RESULT, (*row, self._run_key))
                    return
                except Exception as exc:
                    if not is_busy(exc):
                        raise
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"Recorder({str(self.db_path)!r}, run={self.run_id!r}, committed={self._committed_events})"

