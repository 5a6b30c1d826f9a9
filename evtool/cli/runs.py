"""The commands that read the run store: runs, show, inspect, export, diff."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from evtool.cli.output import EXIT_INVALID, EXIT_OK

DbOpt = typer.Option(None, "--db", help="Run store (default .evtool/runs.db or $EVTOOL_DB).")
FORMATS = ("json", "jsonl", "md", "html", "mermaid")
JsonOpt = typer.Option(False, "--json", help="Print one JSON document for machines (see evtool/schemas/).")


def _print_json(doc: dict[str, Any]) -> None:
    from evtool.report.jsondoc import dumps

    typer.echo(dumps(doc))


def _open(db: Path | None) -> Any:
    from evtool.store import SyncRunStore, resolve_db_path

    path = resolve_db_path(db)
    if not path.exists():
        _die(f"no run store at {path}", "run a scenario first (`evtool run`), or pass --db PATH", str(path))
    with _store_errors(path):
        return SyncRunStore(path)


@contextmanager
def _store_errors(path: Path | None = None) -> Iterator[None]:
    """Turn every store, SQLite or file-system failure inside the block into exit 2 and a message."""
    import sqlite3

    from evtool.store.errors import StoreError, describe_os_error, describe_sqlite_error

    try:
        yield
    except BrokenPipeError:
        _quiet_exit()
    except StoreError as exc:
        _die(str(exc))
    except sqlite3.Error as exc:
        _die(describe_sqlite_error(path or "", exc))
    except OSError as exc:
        _die(describe_os_error(exc.filename or path or "", exc))


def _guarded(command: Callable[..., None]) -> Callable[..., None]:
    """Run a command inside `_store_errors`, printing included (a closed pipe while printing is quiet)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        token = _JSON_ERRORS.set(bool(kwargs.get("json_out")))
        try:
            with _store_errors():
                command(*args, **kwargs)
        finally:
            _JSON_ERRORS.reset(token)

    return run


def _quiet_exit() -> None:
    """The reader of our output went away (`| head`): stop without a word, as other tools do."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
    except (OSError, ValueError):
        pass
    raise typer.Exit(EXIT_OK)


_JSON_ERRORS: contextvars.ContextVar[bool] = contextvars.ContextVar("evtool_json_errors", default=False)
"""Set while a command runs with --json: its errors are the JSON error object on stdout."""


def _die(message: str, hint: str | None = None, file: str = "evtool") -> None:
    from evtool.cli.output import console, print_json_error
    from evtool.report.fmt import safe

    if _JSON_ERRORS.get():
        print_json_error(file, message, hint)
        raise typer.Exit(EXIT_INVALID)

    err = console(stderr=True)
    err.print(f"[red]error[/red] {safe(message, multiline=True)}")
    if hint:
        err.print(f"  [cyan]hint:[/cyan] {safe(hint, multiline=True)}")
    raise typer.Exit(EXIT_INVALID)


def _resolve(store: Any, ref: str) -> str:
    from evtool.store.errors import StoreError

    try:
        return str(store.resolve(ref))
    except StoreError as exc:
        _die(str(exc), "`evtool runs` lists the recorded runs; RUN is an id, a unique prefix of one, or `last`")
        raise AssertionError from exc


@_guarded
def runs(
    scenario: str | None = typer.Option(None, "--scenario", help="Only runs of this scenario id."),
    outcome: str | None = typer.Option(None, "--outcome", help="passed, failed, unknown, interrupted, crashed, "
                                                              "partial, incomplete (running or died)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=10_000, help="How many runs to list."),
    db: Path | None = DbOpt,
    json_out: bool = JsonOpt,
) -> None:
    """List recent runs: id, when, scenario, seed, outcome, messages, duration."""
    from evtool.cli.output import console
    from evtool.report.runs import render_runs
    from evtool.store import OUTCOMES
    from evtool.store.model import OPEN_STATES

    if outcome is not None and outcome not in (*OUTCOMES, *OPEN_STATES):
        _die(f"--outcome {outcome!r} is not an outcome", f"one of: {', '.join((*OUTCOMES, *OPEN_STATES))}")
    with _store_errors(), _open(db) as store:
        if outcome in OPEN_STATES:
            # running / died are incomplete runs told apart by their heartbeat and pid
            rows = [r for r in store.list_runs(scenario=scenario, outcome="incomplete", limit=10_000)
                    if r.state == outcome][:limit]
        else:
            rows = store.list_runs(scenario=scenario, outcome=outcome, limit=limit)
        if json_out:
            from evtool.report.jsondoc import runs_doc

            _print_json(runs_doc(rows))
            return
        from evtool.store.quiz import quiz_scores

        quiz = {run_id: score.label for run_id, score in quiz_scores(store.db_path, [r.id for r in rows]).items()
                if score.asked}
    console().print(render_runs(rows, quiz=quiz))


@_guarded
def show(
    run: str = typer.Argument("last", help="A run id, a unique prefix, or `last`."),
    db: Path | None = DbOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Print a recorded run's summary and checks, as `evtool run` did at its end."""
    from evtool.cli.output import console
    from evtool.report.runs import render_show
    from evtool.report.summary import render_report, run_report

    with _store_errors(), _open(db) as store:
        run_id = _resolve(store, run)
        header, result = store.get(run_id)
        progress = store.progress(run_id) if result is None else None
        state = store.state(run_id) if result is None else None
    if result is None or not result.summary or result.outcome == "partial":
        if json_out:
            from evtool.report.jsondoc import show_doc

            _print_json(show_doc(header, result, state, progress, None))
            return
        console().print(render_show(header, result, progress, state))
        return
    report = run_report(
        scenario_id=header.scenario_id, path=header.scenario_path, title=header.lesson_title, profile=header.profile,
        transport=header.transport, seed=header.seed, overrides=dict(header.overrides), digest=result.digest,
        virtual_ns=result.virtual_ns, events=result.events, outcome=result.outcome,
        drain=str(result.summary.get("drain", "")), summary=result.summary, checks=list(result.checks),
        run_id=header.id, limit=(result.summary.get("stopped_early") or {}).get("limit"),
        aborted_by=(result.summary.get("stopped_early") or {}).get("aborted_by"),
    )
    if json_out:
        from evtool.report.jsondoc import show_doc

        _print_json(show_doc(header, result, state, progress, report))
        return
    console().print(render_report(report), crop=False)  # a re-run line is copied whole


