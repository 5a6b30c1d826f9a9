"""The run store's SQLite schema, its version and its forward migrations.

The version lives in `PRAGMA user_version`. Each migration is a script that
takes the schema from version N-1 to N; `migrate` applies the missing ones in
one `BEGIN IMMEDIATE` transaction, re-reading the version inside it, so two
processes opening a fresh database at once do not both create it.

This module is synchronous (`sqlite3`): the recorder and its writer process
use it directly, and it imports nothing heavy. The async helpers for the
readers (aiosqlite) are in `evtool.store.aio` and share these definitions.
"""

from __future__ import annotations

import os
import sqlite3
import time

from evtool.store.errors import StoreError, describe_sqlite_error

TYPE_CHECKING = False  # typing and pathlib stay unimported: the writer process starts with only what it needs
if TYPE_CHECKING:
    from pathlib import Path

# Connection settings for every connection (writer and readers). WAL lets
# readers run while a writer writes; NORMAL survives an application crash
# (SIGKILL) and costs nothing at our batch sizes; busy_timeout makes a second
# writer wait for the first one's short transaction instead of failing.
# auto_vacuum=INCREMENTAL takes effect only on a new, empty database, so it
# comes before WAL (which writes the file's header): there the recorder's
# writer gives the pages its compaction freed back to the file system
# (`PRAGMA incremental_vacuum`, evtool.store.writer); on an older database
# it does nothing.
PRAGMAS: tuple[str, ...] = (
    "PRAGMA busy_timeout=10000",
    "PRAGMA auto_vacuum=INCREMENTAL",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
)

# The columns of `runs` that hold a run's result (`evtool.store.codec.result_row`). Here, not in codec, because
# the writer process writes them and must not import codec (its dataclasses cost the run ~35 ms of CPU).
RESULT_COLUMNS = "outcome, ended_at, virtual_ns, digest, events, messages, summary, checks"

# index i holds the script that migrates from version i to version i+1
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        rk             INTEGER PRIMARY KEY,
        id             TEXT NOT NULL UNIQUE,
        scenario_id    TEXT NOT NULL,
        scenario_path  TEXT NOT NULL,
        scenario_text  TEXT NOT NULL,
        scenario_hash  TEXT NOT NULL,
        seed           TEXT NOT NULL,      -- text: seeds may exceed 64 bits
        overrides      TEXT NOT NULL,      -- JSON object
        evtool_version TEXT NOT NULL,
        profile        TEXT NOT NULL,
        transport      TEXT NOT NULL,
        lesson_title   TEXT,
        record_mode    TEXT NOT NULL,
        started_at     TEXT NOT NULL,
        outcome        TEXT NOT NULL DEFAULT 'incomplete',
        ended_at       TEXT,
        virtual_ns     INTEGER,
        digest         TEXT,
        events         INTEGER,
        messages       INTEGER,
        summary        TEXT,               -- JSON object
        checks         TEXT,               -- JSON array
        trace_indexed  INTEGER NOT NULL DEFAULT 0  -- 1 once the trace table's indexes are built
    );
    CREATE INDEX runs_started ON runs(started_at);
    CREATE INDEX runs_scenario ON runs(scenario_id);

    """,
    # 2: who is recording a run that is still open, and when it last said so (`evtool runs`
    # tells a live run from one whose process died: see evtool.store.liveness)
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;      -- the recording process
    ALTER TABLE runs ADD COLUMN host TEXT;        -- the host it runs on (a pid means nothing elsewhere)
    ALTER TABLE runs ADD COLUMN heartbeat REAL;   -- unix time of its last heartbeat
    """,
    # 3: how the run's trace table is laid out: NULL one row per event (indexed at the end),
    # 1 chunks of compressed columns (evtool.store.chunks)
    """
    ALTER TABLE runs ADD COLUMN trace_format INTEGER;
    """,
    # 4: the lesson quiz a student answered in the dashboard during a run (evtool.store.quiz)
    """
    CREATE TABLE quiz (
        run_id   TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        lesson   TEXT NOT NULL,                 -- the scenario id of the lesson
        correct  INTEGER NOT NULL,              -- questions answered right
        asked    INTEGER NOT NULL,              -- questions with choices that were asked
        answers  TEXT NOT NULL,                 -- JSON array: {step, question, chose, right}
        at       TEXT NOT NULL                  -- when it was stored (UTC, ISO 8601)
    );
    CREATE INDEX quiz_lesson ON quiz(lesson);
    """,
)
# Columns a reader needs that an older schema lacks; a reader selects NULL for them instead.
ADDED_COLUMNS: tuple[str, ...] = ("pid", "host", "heartbeat", "trace_format")

