"""The run store's async (aiosqlite) connection helpers, for the readers.

Same PRAGMAs, same migrations as `evtool.store.schema` (the synchronous side).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import aiosqlite

from evtool.store.errors import StoreError
from evtool.store.schema import MIGRATIONS, PRAGMAS, SCHEMA_VERSION, check_version, is_busy, statements


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
            if not is_busy(exc):
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
    check_version(found)
    await conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated between our read and our lock.
        found = await _user_version(conn)
        for version in range(found, SCHEMA_VERSION):
            for statement in statements(MIGRATIONS[version]):
                await conn.execute(statement)
        await conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        await conn.execute("COMMIT")
    except BaseException:
        await rollback(conn)
        raise
    return found


async def rollback(conn: aiosqlite.Connection) -> None:
    """Roll back if a transaction is still open, never raising (see `evtool.store.schema.rollback_sync`)."""
    try:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


# What a reader sets: no journal-mode switch (a write), nothing else that writes.
READ_PRAGMAS: tuple[str, ...] = ("PRAGMA busy_timeout=10000", "PRAGMA temp_store=MEMORY")


async def open_reader(path: Path) -> aiosqlite.Connection:
    """Open `path` read-only: reading never writes, so it works on a read-only file system and never
    creates, migrates or touches a file that is not a run database.

    `mode=ro` needs the WAL index (`-shm`) to exist or be creatable; on a
    read-only file system where the last writer removed it, or on a full
    disk where it could not be made, the database is opened `immutable` instead, which is exact there because nothing can
    write to it. A database with an unfinished `-wal` file is never opened
    immutable (that would read it without its last commits).
    """
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a run database")
    base = path.resolve().as_uri()
    wal = Path(f"{path}-wal")
    attempts = [f"{base}?mode=ro"]
    if not (wal.exists() and wal.stat().st_size > 0):
        attempts.append(f"{base}?mode=ro&immutable=1")
    last: sqlite3.Error | None = None
    for uri in attempts:
        proxy = aiosqlite.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            conn = await proxy
        except sqlite3.Error as exc:
            worker = getattr(proxy, "_thread", None)
            if isinstance(worker, threading.Thread):
                await asyncio.to_thread(worker.join, 5.0)
            last = exc
            continue
        try:
            for pragma in READ_PRAGMAS:
                await conn.execute(pragma)
            async with conn.execute("SELECT count(*) FROM sqlite_master") as cur:
                await cur.fetchone()  # the first read: it opens the WAL index, or fails
        except sqlite3.OperationalError as exc:
            await conn.close()
            last = exc
            # no WAL index and none can be made (read-only file system, full disk): try the next way
            if any(w in str(exc) for w in ("unable to open", "readonly", "disk I/O error")):
                continue
            raise
        except BaseException:
            await conn.close()
            raise
        return conn
    assert last is not None
    raise last


async def _user_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
