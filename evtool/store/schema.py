"""The run store's SQLite schema, its version and its forward migrations.

The version lives in `PRAGMA user_version`. Each migration is a script that
takes the schema from version N-1 to N; `migrate` applies the missing ones in
one `BEGIN IMMEDIATE` transaction, re-reading the version inside it, so two
processes opening a fresh database at once do not both create it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import aiosqlite

from evtool.store.errors import StoreError

# Connection settings for every connection (writer and readers). WAL lets
# readers run while a writer writes; NORMAL survives an application crash
# (SIGKILL) and costs nothing at our batch sizes; busy_timeout makes a second
# writer wait for the first one's short transaction instead of failing.
PRAGMAS: tuple[str, ...] = (
    "PRAGMA busy_timeout=10000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
)

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
)

SCHEMA_VERSION: int = len(MIGRATIONS)

# Each run's trace lives in its own table, `trace_<rk>`, one row per event,
# `seq` being the rowid. Why not one shared table: appending to a rowid table
# with no secondary index is about twice as fast as maintaining the (run, msg),
# (run, kind), (run, key) indexes row by row, and building those indexes once
# at the end costs about 0.5 µs per event; deleting a run is a DROP TABLE.
# A run killed before its end keeps an unindexed table: still readable, scanned.
TRACE_COLUMNS = ("seq INTEGER PRIMARY KEY, t INTEGER NOT NULL, kind TEXT NOT NULL, msg TEXT, channel TEXT, "
                 "actor TEXT, instance INTEGER, key TEXT, attempt INTEGER NOT NULL, tag TEXT, data TEXT")
TRACE_INDEXES = (("msg", "msg"), ("kind", "kind"), ("key", "key"))


def trace_table(run_key: int) -> str:
    """The name of a run's trace table (`run_key` is runs.rk, an integer, so the name is safe to inline)."""
    return f"trace_{int(run_key)}"


def create_trace_sql(run_key: int) -> str:
    """The statement that creates a run's trace table."""
    return f"CREATE TABLE IF NOT EXISTS {trace_table(run_key)} ({TRACE_COLUMNS})"


def index_trace_sql(run_key: int) -> list[str]:
    """The statements that index a run's trace table by message, kind and key."""
    table = trace_table(run_key)
    return [f"CREATE INDEX IF NOT EXISTS {table}_{name} ON {table}({column})" for name, column in TRACE_INDEXES]


async def open_connection(path: Path, isolation_level: str | None) -> aiosqlite.Connection:
    """Open an aiosqlite connection to `path`; a failure is a `StoreError` naming the path."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a run database")
    proxy = aiosqlite.connect(path, isolation_level=isolation_level, check_same_thread=False)
    try:
        return await proxy
    except sqlite3.Error as exc:
        # aiosqlite queued a stop on its worker thread; let the worker finish
        # while our event loop is still open, or it reports to a closed loop.
        worker = getattr(proxy, "_thread", None)
        if isinstance(worker, threading.Thread):
            await asyncio.to_thread(worker.join, 5.0)
        raise StoreError(f"cannot open the run database {path}: {exc}") from exc


async def configure(conn: aiosqlite.Connection) -> None:
    """Apply the connection PRAGMAs.

    Switching a new database to WAL needs an exclusive lock, and SQLite does
    not wait on its busy timeout for it; when two processes create the
    database at once, the loser retries briefly.
    """
    for pragma in PRAGMAS:
        if pragma == "PRAGMA journal_mode=WAL":
            await _ensure_wal(conn)
        else:
            await conn.execute(pragma)


async def _ensure_wal(conn: aiosqlite.Connection, attempts: int = 60) -> None:
    for attempt in range(attempts):
        try:
            async with conn.execute("PRAGMA journal_mode") as cur:
                row = await cur.fetchone()
            if row and str(row[0]).lower() == "wal":
                return
            await conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            await asyncio.sleep(min(0.2, 0.01 * (attempt + 1)))
    raise StoreError("the run database stayed locked while switching it to WAL mode")


async def migrate(conn: aiosqlite.Connection) -> int:
    """Bring the schema up to `SCHEMA_VERSION`; return the version found before.

    Raises `StoreError` for a database written by a newer evtool.
    """
    found = await _user_version(conn)
    if found == SCHEMA_VERSION:
        return found
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"this run database has schema version {found}, newer than this evtool knows "
            f"({SCHEMA_VERSION}); upgrade evtool or use another --db"
        )
    await conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated between our read and our lock.
        found = await _user_version(conn)
        for version in range(found, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[version]):
                await conn.execute(statement)
        await conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return found


async def _user_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would COMMIT our transaction)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
