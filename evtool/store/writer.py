"""The recorder's writer process: reads framed batches of trace events on stdin and appends them to SQLite.

Why a separate process: the engine is pure Python and CPU-bound, so any
writer thread in its process competes with it for the GIL (JSON encoding,
binding parameters, the sqlite3 module's own Python-level work cost a
recording run 2-3x its time). Here the engine side takes the encoding of
each batch the trace digest has already made (evtool.trace.digest.
shared_encoding: marshal version 2 of the events as rows), counts its
`published` events, and a sender thread writes the bytes to a pipe; this
process compresses that very payload (raw deflate, `chunks.compress_rows`) and
stores it as one chunk row (`evtool.store.chunks`), on another core if there is one.

    python -m evtool.store.writer DB RUN_KEY    (the recorder runs `python -P -S -c WRITER_COMMAND DB RUN_KEY`)

Input, on stdin, a sequence of frames (`FRAME` header: a type byte and the
payload length):

    R   the chunk head (n, t_last, published, summary size: `chunks.HEAD`), the
        chunk's summary (empty), then the rows: marshal version 2 of a list of
        `TraceEvent`s as plain tuples (`chunks.rows_payload`)
    B   the chunk head, the chunk's summary, then marshal of the 10 columns of a
        batch of `TraceEvent`s (`encode_batch`)
    J   the same, with the data column already JSON text (values marshal refused)
    E   marshal of (result row, count): the run's result (`schema.RESULT_COLUMNS`);
        with `count`, events/messages/virtual time are counted from the table

Output, on stdout, one line per fact: ``C <n>`` after each commit (n events
committed so far), ``D <cpu>`` once the result is committed (with the CPU
seconds this process has used so far, for benchmarks), ``I`` once the trace
is compacted (`Writer.compact`: its row chunks rewritten as columns, at the
lowest priority) and marked indexed, ``E <message>`` on failure. Nobody need
wait for the ``I``: `evtool run` and `api.run` return at ``D``, and the
recorder's listener thread reaps the process when it exits.

End of input without an `E` frame means the parent died (SIGKILL, a crash):
whatever was received is committed and the run keeps its `incomplete`
outcome. The writer ignores SIGINT and SIGTERM, so Ctrl-C or a `kill` of the
process group reaches only the parent, which then sends an `E` frame with
outcome `interrupted`.
"""

from __future__ import annotations

import marshal
import sqlite3
import struct
import sys
import time
from operator import itemgetter

from evtool.store import chunks

TYPE_CHECKING = False  # this process starts for every recorded run: no typing, pathlib or collections
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import Any, BinaryIO

FRAME = struct.Struct("<cI")
ROWS = b"R"
BATCH = b"B"
BATCH_JSON = b"J"
END = b"E"
_CHUNK_FRAMES = {ROWS: "R", BATCH: "B", BATCH_JSON: "J"}  # frame type -> the chunk's `fmt`
# How long a write may keep retrying while another process holds the database lock.
BUSY_PATIENCE_S = 300.0

_EMPTY_SUMMARY = chunks.compress(chunks.EMPTY_SUMMARY)  # an 'R' chunk's: zlib takes ~50 µs for any input
_FIELDS = tuple(itemgetter(i) for i in range(10))  # the 10 fields of a `TraceEvent`, in order


# ----- both sides: the frames ------------------------------------------------

def _plain(value: Any) -> Any:
    """A value marshal accepts: plain scalars pass, anything else becomes its `str`."""
    if value is None or type(value) in (int, str, float, bool):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def rows_frame(bodies: Sequence[bytes | memoryview], n: int, t_last: int, published: int) -> list[bytes | memoryview]:
    """The parts of one `R` frame for `n` events given as their rows' marshal (version 2) encodings, in
    order (`bodies`: one or more batches' encodings, as `evtool.trace.digest.shared_batch` gives them).

    Parts, not one string: the recorder's sender writes them with one `os.writev`, so the engine's thread
    never copies a frame's bytes (about 85 bytes an event) only to have the pipe copy them again."""
    top = chunks.HEAD.pack(n, t_last, published, len(chunks.EMPTY_SUMMARY)) + chunks.EMPTY_SUMMARY
    parts = chunks.rows_payload(bodies, n)
    size = len(top) + sum(memoryview(part).nbytes for part in parts)  # bytes, whatever a view's item size
    return [FRAME.pack(ROWS, size) + top, *parts]


def encode_rows(bodies: Sequence[bytes | memoryview], n: int, t_last: int, published: int) -> bytes:
    """`rows_frame` as one string."""
    return b"".join(rows_frame(bodies, n, t_last, published))


