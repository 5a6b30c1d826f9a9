"""`evtool run LESSON --variations` and `--profiles a,b,c`: the variations matrix (logic in `evtool.sim.matrix`,
the table in `evtool.report.matrix`). `cli/run.py` only hands the two options over to `run_matrix_command`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evtool.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from evtool.report.fmt import safe


def run_matrix_command(path: Path, *, variations: bool, profiles: str | None, sets: list[str],
                       seed: int | None, json_out: bool = False) -> int:
    """Run the matrix and print it; exit 0 when every verdict is the one its column expects, 1 otherwise."""
    from evtool.cli.output import console, print_scenario_error
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import _parse_sets, load_scenario
    from evtool.sim.matrix import lesson_columns, profile_columns, run_matrix

    err = console(stderr=True)
    try:
        loaded = load_scenario(path, sets)
    except ScenarioError as exc:
        print_scenario_error(exc)
        return EXIT_INVALID
    base: dict[str, Any] = _parse_sets(sets) if sets else {}
    if profiles is not None:
        names = [n.strip() for n in profiles.split(",") if n.strip()]
        try:
            columns = profile_columns(names)
        except ValueError as exc:
            err.print(f"[red]error[/red] --profiles: {safe(exc)}")
            return EXIT_INVALID
        if not columns:
            err.print("[red]error[/red] --profiles: name at least one broker profile, e.g. rabbitmq-quorum,kafka")
            return EXIT_INVALID
    else:
        columns = lesson_columns(loaded)
        if len(columns) == 1:
            err.print(f"[yellow]note[/yellow] {safe(loaded.model.id)} has no `try_next` variation that sets "
                      "something: the matrix has one column")
    if not json_out:
        err.print(f"[dim]running {len(columns)} run(s) of {safe(loaded.model.id)} on virtual time…[/dim]")
    mx = run_matrix(path, columns, base=base, seed=seed)
    unexpected = any(r.as_expected(c) is False for r in mx.results for c in mx.checks) or \
        any(r.outcome == "invalid" for r in mx.results)
    if json_out:
        import json

        from evtool.report.fmt import visible_data

        data = {"scenario": mx.scenario_id, "checks": mx.checks, "columns": [
            {"label": r.column.label, "set": r.column.overrides, "fails": list(r.column.fails),
             "outcome": r.outcome, "reading": r.reading, "verdicts": r.verdicts, "numbers": r.numbers,
             "error": r.error}
            for r in mx.results]}
        print(json.dumps(visible_data(data), indent=2))
    else:
        from evtool.report.matrix import legend, matrix_table

        out = console()
        out.print(matrix_table(mx, width=out.width))
        out.print(legend(mx, width=out.width))
    return EXIT_FAILED if unexpected else EXIT_OK
