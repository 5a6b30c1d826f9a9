"""`evtool tui [SCENARIO]` and `evtool replay RUN`: the dashboard, live or on a recorded run.

Textual is imported only inside the commands (through `evtool.tui`), so
`evtool --help` never pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from evtool.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_UNKNOWN
from evtool.cli.session import RunSession
from evtool.report.fmt import safe


def _exit_code(outcome: Any) -> int:
    if outcome is None:
        return EXIT_OK
    return {"passed": EXIT_OK, "failed": EXIT_FAILED, "unknown": EXIT_UNKNOWN}.get(outcome.outcome, EXIT_OK)


def _finish(session: RunSession, outcome: Any) -> None:
    """Record the dashboard run's end, and say how to replay it."""
    run_id = session.finish(outcome)
    if run_id is not None and outcome is not None:
        from evtool.cli.output import console

        console(stderr=True).print(f"[dim]recorded run {run_id}: evtool replay {run_id}[/dim]")


class _Session:
    """The recordings of one dashboard session: each run it opens is recorded, and its quiz stored with it."""

    def __init__(self, db: Path | None, no_record: bool, seed: int | None) -> None:
        self.db = db
        self.no_record = no_record
        self.seed = seed
        self.recorders: dict[int, Any] = {}

    def listeners_for(self, loaded: Any, run_seed: int | None) -> list[Any]:
        session = RunSession(loaded, seed=self.seed if run_seed is None else run_seed, db=self.db,
                             no_record=self.no_record).start()
        listeners = session.listeners
        self.recorders[id(listeners)] = session
        return listeners

    def run_ended(self, listeners: Any, outcome: Any, quiz: Any) -> None:
        session = self.recorders.pop(id(listeners), None)
        if session is None:
            return
        _finish(session, outcome)
        rec = session.recorder
        if rec is None:
            return
        right, asked = quiz.score() if quiz is not None else (0, 0)
        if quiz is not None and (quiz.answers or asked):
            from evtool.cli.output import console
            from evtool.store.errors import StoreError
            from evtool.store.quiz import record_quiz

            try:
                record_quiz(rec.db_path, rec.run_id, quiz.lesson, right, asked, quiz.records())
            except StoreError as exc:
                console(stderr=True).print(f"[yellow]warning[/yellow] the quiz score was not stored: {safe(exc)}")

    def finish_all(self, outcome: Any) -> None:
        """Finish what the dashboard did not close itself (a test's stand-in, a crash)."""
        for session in list(self.recorders.values()):
            _finish(session, outcome)
        self.recorders.clear()

    def scores(self) -> dict[str, Any]:
        from evtool.store import resolve_db_path
        from evtool.store.quiz import lesson_scores

        return lesson_scores(resolve_db_path(self.db))


def tui(
    scenario: str | None = typer.Argument(None, help="A scenario file or a bundled lesson id. Without one: pick "
                                                     "a bundled lesson.", show_default=False),
    seed: int | None = typer.Option(None, "--seed", help="Override the scenario's seed."),
    set_: list[str] = typer.Option([], "--set", help="Override a value: path=value (repeatable)."),
    speed: float = typer.Option(1.0, "--speed", help="Virtual seconds per wall second at the start (+ and - change it)."),
    db: Path | None = typer.Option(None, "--db", help="The run database (default: $EVTOOL_DB or ./.evtool/runs.db)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not record the run."),
) -> None:
    """Open the dashboard on a scenario, or a lesson picker. Space pauses, ? lists every key, q quits."""
    from evtool.cli.output import print_scenario_error
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import load_scenario

    session = _Session(db, no_record, seed)
    if scenario is None:
        from evtool.tui import run_picker

        outcome = None
        try:
            outcome = run_picker(speed=speed, listeners_for=session.listeners_for, seed=seed,
                                 on_run_end=session.run_ended, scores=session.scores)
        finally:
            session.finish_all(outcome)
        raise typer.Exit(_exit_code(outcome))
    from evtool.cli.run import resolve_scenario_path

    try:
        loaded = load_scenario(resolve_scenario_path(scenario), set_)
    except ScenarioError as err:
        print_scenario_error(err)
        raise typer.Exit(EXIT_INVALID) from None
    from evtool.tui import run_dashboard

    listeners = session.listeners_for(loaded, seed)
    outcome = None
    try:
        outcome = run_dashboard(loaded, seed=seed, speed=speed, listeners=listeners,
                                listeners_for=session.listeners_for, on_run_end=session.run_ended,
                                scores=session.scores)
    finally:
        session.finish_all(outcome)
    raise typer.Exit(_exit_code(outcome))


def replay(
    run: str = typer.Argument(..., help="A run id, a unique prefix of one, or `last`.", show_default=False),
    db: Path | None = typer.Option(None, "--db", help="The run database (default: $EVTOOL_DB or ./.evtool/runs.db)."),
    speed: float = typer.Option(1.0, "--speed", help="Virtual seconds per wall second at the start."),
) -> None:
    """Open a recorded run in the dashboard with a time scrubber (< > seek); it is re-simulated exactly."""
    from evtool.cli.output import console, print_scenario_error
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import load_text
    from evtool.sim.host import interventions_from_events
    from evtool.store import SyncRunStore
    from evtool.store.errors import RunNotFound, StoreError

    err = console(stderr=True)
    try:
        with SyncRunStore(db) as store:
            run_id = store.resolve(run)
            header, result = store.get(run_id)
            interventions = interventions_from_events(list(store.events(run_id, kinds=["user_intervention"])))
    except StoreError as exc:
        err.print(f"[red]error[/red] {safe(exc)}")
        if isinstance(exc, RunNotFound):
            err.print("  [cyan]hint:[/cyan] `evtool runs` lists the recorded runs; RUN is an id, a unique prefix "
                      "of one, or `last`")
        raise typer.Exit(EXIT_INVALID) from None
    if header.transport != "local":
        err.print(f"[red]error[/red] run {run_id} ran on {header.transport}; only local runs can be replayed")
        raise typer.Exit(EXIT_INVALID)
    try:
        loaded = load_text(header.scenario_text, header.scenario_path or "<recorded>", header.overrides or None)
    except ScenarioError as exc:
        print_scenario_error(exc)
        raise typer.Exit(EXIT_INVALID) from None
    from evtool.tui import run_replay

    outcome = run_replay(loaded, seed=header.seed, interventions=interventions, speed=speed,
                         end_ns=result.virtual_ns if result is not None and result.virtual_ns else None)
    if outcome is not None and result is not None and result.digest and outcome.drain != "stopped" \
            and outcome.digest != result.digest:
        err.print(f"[yellow]warning[/yellow] the replay's digest {outcome.digest[:16]} differs from the "
                  f"recorded {result.digest[:16]} (another evtool version?)")
    raise typer.Exit(EXIT_OK)
