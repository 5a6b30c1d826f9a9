"""`evtool run --replay-interventions RUN`: the recorded run's seed, overrides and interventions.

Its own module so that `run` (which imports it) and `explore` (which imports `run`) import each other in
one direction only.
"""

from __future__ import annotations

from pathlib import Path

import typer

from evtool.cli.output import EXIT_INVALID
from evtool.report.fmt import safe


def replay_settings(run: str, db: Path | None, seed: int | None,
                    sets: list[str]) -> tuple[int, list[str], list, str]:
    """For `evtool run --replay-interventions RUN`: the recorded run's seed, its overrides (then the
    command line's `--set`), its interventions and its full id. A bad run id or store, or a --seed other
    than the recorded one, is an error (exit 2)."""
    from evtool.cli.output import console
    from evtool.explore.replay import as_sets, recorded_interventions
    from evtool.store.errors import StoreError

    err = console(stderr=True)
    try:
        rec = recorded_interventions(run, db)
    except StoreError as exc:
        err.print(f"[red]error[/red] --replay-interventions {safe(run)}: {safe(exc)}")
        raise typer.Exit(EXIT_INVALID) from None
    if seed is not None and seed != rec.seed:
        err.print(f"[red]error[/red] --seed {seed} with --replay-interventions: run {rec.run_id} ran with seed "
                  f"{rec.seed}\n  [cyan]hint:[/cyan] drop --seed")
        raise typer.Exit(EXIT_INVALID)
    # the recorded overrides first: a --set of the command line comes later and wins
    return rec.seed, [*as_sets(rec.overrides), *sets], rec.interventions, rec.run_id
