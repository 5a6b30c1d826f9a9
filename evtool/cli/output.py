"""Console output and exit codes shared by the commands."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from evtool.scenario.errors import ScenarioError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_UNKNOWN = 3
EXIT_INTERRUPTED = 130

_ERROR_FIELDS = ("file", "line", "column", "message", "hint")


def json_error(problems: list[Any]) -> dict[str, Any]:
    """The JSON a command prints under `--json` for invalid input: the first error as `error` (file, line,
    column, message, hint), every problem (warnings too) as `problems`."""
    errors = [p for p in problems if p.severity == "error"] or list(problems)
    first = errors[0].as_dict() if errors else {"file": "", "line": 1, "column": 1, "message": "invalid input",
                                                 "hint": None}
    return {"valid": False, "error": {k: first.get(k) for k in _ERROR_FIELDS},
            "problems": [p.as_dict() for p in problems]}


def print_json_error(file: str, message: str, hint: str | None = None) -> None:
    """An input error that is not in a scenario file (a missing file, an unknown lesson), as JSON on stdout."""
    import json

    from evtool.scenario.errors import Problem

    print(json.dumps(json_error([Problem(file, 1, 1, "", message, hint)]), indent=2))


def json_usage_error(ctx: Any, args: list[str], exc: Any) -> None:
    """A bad option value or an unknown option under `--json` (`--seed abc`, `--max-events 0`): the JSON
    error object on stdout and exit 2, as for any invalid input; without --json, nothing (click prints it)."""
    if "--json" not in args:
        return
    import typer
    from rich.text import Text

    param = getattr(exc, "param", None)
    where = (param.opts[0] if getattr(param, "opts", None) else getattr(param, "name", None)) or ctx.command_path
    message = Text.from_ansi(exc.format_message()).plain
    print_json_error(str(where), message, f"see `{ctx.command_path} --help`")
    raise typer.Exit(EXIT_INVALID)


def print_option_error(json_out: bool, option: str, message: str, hint: str | None = None) -> int:
    """An invalid option value found by the command itself: JSON under --json, else a line on stderr;
    returns EXIT_INVALID."""
    if json_out:
        print_json_error(option, message, hint)
        return EXIT_INVALID
    from evtool.report.fmt import safe

    err = console(stderr=True)
    err.print(f"[red]error[/red] {safe(message)}")
    if hint:
        err.print(f"  [cyan]hint:[/cyan] {safe(hint)}")
    return EXIT_INVALID


def console(stderr: bool = False, *, soft_wrap: bool = False) -> Console:
    """A rich console (stderr for diagnostics); `soft_wrap` leaves long lines whole.

    No emoji codes: Rich would show a user's `x:ok:y` as `x🆗y` (evtool's own text has none), and the run
    does not load Rich's table of emoji names (~3 ms)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=soft_wrap, emoji=False)


def print_scenario_error(err: ScenarioError, *, con: Console | None = None) -> None:
    """Print every problem of a ScenarioError with the source line and a caret."""
    from evtool.report.fmt import safe as escape

    # Scenario text is input: `safe` escapes markup and shows control characters.
    # Long lines stay whole, so `file:line:col: message` can be grepped and clicked in an editor.
    con = con or console(stderr=True, soft_wrap=True)
    lines = (err.source or "").splitlines()
    for p in err.problems:
        colour = "red" if p.severity == "error" else "yellow"
        path = f" [bold]{escape(p.path)}[/bold]:" if p.path else ""
        con.print(f"[{colour}]{p.severity}[/{colour}] {escape(p.file)}:{p.line}:{p.column}:{path} {escape(p.message)}")
        if lines and p.file != "--set" and 1 <= p.line <= len(lines):
            src = lines[p.line - 1]
            con.print(f"  [dim]{p.line:>4} |[/dim] {escape(src)}")
            con.print(f"  [dim]     |[/dim] {' ' * (p.column - 1)}[{colour}]^[/{colour}]")
        if p.hint:
            con.print(f"  [cyan]hint:[/cyan] {escape(p.hint)}")
    n_err = sum(1 for p in err.problems if p.severity == "error")
    if n_err:
        con.print(f"[red]{n_err} error{'s' if n_err != 1 else ''}[/red]")


def is_tty() -> bool:
    """Whether stdout is an interactive terminal."""
    return sys.stdout.isatty()