def encode_batch(events: Sequence[Sequence[Any]]) -> bytes:
    """One `B` frame for a batch of trace events (tuples of the 10 `TraceEvent` fields).

    Column-wise, because `zip(*events)` is the cheapest way to turn named
    tuples into plain ones. If marshal refuses a value (an object in `data`),
    the data column is sent as JSON text (what the writer would store anyway)
    and other odd scalars as their `str`.
    """
    # Column by column with C-level getters: `zip(*events)` makes an iterator per event, and those
    # thousands of short-lived objects set off the garbage collector, which then walks the engine's
    # whole heap (0.3-0.5 µs an event, against 0.1 µs for this).
    cols = [tuple(map(get, events)) for get in _FIELDS] if events else []
    kind = BATCH
    try:
        payload = marshal.dumps(cols, chunks.MARSHAL_VERSION)
    except ValueError:
        import json

        kind = BATCH_JSON
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
        data = tuple(None if d is None else dumps(d) for d in cols[9])
        cols = [tuple(map(_plain, c)) for c in cols[:9]] + [data]
        payload = marshal.dumps(cols, chunks.MARSHAL_VERSION)
    top = chunks.head(cols)
    return FRAME.pack(kind, len(top) + len(payload)) + top + payload


def encode_end(result_row: Sequence[Any], count: bool) -> bytes:
    """The `E` frame: the result row and whether the writer should count what it committed."""
    payload = marshal.dumps((tuple(result_row), bool(count)))
    return FRAME.pack(END, len(payload)) + payload


def read_frames(stream: BinaryIO) -> Iterator[tuple[bytes, Any]]:
    """Frames until the end of the stream (an incomplete last frame is ignored).

    A batch frame's payload is passed on as bytes (it is stored as it is); an `E` frame is decoded.
    """
    while True:
        head = stream.read(FRAME.size)
        if len(head) < FRAME.size:
            return
        kind, size = FRAME.unpack(head)
        payload = stream.read(size)
        if len(payload) < size:
            return
        yield kind, (payload if kind in _CHUNK_FRAMES else marshal.loads(payload))


# ----- writer side ------------------------------------------------------------

class Writer:
    """Appends batches to one run's trace table; see the module docstring."""

    def __init__(self, conn: sqlite3.Connection, run_key: int, out: Any, nice: int = 0) -> None:
        from evtool.store.schema import trace_table

        self.conn = conn
        self.run_key = run_key
        self.table = trace_table(run_key)
        self.out = out
        self.nice = nice  # added to this process's nice value before the compaction
        self.insert = f"INSERT INTO {self.table} VALUES (?,?,?,?,?,?,?)"
        row = conn.execute(chunks.NEXT_SEQ_SQL.format(table=self.table)).fetchone()
        self.next_seq = int(row[0])

    def say(self, line: str) -> None:
        """Tell the parent something; a parent that is gone does not matter."""
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError):
            pass

    def transaction(self, statements: Iterable[tuple[str, Any]], many: bool = False) -> None:
        """Run statements in one IMMEDIATE transaction, retrying while another process holds the lock."""
        todo = list(statements)
        deadline = time.monotonic() + BUSY_PATIENCE_S
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, params in todo:
                        if many:
                            self.conn.executemany(sql, params)
                        else:
                            self.conn.execute(sql, params)
                    self.conn.execute("COMMIT")
                except BaseException:
                    from evtool.store.schema import rollback_sync

                    rollback_sync(self.conn)  # after a full disk SQLite has rolled back already
                    raise
                return
            except sqlite3.OperationalError as exc:
                from evtool.store.schema import is_busy

                if not is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def append(self, batches: list[tuple[bytes, bytes]]) -> None:
        """Store batches (frame type, payload) as chunks in one transaction and report the new total."""
        head, compress = chunks.HEAD, chunks.compress
        rows = []
        for kind, payload in batches:
            n, t_last, published, size = head.unpack_from(payload)
            if n == 0:
                continue
            body = memoryview(payload)
            cols = body[head.size + size:]
            summary = body[head.size:head.size + size]
            rows.append((self.next_seq, n, t_last, published, _CHUNK_FRAMES[kind],
                         _EMPTY_SUMMARY if summary == chunks.EMPTY_SUMMARY else compress(summary),
                         chunks.compress_rows(cols) if kind == ROWS else compress(cols)))
            self.next_seq += n
        if rows:
            self.transaction([(self.insert, rows)], many=True)
        self.say(f"C {self.next_seq}")

    def finish(self, result_row: Sequence[Any], count: bool) -> None:
        """Write the result (counting the table if asked), then index the trace."""
        row = list(result_row)
        if count:
            n, last_t, published = self.conn.execute(chunks.COUNTS_SQL.format(table=self.table)).fetchone()
            row[2], row[4], row[5] = last_t, n, published  # virtual_ns, events, messages
        from evtool.store.schema import RESULT_COLUMNS

        update = f"UPDATE runs SET ({RESULT_COLUMNS}) = ({', '.join('?' * len(row))}) WHERE rk = ?"
        self.transaction([(update, (*row, self.run_key))])
        self.say(f"D {time.process_time():.6f}")
        self.compact()
        # The flag says the trace is complete (and compacted as far as it could be).
        self.transaction([("UPDATE runs SET trace_indexed = 1 WHERE rk = ?", (self.run_key,))])
        self.say("I")

    def compact(self) -> None:
        """Rewrite the run's 'R' chunks as 'B' chunks (columns and a summary), at the lowest CPU priority.

        After the result is committed (the recorded run has ended; `evtool run` has returned), so it
        costs the run nothing: rows are what the engine can hand over for free, columns are what
        readers decode several times faster and what compresses to half the size. One chunk per
        transaction: a reader sees each chunk whole in one format or the other, and a writer killed
        here leaves a trace that reads the same. A failure (a busy or full disk) leaves the rest as
        rows, which read the same, only slower.
        """
        import gc
        import os

        if self.nice:
            try:
                os.nice(self.nice)  # the run is over: whatever the user runs next goes first
            except (AttributeError, OSError):
                pass
        collecting = gc.isenabled()
        gc.disable()  # nothing here makes cycles; the collector would only walk the rows again and again
        select = (f"SELECT first_seq, cols FROM {self.table} WHERE fmt = 'R' AND first_seq > ? "
                  "ORDER BY first_seq LIMIT 1")
        update = f"UPDATE {self.table} SET fmt = 'B', summary = ?, cols = ? WHERE first_seq = ? AND fmt = 'R'"
        compress = chunks.compress
        after = -1
        try:
            while True:
                row = self.conn.execute(select, (after,)).fetchone()
                if row is None:
                    break
                after = row[0]
                try:
                    cols = chunks.columns(row[1], "R")
                    summary = chunks.share_values(cols)
                    payload = marshal.dumps(cols, chunks.MARSHAL_VERSION)
                except Exception:  # noqa: BLE001 - a damaged chunk stays as it is (readers report it)
                    continue
                self.transaction([(update, (compress(summary), compress(payload), after))])
        except (sqlite3.Error, OSError):
            return  # the rest stays as rows: readable, only slower
        else:
            try:
                # Give the pages the rows took back (a database made with auto_vacuum=INCREMENTAL,
                # see evtool.store.schema; elsewhere a no-op). executescript steps it to the end.
                self.conn.executescript("PRAGMA incremental_vacuum;")
            except sqlite3.Error:
                pass  # busy: the free pages stay in the file, and the next run's rows fill them
        finally:
            if collecting:
                gc.enable()


