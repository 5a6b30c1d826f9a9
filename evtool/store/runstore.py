"""Reading recorded runs: listing, resolving a reference, one run's header/result, its trace.

`RunStore` is async (aiosqlite); `SyncRunStore` wraps it for the CLI, with
one private event loop for the life of the object. Event iteration pages
through the trace by sequence number, so memory stays bounded however long
the run was.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from evtool.core.events import TraceEvent
from evtool.store import chunks, codec
from evtool.store.aio import configure, open_connection, open_reader, rollback
from evtool.store.errors import AmbiguousRun, RunNotFound, StoreError, describe_sqlite_error
from evtool.store.liveness import run_state
from evtool.store.model import RunHeader, RunResult, RunRow
from evtool.store.paths import resolve_db_path
from evtool.store.schema import (
    ADDED_COLUMNS,
    COMMON_KINDS,
    COMMON_KINDS_SQL,
    MIGRATIONS,
    check_version,
    statements,
    trace_table,
)

PAGE = 5000

LIST_RUNS = """
    SELECT r.id, r.started_at, r.ended_at, r.scenario_id, r.scenario_path, r.seed, r.outcome,
           r.messages, r.events, r.virtual_ns, r.transport, r.profile, r.record_mode, r.rk, r.overrides, r.checks,
           {pid}, {host}, {heartbeat}
    FROM runs r
    WHERE (:scenario IS NULL OR r.scenario_id = :scenario OR r.scenario_path = :scenario
           OR r.scenario_path LIKE '%' || :scenario || '%')
      AND (:outcome IS NULL OR r.outcome = :outcome)
    ORDER BY r.rk DESC
    LIMIT :limit