@_guarded
def inspect(
    run: str = typer.Argument("last", help="A run id, a unique prefix, or `last`."),
    message: str | None = typer.Option(None, "--message", "-m", help="One message's whole lifecycle."),
    key: str | None = typer.Option(None, "--key", "-k", help="The order of one key's messages, with inversions."),
    kind: list[str] = typer.Option([], "--kind", help="List events of this kind (repeatable)."),
    limit: int = typer.Option(200, "--limit", "-n", min=1, help="Most events to list with --kind."),
    db: Path | None = DbOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Look inside a recorded run: one message's life, one key's order, or events by kind."""
    from evtool.cli.output import console
    from evtool.report.fmt import safe
    from evtool.report.inspect import inspect_run
    from evtool.scenario.errors import did_you_mean
    from evtool.scenario.vocabulary import KINDS

    chosen = sum(x is not None and x != [] for x in (message, key, kind or None))
    if chosen != 1:
        _die("give exactly one of --message ID, --key KEY or --kind KIND",
             "e.g. evtool inspect last --kind dead_lettered, then --message with an id it lists")
    for k in kind:
        if k not in KINDS:
            _die(f"--kind {k!r} is not an event kind", did_you_mean(k, KINDS) or "see docs/scenario-language.md")
    with _store_errors(), _open(db) as store:
        run_id = _resolve(store, run)
        if json_out:
            _print_json(_inspect_json(store, run_id, message, key, kind, limit))
            return
        console().print(inspect_run(store, run_id, message=message, key=key, kinds=kind or None, limit=limit))
        partial = _partial_note(store, run_id)
    if partial:
        console().print(f"[yellow]note[/yellow] {safe(partial)}")


def _inspect_json(store: Any, run_id: str, message: str | None, key: str | None, kinds: list[str],
                  limit: int) -> dict[str, Any]:
    """The events `inspect` selects, as the `evtool.inspect` document (--kind is bounded by --limit)."""
    import itertools

    from evtool.report.jsondoc import inspect_doc

    note = _partial_note(store, run_id)
    if message is not None:
        events = list(store.events(run_id, msg=message))
        if not events:
            _die(f"message {message!r} is not in run {run_id}",
                 "list ids with: evtool inspect RUN --kind delivered (or dead_lettered, published)")
        return inspect_doc(run_id, {"message": message}, events, None, store.caused_by(run_id, message), note)
    if key is not None:
        events = list(store.events(run_id, key=key))
        return inspect_doc(run_id, {"key": key}, events, None, None, note)
    events = list(itertools.islice(store.events(run_id, kinds=kinds), limit + 1))
    return inspect_doc(run_id, {"kinds": kinds}, events, limit, None, note)


@_guarded
def export(
    run: str = typer.Argument("last", help="A run id, a unique prefix, or `last`."),
    fmt: str = typer.Option("md", "--format", "-f", help="json, jsonl, md, html or mermaid."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --output file if it exists."),
    flows: int = typer.Option(6, "--flows", min=1, max=50, help="Message flows in a Mermaid diagram."),
    db: Path | None = DbOpt,
) -> None:
    """Export a recorded run: JSON, JSONL of the trace, Markdown, a Mermaid diagram, or an HTML report."""
    import sys

    from evtool.report.export import export_run
    from evtool.store import resolve_db_path

    if fmt not in FORMATS:
        from evtool.scenario.errors import did_you_mean

        _die(f"--format {fmt!r} is not a format", did_you_mean(fmt, FORMATS) or f"one of: {', '.join(FORMATS)}")
    if output is not None:
        _check_output(output, resolve_db_path(db), force)
    with _store_errors(), _open(db) as store:
        run_id = _resolve(store, run)
        partial = _partial_note(store, run_id)
        if output is not None:
            _write_atomically(output, lambda fh: _export_to(store, run_id, fmt, fh, flows))
            typer.echo(f"wrote {output}", err=True)
        else:
            text = export_run(store, run_id, fmt, out=sys.stdout if fmt == "jsonl" else None, flows=flows)
            if text is not None:
                sys.stdout.write(text)
    if partial:
        from evtool.cli.output import console
        from evtool.report.fmt import safe

        console(stderr=True).print(f"[yellow]note[/yellow] {safe(partial)}")
    raise typer.Exit(EXIT_OK)


def _export_to(store: Any, run_id: str, fmt: str, fh: Any, flows: int) -> None:
    from evtool.report.export import export_run

    text = export_run(store, run_id, fmt, out=fh if fmt == "jsonl" else None, flows=flows)
    if text is not None:
        fh.write(text)


def _partial_note(store: Any, run_id: str) -> str | None:
    """A sentence when the run's stored trace is not the whole run (see `evtool.report.runs.trace_note`)."""
    from evtool.report.runs import trace_note

    header, result = store.get(run_id)
    return trace_note(header, result, store.state(run_id) if result is None else None)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path once symlinks are resolved, or the same inode."""
    import os

    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_output(output: Path, db: Path, force: bool) -> None:
    """Refuse an --output that is the run database (or its WAL files), or an existing file without --force."""
    for guarded in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
        if _same_file(output, guarded):
            _die(f"refusing to write the export onto the run database {guarded}: it holds every recorded run",
                 "give -o another file name")
    if output.is_dir():
        _die(f"{output} is a directory", "give -o a file name")
    if (output.exists() or output.is_symlink()) and not force:
        if output.is_file() or output.is_symlink():
            _die(f"{output} already exists; not overwriting it", "pass --force to replace it, or choose another name")


def _write_atomically(output: Path, write: Any) -> None:
    """Write through a temporary file in the same folder, renamed over `output` once complete.

    A full disk or an error half-way leaves `output` as it was (no half-written
    file). Something that is not a regular file (/dev/stdout, a FIFO) is
    written directly: renaming over it would replace the device itself.
    """
    import os
    import tempfile

    from evtool.store.errors import describe_os_error

    target = output.resolve()
    try:
        if target.exists() and not target.is_file():
            with target.open("w", encoding="utf-8") as fh:
                write(fh)
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        _die(describe_os_error(output, exc))
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            write(fh)
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        _die(describe_os_error(output, exc))
    except BaseException:
        _discard(tmp)
        raise


def _discard(path: str) -> None:
    import os

    try:
        os.unlink(path)
    except OSError:
        pass


@_guarded
def diff(
    run_a: str = typer.Argument(..., help="The first run (e.g. without the fix)."),
    run_b: str = typer.Argument(..., help="The second run (e.g. with the fix)."),
    only_changed: bool = typer.Option(False, "--only-changed", help="Hide rows that are the same."),
    db: Path | None = DbOpt,
    json_out: bool = JsonOpt,
) -> None:
    """Compare two runs: checks, counts, latency percentiles, dead letters."""
    from evtool.cli.output import console
    from evtool.report.diff import diff_stored, render_diff

    with _store_errors(), _open(db) as store:
        a = _resolve(store, run_a)
        b = _resolve(store, run_b)
        d = diff_stored(store, a, b)
    if json_out:
        from evtool.report.jsondoc import diff_doc

        _print_json(diff_doc(d))
        return
    console().print(render_diff(d, only_changed=only_changed))
