"""evtool.store: the run store, an embedded SQLite database (aiosqlite) of every recorded run.

Public API (imported lazily, so `import evtool.store` stays cheap for the CLI):

Paths
    default_db_path() -> Path                     $EVTOOL_DB, else ./.evtool/runs.db
    resolve_db_path(explicit=None) -> Path        --db PATH if given, else the default

Model (evtool.store.model)
    RunHeader(id, scenario_id, scenario_path, scenario_text, scenario_hash, seed, overrides,
              evtool_version, profile, transport, lesson_title, record_mode, started_at)
    RunResult(outcome, ended_at, virtual_ns, digest, events, messages, summary, checks)
    RunRow      one line of `evtool runs`
    OUTCOMES, new_run_id(), scenario_hash(text), utc_now_iso()

Writing (evtool.store.recorder; the writer process is evtool.store.writer)
    Recorder(db_path=None, *, batch_size=8000, max_batches=8, flush_interval=0.25, wait_for_index=False)
        .start(header) -> run id        creates the db/schema and the run row (`incomplete` until the end),
                                        then starts the writer process (full recording)
        .record(events)                 an engine listener: non-blocking unless the writer is max_batches behind
        .sink(event)                    one event (an EventSink)
        .flush()                        hand pending events to the writer now
        .sync(timeout=None) -> bool     wait until everything recorded so far is committed
        .committed                      events committed so far
        .writer_cpu_at_result           CPU seconds the writer process had used when it committed the result
        .finish(result)                 write the rest and the result; raises RecorderError on writer failure
        .abort("interrupted"|"crashed", result=None)
        .wait(timeout=None) -> bool     after finish: wait for the writer to compact the trace and exit
        context manager: an exception leaving the block aborts (KeyboardInterrupt -> interrupted)

Reading (evtool.store.runstore)
    RunStore(db_path=None)   async; `async with RunStore(p) as s:`
        .list_runs(scenario=None, outcome=None, limit=20) -> list[RunRow]
        .resolve(ref) -> run id          id, unique prefix, or `last`; RunNotFound / AmbiguousRun
        .get(run_id) -> (RunHeader, RunResult | None)
        .events(run_id, kinds=None, msg=None, key=None, msgs=None) -> async iterator of TraceEvent
        .event_pages(...) -> async iterator of lists of TraceEvent
        .caused_by(run_id, msg_id) -> list[str]   messages emitted while handling msg_id
        .message_ids(run_id, kind, limit) -> list[str]
        .progress(run_id) -> (events, messages, last_t)   what was committed so far
        .delete(run_id)
    SyncRunStore(db_path=None)   the same methods, blocking (for the CLI); `with SyncRunStore(p) as s:`

Errors (evtool.store.errors): StoreError, RunNotFound, AmbiguousRun(.candidates), RecorderError.
"""

from __future__ import annotations

import sys

_EXPORTS = {
    "default_db_path": "evtool.store.paths",
    "resolve_db_path": "evtool.store.paths",
    "RunHeader": "evtool.store.model",
    "RunResult": "evtool.store.model",
    "RunRow": "evtool.store.model",
    "OUTCOMES": "evtool.store.model",
    "new_run_id": "evtool.store.model",
    "scenario_hash": "evtool.store.model",
    "utc_now_iso": "evtool.store.model",
    "Recorder": "evtool.store.recorder",
    "RunStore": "evtool.store.runstore",
    "SyncRunStore": "evtool.store.runstore",
    "StoreError": "evtool.store.errors",
    "RunNotFound": "evtool.store.errors",
    "AmbiguousRun": "evtool.store.errors",
    "RecorderError": "evtool.store.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    """Import the public names on first use (aiosqlite is not needed for `--help`; the recorder's writer
    process, which imports this package first, needs neither them nor `typing`)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evtool.store' has no attribute {name!r}")
    __import__(module)
    return getattr(sys.modules[module], name)
