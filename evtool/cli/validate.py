"""`evtool validate FILE...`: check scenario files."""

from __future__ import annotations

from pathlib import Path

import typer

from evtool.cli.output import EXIT_INVALID, EXIT_OK
from evtool.core.textsafe import visible


def _say(ok: bool, text: str) -> None:
    """One result line, its mark green or red where rich would colour it (a terminal, no NO_COLOR), written
    without loading rich: a file that is valid costs no console."""
    import os
    import sys

    mark = "✓" if ok else "✗"
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb":
        mark = f"\x1b[{32 if ok else 31}m{mark}\x1b[0m"
    sys.stdout.write(f"{mark} {text}\n")
    sys.stdout.flush()


def validate(
    files: list[Path] = typer.Argument(..., help="Scenario files (or bundled lesson ids) to check.",
                                       show_default=False),
    set_: list[str] = typer.Option([], "--set", help="Override a value: path=value (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document for machines."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
) -> None:
    """Check scenario files: every problem with file, line, column and a hint. Exit 0 when all are valid, 2 if not."""
    import json
    import sys

    from evtool.cli.output import json_error, print_scenario_error
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import load_scenario, load_text
    from evtool.scenario.yamlsource import read_text
    from evtool.sim.plan import check_plan

    results = []
    failed = False
    for f in files:
        source: Path | str = f
        if not f.exists() and f.suffix == "" and len(f.parts) == 1:
            from evtool.scenario.lessons import LessonNotFound, find_lesson

            try:
                source = find_lesson(str(f))   # a bundled lesson: messages name the lesson, not site-packages
            except LessonNotFound:
                pass  # the loader says the file cannot be read, with its own hint
        try:
            if source is f:
                loaded = load_scenario(f, set_)
            else:
                loaded = load_text(read_text(Path(source)), str(f), set_)
            check_plan(loaded)  # the run plan on a core broker: catches what only the profile can say
        except ScenarioError as err:
            failed = True
            results.append({"file": str(f), **json_error(err.problems)})
            if not json_out:
                sys.stdout.flush()  # keep stdout and stderr lines in file order
                print_scenario_error(err)
            continue
        warnings = list(loaded.warnings)
        if strict and warnings:
            failed = True
        results.append({"file": str(f), "valid": not (strict and warnings), "id": loaded.model.id,
                        "problems": [p.as_dict() for p in warnings]})
        if not json_out:
            if warnings:
                sys.stdout.flush()
                print_scenario_error(ScenarioError(warnings, loaded.text))
            if strict and warnings:
                _say(False, f"{visible(f)}: {len(warnings)} warning(s), which --strict treats as errors")
            else:
                _say(True, f"{visible(f)}: valid ({visible(loaded.model.id)})")
    if json_out:
        from evtool.report.jsondoc import validate_doc

        typer.echo(json.dumps(validate_doc(not failed, results), indent=2))
    raise typer.Exit(EXIT_INVALID if failed else EXIT_OK)