SCHEMA_VERSION: int = len(MIGRATIONS)

# Each run's trace lives in its own table, `trace_<rk>`. Since schema version 3 it holds chunks
# of events (evtool.store.chunks, `runs.trace_format` = 1); before, one row per event, as below.
# Such a table, from an older run, is still read.
#
# The row layout: one row per event,
# `seq` being the rowid. Why not one shared table: appending to a rowid table
# with no secondary index is about twice as fast as maintaining indexes row
# by row, and building them once at the end is cheaper; deleting a run is a
# DROP TABLE. A run killed before its end keeps an unindexed table: still
# readable, scanned.
TRACE_COLUMNS = ("seq INTEGER PRIMARY KEY, t INTEGER NOT NULL, kind TEXT NOT NULL, msg TEXT, channel TEXT, "
                 "actor TEXT, instance INTEGER, key TEXT, attempt INTEGER NOT NULL, tag TEXT, data TEXT")
# The kinds that make up most of any trace. The kind index leaves them out
# (partial index): it stays small and quick to build, and it serves the
# questions people ask by kind (dead letters, failures, faults, emitted
# messages). A query for common kinds scans, which costs about the same.
COMMON_KINDS: tuple[str, ...] = ("published", "delivered", "handled", "acked", "enqueued")
COMMON_KINDS_SQL = "kind NOT IN (" + ", ".join(f"'{k}'" for k in COMMON_KINDS) + ")"
# name, column, partial-index condition (a query must imply it for SQLite to use the index)
TRACE_INDEXES: tuple[tuple[str, str, str], ...] = (
    ("msg", "msg", "msg IS NOT NULL"),
    ("kind", "kind", COMMON_KINDS_SQL),
    ("key", "key", "key IS NOT NULL"),
)


def trace_table(run_key: int) -> str:
    """The name of a run's trace table (`run_key` is runs.rk, an integer, so the name is safe to inline)."""
    return f"trace_{int(run_key)}"


def create_trace_sql(run_key: int) -> str:
    """The statement that creates a run's (chunked) trace table."""
    from evtool.store.chunks import create_sql

    return create_sql(trace_table(run_key))


def index_trace_sql(run_key: int) -> list[str]:
    """The statements that index a run's trace table in the row layout by message, (uncommon) kind and key."""
    table = trace_table(run_key)
    return [f"CREATE INDEX IF NOT EXISTS {table}_{name} ON {table}({column}) WHERE {where}"
            for name, column, where in TRACE_INDEXES]


def connect_sync(path: Path | str, timeout: float = 10.0) -> sqlite3.Connection:
    """Open `path` with `sqlite3` in autocommit mode (transactions are explicit) and apply `PRAGMAS`.

    A failure is a `StoreError` naming the path.
    """
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not a run database")
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the run database {path}: {exc}") from exc
    try:
        for pragma in PRAGMAS:
            if pragma == "PRAGMA journal_mode=WAL":
                ensure_wal_sync(conn)
            else:
                conn.execute(pragma)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(describe_sqlite_error(path, exc)) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def ensure_wal_sync(conn: sqlite3.Connection, attempts: int = 60) -> None:
    """Switch to WAL mode. SQLite does not wait on its busy timeout for this lock, so retry briefly."""
    for attempt in range(attempts):
        try:
            row = conn.execute("PRAGMA journal_mode").fetchone()
            if row and str(row[0]).lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            time.sleep(min(0.2, 0.01 * (attempt + 1)))
    raise StoreError("the run database stayed locked while switching it to WAL mode")


def is_busy(exc: BaseException) -> bool:
    """Whether an sqlite3 error is a lock conflict worth retrying."""
    text = str(exc)
    return "locked" in text or "busy" in text


def check_version(found: int) -> None:
    """Raise `StoreError` when a database was written by a newer evtool."""
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"this run database has schema version {found}, newer than this evtool knows "
            f"({SCHEMA_VERSION}); upgrade evtool or use another --db"
        )


def migrate_sync(conn: sqlite3.Connection) -> int:
    """`evtool.store.aio.migrate` for an `sqlite3` connection in autocommit mode."""
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found == SCHEMA_VERSION:
        return found
    check_version(found)
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for version in range(found, SCHEMA_VERSION):
            for statement in statements(MIGRATIONS[version]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        rollback_sync(conn)
        raise
    return found


def rollback_sync(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open, never raising.

    SQLite rolls a transaction back by itself after some errors (a full
    disk, an I/O error); a ROLLBACK then fails with "cannot rollback - no
    transaction is active", which would hide the error that matters.
    """
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would COMMIT our transaction)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
