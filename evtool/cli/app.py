"""The `evtool` command line: one Typer app, one module per command.

Each command module imports only typer and the standard library at import
time; the work (pydantic, the engine, textual) is imported inside the
command, so `evtool --help` stays fast.
"""

from __future__ import annotations

import typer

from evtool import __version__
from evtool.cli import commands

app = typer.Typer(
    name="evtool",
    cls=commands.Group,
    help="A command-line event workbench: run, watch, test and teach event-driven systems.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"evtool {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, metavar="",
                                 help="Print the version and exit."),
) -> None:
    """evtool: scenarios of producers, consumers and channels, run on a deterministic broker core."""


commands.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
