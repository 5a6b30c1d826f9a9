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

    if scenario is None:
        from evtool.tui import run_picker

        sessions: list[RunSession] = []

        def listeners_for(loaded: Any, run_seed: int | None) -> list[Any]:
            session = RunSession(loaded, seed=seed if run_seed is None else run_seed, db=db,
                                 no_record=no_record).start()
            sessions.append(session)
            return session.listeners

        outcome = run_picker(speed=speed, listeners_for=listeners_for, seed=seed)
        for session in sessions:
            _finish(session, outcome)
        raise typer.Exit(_exit_code(outcome))
    from evtool.cli.run import resolve_scenario_path

    try:
        loaded = load_scenario(resolve_scenario_path(scenario), set_)
    except ScenarioError as err:
        print_scenario_error(err)
        raise typer.Exit(EXIT_INVALID) from None
    from evtool.tui import run_dashboard

    session = RunSession(loaded, seed=seed, db=db, no_record=no_record).start()
    outcome = None
    try:
        outcome = run_dashboard(loaded, seed=session.seed, speed=speed, listeners=session.listeners)
    finally:
        _finish(session, outcome)
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
    from evtool.store.errors import StoreError

    err = console(stderr=True)
    try:
        with SyncRunStore(db) as store:
            run_id = store.resolve(run)
            header, result = store.get(run_id)
            interventions = interventions_from_events(list(store.events(run_id, kinds=["user_intervention"])))
    except StoreError as exc:
        err.print(f"[red]error[/red] {safe(exc)}")
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