"""

STATE = "SELECT r.ended_at, {pid}, {host}, {heartbeat} FROM runs r WHERE r.id = ?"
RUN_KEY = "SELECT r.rk, r.record_mode, {trace_format} FROM runs r WHERE r.id = ?"
# Chunks fetched per query when reading a chunked trace (about 8,000 events each).
CHUNKS_PER_QUERY = 2


class RunStore:
    """Async read access to a run database (and deletion of runs).

    Open with ``async with RunStore(path) as store:`` or ``await RunStore.open(path)``.
    Reading never writes: the database is opened read-only (so a read-only
    file system is fine), a database from an older evtool is read as it is
    (the next recording migrates it), one from a newer evtool is refused.
    Every SQLite failure (not a database, damaged, locked, ...) is a
    `StoreError` that says what it means. Only `delete` writes, on a
    connection of its own.
    """

    def __init__(self, db_path: str | Path | None = None) -> None:
        self.db_path: Path = resolve_db_path(db_path)
        self._conn: aiosqlite.Connection | None = None
        self._list_sql = LIST_RUNS.format(**{c: f"r.{c}" for c in ADDED_COLUMNS})
        self._state_sql = STATE.format(**{c: f"r.{c}" for c in ADDED_COLUMNS})
        self._run_key_sql = RUN_KEY.format(**{c: f"r.{c}" for c in ADDED_COLUMNS})
        self._chunked: dict[int, bool] = {}

    @classmethod
    async def open(cls, db_path: str | Path | None = None) -> RunStore:
        """Open the store at `db_path` (or the default path)."""
        store = cls(db_path)
        await store.connect()
        return store

    async def connect(self) -> None:
        """Open the connection; raises `StoreError` when there is no database."""
        if not self.db_path.exists():
            raise StoreError(f"no run database at {self.db_path} (nothing recorded yet; see --db or $EVTOOL_DB)")
        try:
            conn = await open_reader(self.db_path)
        except sqlite3.Error as exc:
            raise StoreError(describe_sqlite_error(self.db_path, exc)) from exc
        self._conn = conn
        try:
            await self._check_schema()
        except BaseException:
            self._conn = None
            await conn.close()
            raise

    async def _check_schema(self) -> None:
        """Refuse a newer schema or another application's database; adapt the queries to an older schema."""
        version = int((await self._all("PRAGMA user_version"))[0][0])
        check_version(version)
        tables = {str(r[0]) for r in await self._all("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "runs" not in tables:
            if tables or version != 0:
                raise StoreError(f"{self.db_path} is not an evtool run database (it has no runs table); "
                                 "pass the right --db")
            # An empty database (a new file): no runs. A TEMP table lets every query run unchanged
            # without writing the file (temporary tables live in memory, beside a read-only database).
            create = statements(MIGRATIONS[0])[0].replace("CREATE TABLE runs", "CREATE TEMP TABLE runs", 1)
            await self.conn.execute(create)
            for script in MIGRATIONS[1:]:
                for statement in statements(script):
                    if statement.startswith("ALTER TABLE runs"):  # other tables (quiz) are read on their own
                        await self.conn.execute(statement.replace("ALTER TABLE runs", "ALTER TABLE temp.runs", 1))
        columns = {str(r[1]) for r in await self._all("PRAGMA table_info(runs)")}
        selected = {c: f"r.{c}" if c in columns else f"NULL AS {c}" for c in ADDED_COLUMNS}
        self._list_sql = LIST_RUNS.format(**selected)
        self._state_sql = STATE.format(**selected)
        self._run_key_sql = RUN_KEY.format(**selected)

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> RunStore:
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    @property
    def conn(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._conn is None:
            raise StoreError("the run store is not open")
        return self._conn

    async def _all(self, sql: str, params: Any = ()) -> list[Any]:
        try:
            async with self.conn.execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            # a damaged file may open and list its runs, and fail only when a trace page is read
            raise StoreError(describe_sqlite_error(self.db_path, exc)) from exc

    async def list_runs(self, scenario: str | None = None, outcome: str | None = None,
                        limit: int = 20) -> list[RunRow]:
        """The most recent runs first; `scenario` matches the id, the path or part of the path.

        For a run without a result (open or killed) the counts are what was committed so far.
        """
        rows = await self._all(self._list_sql, {"scenario": scenario, "outcome": outcome, "limit": limit})
        out = []
        for r in rows:
            messages, events, virtual_ns = r[7], r[8], r[9]
            if events is None:
                events, messages, virtual_ns = await self._progress(int(r[13]), r[12] == "full")
            checks = codec.loads(r[15]) if r[15] else []
            state = run_state(r[16], r[17], r[18]) if r[2] is None else ""
            out.append(RunRow(id=r[0], started_at=r[1], ended_at=r[2], scenario_id=r[3], scenario_path=r[4],
                              seed=int(r[5]), outcome=r[6], messages=messages or 0, events=events or 0,
                              virtual_ns=virtual_ns or 0, transport=r[10], profile=r[11], record_mode=r[12],
                              overrides=codec.loads(r[14]) if r[14] else {},
                              checks_passed=sum(1 for c in checks if c.get("status") == "pass"),
                              checks_total=len(checks), state=state))
        return out

    async def state(self, run_id: str) -> str | None:
        """`running` or `died` for a run without a result (evtool.store.liveness); None once it has one."""
        rows = await self._all(self._state_sql, (run_id,))
        if not rows:
            raise RunNotFound(f"no run {run_id!r} in {self.db_path}")
        ended_at, pid, host, heartbeat = rows[0]
        return run_state(pid, host, heartbeat) if ended_at is None else None

    async def resolve(self, ref: str) -> str:
        """The run id for `ref`: a full id, a unique prefix of one, or `last`.

        Raises `RunNotFound` or `AmbiguousRun` (which lists the candidates).
        """
        ref = ref.strip().lower()
        if ref in ("last", "latest"):
            rows = await self._all("SELECT id FROM runs ORDER BY rk DESC LIMIT 1")
            if not rows:
                raise RunNotFound(f"no runs recorded yet in {self.db_path}")
            return str(rows[0][0])
        if not ref or any(c not in "0123456789abcdef" for c in ref):
            raise RunNotFound(f"{ref!r} is not a run id: give an id, a prefix of one (hex), or 'last'")
        rows = await self._all(
            "SELECT id, started_at, scenario_id, outcome FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 11",
            (ref, ref + "g"),
        )
        if not rows:
            raise RunNotFound(f"no run id starts with {ref!r} in {self.db_path} (see `evtool runs`)")
        if len(rows) > 1 and rows[0][0] != ref:
            lines = [f"  {r[0]}  {r[1][:19]}  {r[2]}  {r[3]}" for r in rows[:10]]
            more = "\n  ..." if len(rows) > 10 else ""
            raise AmbiguousRun(f"{ref!r} matches {'more than 10' if more else len(rows)} runs; "
                               f"give more characters:\n" + "\n".join(lines) + more,
                               [str(r[0]) for r in rows[:10]])
        return str(rows[0][0])

    async def _run_key(self, run_id: str) -> int | None:
        """runs.rk for a run id, or None when the run keeps no trace (summary mode)."""
        rows = await self._all(self._run_key_sql, (run_id,))
        if not rows:
            raise RunNotFound(f"no run {run_id!r} in {self.db_path}")
        if rows[0][1] != "full":
            return None
        rk = int(rows[0][0])
        self._chunked[rk] = rows[0][2] == chunks.FORMAT
        return rk

    async def _is_chunked(self, rk: int) -> bool:
        """Whether run `rk`'s trace table holds chunks (schema 3) or one row per event (older runs)."""
        if rk not in self._chunked:
            rows = await self._all(self._run_key_sql.replace("r.id = ?", "r.rk = ?"), (rk,))
            self._chunked[rk] = bool(rows) and rows[0][2] == chunks.FORMAT
        return self._chunked[rk]

    async def _chunks(self, rk: int, kinds: frozenset[str] | None = None, msgs: frozenset[str] | None = None,
                      key: str | None = None) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The columns of each chunk of a chunked trace, in order, a few chunks per query.

        With `kinds`, `msgs` or `key`, only chunks that may hold one of the kinds, one of the
        messages and the key are decoded and given (`chunks.load`); the caller filters their rows.
        """
        sql = (f"SELECT first_seq, fmt, summary, cols FROM {trace_table(rk)} WHERE first_seq > ? "
               f"ORDER BY first_seq LIMIT {CHUNKS_PER_QUERY}")
        after = -1
        while True:
            rows = await self._all(sql, (after,))
            for _, fmt, summary, blob in rows:
                try:
                    cols = chunks.load(fmt, summary, blob, kinds, msgs, key)
                    if cols is None:
                        continue
                except Exception as exc:  # noqa: BLE001 - zlib.error, ValueError, EOFError, TypeError
                    raise StoreError(f"{self.db_path}: a chunk of this run's trace is damaged "
                                     f"({type(exc).__name__}: {exc})") from None
                yield cols
            if len(rows) < CHUNKS_PER_QUERY:
                return
            after = rows[-1][0]

    async def get(self, run_id: str) -> tuple[RunHeader, RunResult | None]:
        """The header and the result (None while the run is open or after it was killed)."""
        rows = await self._all(f"SELECT {codec.HEADER_COLUMNS}, {codec.RESULT_COLUMNS} FROM runs WHERE id = ?",
                               (run_id,))
        if not rows:
            raise RunNotFound(f"no run {run_id!r} in {self.db_path}")
        row = rows[0]
        return codec.header_from_row(row[:13]), codec.result_from_row(row[13:])

    async def _progress(self, rk: int, full: bool) -> tuple[int, int, int]:
        if not full:
            return 0, 0, 0
        if await self._is_chunked(rk):
            rows = await self._all(chunks.COUNTS_SQL.format(table=trace_table(rk)))
        else:
            rows = await self._all(f"SELECT count(*), coalesce(max(t), 0), coalesce(sum(kind = 'published'), 0) "
                                   f"FROM {trace_table(rk)}")
        count, last_t, published = rows[0]
        return int(count), int(published), int(last_t)

    async def progress(self, run_id: str) -> tuple[int, int, int]:
        """(events, published messages, last virtual time) committed so far for a run's trace."""
        rk = await self._run_key(run_id)
        return await self._progress(rk, True) if rk is not None else (0, 0, 0)

    async def events(self, run_id: str, kinds: Iterable[str] | None = None, msg: str | None = None,
                     key: str | None = None, msgs: Iterable[str] | None = None) -> AsyncIterator[TraceEvent]:
        """The run's trace in order, optionally only some kinds, one message (or several), one key."""
        async for page in self.event_pages(run_id, kinds=kinds, msg=msg, key=key, msgs=msgs):
            for event in page:
                yield event

    async def event_pages(self, run_id: str, kinds: Iterable[str] | None = None, msg: str | None = None,
                          key: str | None = None,
                          msgs: Iterable[str] | None = None) -> AsyncIterator[list[TraceEvent]]:
        """Like `events`, in pages of up to `PAGE` events (one query each)."""
        rk = await self._run_key(run_id)
        if rk is None:
            return
        if self._chunked.get(rk):
            async for page in self._chunk_pages(rk, kinds, msg, key, msgs):
                yield page
            return
        where = ["seq > :after"]
        params: dict[str, Any] = {}
        if kinds is not None:
            kinds_list = list(kinds)
            names = [f"k{i}" for i in range(len(kinds_list))]
            where.append(f"kind IN ({', '.join(':' + n for n in names)})" if names else "0")
            params.update(zip(names, kinds_list, strict=True))
            if kinds_list and not set(kinds_list) & set(COMMON_KINDS):
                where.append(COMMON_KINDS_SQL)  # lets SQLite use the partial kind index
        if msg is not None:
            where.append("msg = :msg")
            params["msg"] = msg
        if msgs is not None:
            msg_list = list(msgs)
            names = [f"m{i}" for i in range(len(msg_list))]
            where.append(f"msg IN ({', '.join(':' + n for n in names)})" if names else "0")
            params.update(zip(names, msg_list, strict=True))
        if key is not None:
            where.append("key = :key")
            params["key"] = key
        sql = (f"SELECT seq, {codec.EVENT_COLUMNS} FROM {trace_table(rk)} WHERE {' AND '.join(where)} "
               f"ORDER BY seq LIMIT {PAGE}")
        params["after"] = -1
        while True:
            rows = await self._all(sql, params)
            if rows:
                yield [codec.row_event(row[1:]) for row in rows]
            if len(rows) < PAGE:
                return
            params["after"] = rows[-1][0]

    async def _chunk_pages(self, rk: int, kinds: Iterable[str] | None, msg: str | None, key: str | None,
                           msgs: Iterable[str] | None) -> AsyncIterator[list[TraceEvent]]:
        """`event_pages` of a chunked trace: each chunk decoded and filtered in memory."""
        kind_set = None if kinds is None else frozenset(kinds)
        msg_set = None if msgs is None else frozenset(msgs)
        if msg is not None:
            msg_set = frozenset({msg}) if msg_set is None else msg_set & {msg}
        if kind_set is not None and not kind_set or msg_set is not None and not msg_set:
            return
        plain = kind_set is None and msg_set is None and key is None
        async for cols in self._chunks(rk, kind_set, msg_set, key):
            if plain:
                yield chunks.events(cols)
                continue
            page = chunks.events(cols, chunks.select(cols, kind_set, msg_set, key))
            if page:
                yield page

    async def column_pages(self, run_id: str) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The whole trace in order as columns (the ten `TraceEvent` fields as ten tuples), a chunk or page each.

        For a fast reader (an export) that needs no `TraceEvent` objects: a chunked trace gives its stored
        columns as they are; a trace of one row per event gives each page transposed.
        """
        rk = await self._run_key(run_id)
        if rk is None:
            return
        if self._chunked.get(rk):
            async for cols in self._chunks(rk):
                if cols and cols[0]:
                    yield cols
            return
        async for page in self.event_pages(run_id):
            yield list(zip(*page, strict=True))

    async def count_kinds(self, run_id: str, kinds: Iterable[str]) -> int:
        """How many events of the given kinds the run's trace holds, without building the events."""
        kind_set = frozenset(kinds)
        rk = await self._run_key(run_id)
        if rk is None or not kind_set:
            return 0
        if self._chunked.get(rk):
            total = 0
            async for cols in self._chunks(rk, kind_set):
                col = cols[1]
                total += sum(col.count(k) for k in kind_set)
            return total
        kinds_list = sorted(kind_set)
        rare = "" if kind_set & set(COMMON_KINDS) else f" AND {COMMON_KINDS_SQL}"
        rows = await self._all(f"SELECT count(*) FROM {trace_table(rk)} WHERE kind IN "
                               f"({', '.join('?' for _ in kinds_list)}){rare}", kinds_list)
        return int(rows[0][0])

    async def caused_by(self, run_id: str, msg_id: str) -> list[str]:
        """Ids of the messages a handler emitted while processing `msg_id` (`emitted`, data.causation_id)."""
        rk = await self._run_key(run_id)
        if rk is None:
            return []
        if self._chunked.get(rk):
            found: dict[str, None] = {}
            async for cols in self._chunks(rk, frozenset({"emitted"})):
                for i in chunks.select(cols, frozenset({"emitted"})):
                    data = cols[9][i]
                    if isinstance(data, dict) and data.get("causation_id") == msg_id and cols[2][i] is not None:
                        found.setdefault(str(cols[2][i]), None)
            return list(found)
        rows = await self._all(
            f"SELECT msg FROM {trace_table(rk)} WHERE kind = 'emitted' AND {COMMON_KINDS_SQL} "
            "AND json_extract(data, '$.causation_id') = ? GROUP BY msg ORDER BY min(seq)", (msg_id,))
        return [str(r[0]) for r in rows]

    async def message_ids(self, run_id: str, kind: str, limit: int) -> list[str]:
        """The first `limit` distinct message ids that have an event of `kind`, in trace order."""
        rk = await self._run_key(run_id)
        if rk is None or limit <= 0:
            return []
        if self._chunked.get(rk):
            seen: dict[str, None] = {}
            async for cols in self._chunks(rk, frozenset({kind})):
                msg_col = cols[2]
                for i in chunks.select(cols, frozenset({kind})):
                    if msg_col[i] is not None:
                        seen.setdefault(str(msg_col[i]), None)
                        if len(seen) >= limit:
                            return list(seen)
            return list(seen)
        rare = "" if kind in COMMON_KINDS else f" AND {COMMON_KINDS_SQL}"
        # In sequence order, a page at a time: stops as soon as enough ids are found
        # (a GROUP BY would read every event of the kind first).
        sql = (f"SELECT seq, msg FROM {trace_table(rk)} WHERE seq > ? AND kind = ? AND msg IS NOT NULL{rare} "
               f"ORDER BY seq LIMIT ?")
        found: dict[str, None] = {}
        after = -1
        page = max(4 * limit, 100)
        while len(found) < limit:
            rows = await self._all(sql, (after, kind, page))
            for _, msg in rows:
                found.setdefault(str(msg), None)
            if len(rows) < page:
                break
            after = rows[-1][0]
        return list(found)[:limit]

    async def delete(self, run_id: str) -> None:
        """Delete a run and its trace."""
        rows = await self._all("SELECT rk FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise RunNotFound(f"no run {run_id!r} in {self.db_path}")
        rk = int(rows[0][0])
        conn = await open_connection(self.db_path, None)
        try:
            await configure(conn)
            await conn.execute("BEGIN IMMEDIATE")
            try:
                await conn.execute(f"DROP TABLE IF EXISTS {trace_table(rk)}")
                await conn.execute("DELETE FROM runs WHERE rk = ?", (rk,))
                await conn.execute("COMMIT")
            except BaseException:
                await rollback(conn)
                raise
        except sqlite3.Error as exc:
            raise StoreError(describe_sqlite_error(self.db_path, exc)) from exc
        finally:
            await conn.close()


class SyncRunStore:
    """`RunStore` for synchronous callers (the CLI): the same methods, blocking.

    Use as a context manager: ``with SyncRunStore(path) as store: store.list_runs()``.
    `events` returns a lazy iterator that pages through the trace.
    """

    def __init__(self, db_path: str | Path | None = None) -> None:
        self._runner = asyncio.Runner()
        self._store = RunStore(db_path)
        try:
            self._runner.run(self._store.connect())
        except BaseException:
            self._runner.close()
            raise

    @property
    def db_path(self) -> Path:
        """The database file."""
        return self._store.db_path

    def close(self) -> None:
        """Close the connection and the private event loop."""
        try:
            self._runner.run(self._store.close())
        finally:
            self._runner.close()

    def __enter__(self) -> SyncRunStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def list_runs(self, scenario: str | None = None, outcome: str | None = None, limit: int = 20) -> list[RunRow]:
        """See `RunStore.list_runs`."""
        return self._runner.run(self._store.list_runs(scenario, outcome, limit))

    def resolve(self, ref: str) -> str:
        """See `RunStore.resolve`."""
        return self._runner.run(self._store.resolve(ref))

    def get(self, run_id: str) -> tuple[RunHeader, RunResult | None]:
        """See `RunStore.get`."""
        return self._runner.run(self._store.get(run_id))

    def state(self, run_id: str) -> str | None:
        """See `RunStore.state`."""
        return self._runner.run(self._store.state(run_id))

    def progress(self, run_id: str) -> tuple[int, int, int]:
        """See `RunStore.progress`."""
        return self._runner.run(self._store.progress(run_id))

    def caused_by(self, run_id: str, msg_id: str) -> list[str]:
        """See `RunStore.caused_by`."""
        return self._runner.run(self._store.caused_by(run_id, msg_id))

    def message_ids(self, run_id: str, kind: str, limit: int) -> list[str]:
        """See `RunStore.message_ids`."""
        return self._runner.run(self._store.message_ids(run_id, kind, limit))

    def delete(self, run_id: str) -> None:
        """See `RunStore.delete`."""
        self._runner.run(self._store.delete(run_id))

    def count_kinds(self, run_id: str, kinds: Iterable[str]) -> int:
        """See `RunStore.count_kinds`."""
        return self._runner.run(self._store.count_kinds(run_id, kinds))

    def column_pages(self, run_id: str) -> Iterator[list[tuple[Any, ...]]]:
        """See `RunStore.column_pages`; a lazy iterator."""
        agen = self._store.column_pages(run_id)
        try:
            while True:
                try:
                    cols = self._runner.run(agen.__anext__())
                except StopAsyncIteration:
                    return
                yield cols
        finally:
            try:
                self._runner.run(agen.aclose())
            except RuntimeError:
                pass  # left unfinished and collected after the store was closed: nothing left to close

    def events(self, run_id: str, kinds: Iterable[str] | None = None, msg: str | None = None,
               key: str | None = None, msgs: Iterable[str] | None = None) -> Iterator[TraceEvent]:
        """See `RunStore.events`; a lazy iterator (pages are fetched as it is consumed)."""
        agen = self._store.event_pages(run_id, kinds=kinds, msg=msg, key=key, msgs=msgs)
        try:
            while True:
                try:
                    page = self._runner.run(agen.__anext__())
                except StopAsyncIteration:
                    return
                yield from page
        finally:
            try:
                self._runner.run(agen.aclose())
            except RuntimeError:
                pass  # left unfinished and collected after the store was closed: nothing left to close