def serve(db: str, run_key: int, stream: BinaryIO, out: Any, nice: int = 0) -> int:
    """Write frames from `stream` into run `run_key`'s trace in `db`; the exit status.

    `nice` is added to the process's nice value once the result is committed (`Writer.compact`).
    """
    from evtool.store.schema import connect_sync

    writer: Writer | None = None
    conn: sqlite3.Connection | None = None
    try:
        conn = connect_sync(db)
        writer = Writer(conn, run_key, out, nice)
        # One thread reads and writes: the parent queues frames and the pipe holds a megabyte, so the
        # engine does not wait on this loop (a reader thread here, with `queue` and `threading`, cost
        # this process more to start than it saved).
        for kind, payload in read_frames(stream):
            if kind in _CHUNK_FRAMES:
                writer.append([(kind, payload)])
            elif kind == END:
                result_row, count = payload
                writer.finish(result_row, count)
                return 0
        return 0  # the parent is gone: the run stays incomplete with what was committed
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        from evtool.store.errors import describe_sqlite_error

        detail = describe_sqlite_error(db, exc) if isinstance(exc, sqlite3.Error | OSError) else exc
        message = f"{type(exc).__name__}: {detail}".replace("\n", " ")
        if writer is not None:
            writer.say(f"E {message}")
        else:
            try:
                out.write(f"E {message}\n")
                out.flush()
            except (OSError, ValueError):
                pass
        return 1
    finally:
        if conn is not None:
            try:
                conn.close()  # the last connection to close checkpoints the WAL into the database
            except sqlite3.Error:
                pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the writer process (see the module docstring)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m evtool.store.writer DB RUN_KEY", file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM to the process group are for the parent: it ends the run and sends `E`;
    # this process ends when its input does (also when the parent was killed outright).
    try:
        import _signal as signals  # what `signal` wraps, without the enums that cost it ~3 ms to import
    except ImportError:
        import signal as signals
    signals.signal(signals.SIGINT, signals.SIG_IGN)
    signals.signal(signals.SIGTERM, signals.SIG_IGN)
    return serve(args[0], int(args[1]), sys.stdin.buffer, sys.stdout, nice=19)


def process_main() -> None:
    """What the writer process runs (`WRITER_COMMAND`): `main`, then an exit without interpreter shutdown.

    Everything is committed and the connection closed by then; finalizing the modules would only cost
    the process more CPU.
    """
    status = main()
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    import os

    os._exit(status)


WRITER_COMMAND = "from evtool.store.writer import process_main; process_main()"
"""The writer process's `python -c` program: `-m evtool.store.writer` does the same, but `runpy`, which
`-m` imports, costs the process more to start than everything else it imports but sqlite3."""

if __name__ == "__main__":
    process_main()
