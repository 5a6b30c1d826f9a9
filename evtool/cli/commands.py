"""The registry of commands: each lives in its own module under evtool.cli."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from difflib import get_close_matches
from pathlib import Path
from typing import Any, NamedTuple

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup
from typer.models import OptionInfo


class Entry(NamedTuple):
    """One command: where it lives, its name, its help panel and its one-line summary.

    The summary is what `evtool --help` shows without importing the command's module; it is the first
    paragraph of the function's docstring (`tests/cli/test_help_text.py` keeps the two equal).
    """

    module: str
    function: str
    name: str
    panel: str
    summary: str


# Modules are imported only when their command runs, or shows its own help.
COMMANDS: list[Entry] = [
    Entry("evtool.cli.run", "run", "run", "Running",
          "Run a scenario: a live view, then the summary, the checks and how to re-run it."),
    Entry("evtool.cli.tui", "tui", "tui", "Running",
          "Open the dashboard on a scenario, or a lesson picker. Space pauses, ? lists every key, q quits."),
    Entry("evtool.cli.explore", "explore", "explore", "Running",
          "Search runs (seeds, placed faults, schedule choices) for one that fails an expectation; shrink and "
          "record it."),
    Entry("evtool.cli.tui", "replay", "replay", "Recorded runs",
          "Open a recorded run in the dashboard with a time scrubber (< > seek); it is re-simulated exactly."),
    Entry("evtool.cli.lessons", "lessons", "lessons", "Lessons",
          "List the bundled lessons: id, title, level and concepts (`--json` adds each file's path)."),
    Entry("evtool.cli.explain", "explain", "explain", "Lessons",
          "Print a lesson (or any scenario): its text and steps, its topology as a diagram, and its expectations."),
    Entry("evtool.cli.new", "new", "new", "Lessons",
          "Write NAME.yaml: a copy of a lesson with a new id (--from), or a small passing template. "
          "Never overwrites."),
    Entry("evtool.cli.validate", "validate", "validate", "Scenarios",
          "Check scenario files: every problem with file, line, column and a hint. Exit 0 when all are valid, "
          "2 if not."),
    Entry("evtool.cli.schema", "schema", "schema", "Scenarios", "Write the JSON Schema of the scenario language."),
    Entry("evtool.cli.runs", "runs", "runs", "Recorded runs",
          "List recent runs: id, when, scenario, seed, outcome, messages, duration."),
    Entry("evtool.cli.runs", "show", "show", "Recorded runs",
          "Print a recorded run's summary and checks, as `evtool run` did at its end."),
    Entry("evtool.cli.runs", "inspect", "inspect", "Recorded runs",
          "Look inside a recorded run: one message's life, one key's order, or events by kind."),
    Entry("evtool.cli.runs", "export", "export", "Recorded runs",
          "Export a recorded run: JSON, JSONL of the trace, Markdown, a Mermaid diagram, or an HTML report."),
    Entry("evtool.cli.runs", "diff", "diff", "Recorded runs",
          "Compare two runs: checks, counts, latency percentiles, dead letters."),
    Entry("evtool.cli.config", "config", "config", "Setup",
          "Show the effective settings (transport, record, db, speed, broker URLs) and where each came from."),
    Entry("evtool.cli.completion", "completion", "completion", "Setup",
          "Print the completion script for bash, zsh or fish (lesson ids, run ids, --set paths, ...)."),
]
BY_NAME = {e.name: e for e in COMMANDS}

# The value a user types, shown after an option that takes one (a flag shows none).
_METAVARS: dict[Any, str] = {int: "N", float: "X", str: "TEXT", Path: "PATH"}


_USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
"""The usage error of the click that typer uses (typer may carry its own copy of click)."""


class _LazyQuick:
    """A parameter's converter until it first converts a value: then `evtool.cli.coerce.quick_param`.

    Typer converts each parameter through a pydantic adapter it builds on first use; `evtool.cli.coerce`
    converts plain values without one. Neither is imported until a value needs converting (`evtool --help`
    converts none: a flag that is already a bool is not converted).
    """

    __slots__ = ()

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        from evtool.cli.coerce import quick_param

        real = param._runtime_param = quick_param(param.type_descriptor)
        return real.coerce(value, param=param, ctx=ctx)


_LAZY = _LazyQuick()


def install_one(param: Any) -> Any:
    """Give one typer parameter the quick converter (unless it has its converter already); returns it."""
    if getattr(param, "type_descriptor", None) is not None and getattr(param, "_runtime_param", _LAZY) is None:
        param._runtime_param = _LAZY
    return param


def install(command: Any) -> None:
    """Give each typer parameter of `command` the quick converter (`install_one`)."""
    for param in getattr(command, "params", ()):
        install_one(param)


class Command(TyperCommand):
    """A command whose -h/--help shows no `<bool>`, and whose usage errors are JSON under --json."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
            install_one(option)
        return option

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, list(args))
        except _USAGE_ERROR as exc:
            from evtool.cli.output import json_usage_error

            json_usage_error(ctx, args, exc)  # prints it and exits 2 under --json; else returns
            raise


class Group(TyperGroup):
    """The root group: commands built when first asked for, and a root --help drawn without rich.

    `evtool --help` lists every command from `COMMANDS` (names, panels, summaries) without importing a
    command module, pydantic or rich; a command's own help (`evtool run --help`) is typer's rich help.
    """

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
            install_one(option)
        return option

    def list_commands(self, ctx: Any) -> list[str]:
        return [e.name for e in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = self.commands.get(cmd_name)
        if cmd is None and cmd_name in BY_NAME:
            cmd = self.commands[cmd_name] = build(BY_NAME[cmd_name])
        return cmd

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:  # typer suggests only among commands already built
            if args and "Did you mean" not in exc.message:
                matches = get_close_matches(args[0], list(BY_NAME))
                if matches:
                    exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # `evtool` alone: the root help, then exit 2 as click's no_args_is_help does. typer's own path prints
        # nothing here: it raises NoArgsIsHelpError carrying the help as its message, and its rich error
        # printer skips that error on the assumption that rich has printed the help already, which this
        # group's help (drawn without rich, `format_help`) never does
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(2)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from evtool.cli.roothelp import root_help

        formatter.write(root_help(self, ctx, COMMANDS))


def build(entry: Entry) -> Command:
    """The click command of one registry entry: its module imported, typer's command built, completers set."""
    from typer.main import get_command

    from evtool.cli.completion import attach_command

    func = getattr(importlib.import_module(entry.module), entry.function)
    _plain_metavars(func)
    one = typer.Typer(rich_markup_mode="rich", add_completion=False, pretty_exceptions_enable=False)
    one.command(name=entry.name, rich_help_panel=entry.panel, help=help_text(func.__doc__), cls=Command)(func)
    cmd = get_command(one)
    install(cmd)
    attach_command(entry.name, cmd)
    return cmd  # type: ignore[return-value]


def help_text(doc: str | None) -> str | None:
    """A docstring as help: each paragraph one line, so the terminal (not the source) decides the breaks."""
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(line.strip() for line in p.splitlines())
                       for p in paragraphs)


def _plain_metavars(func: Callable[..., Any]) -> None:
    """No `<bool>` after a flag and no `<list[str]>`: a flag shows nothing, a value option a plain word."""
    hints = typing.get_type_hints(func)
    for name, param in inspect.signature(func).parameters.items():
        info = param.default
        if not isinstance(info, OptionInfo) or info.metavar is not None:
            continue
        kind = hints.get(name)
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) in (list, tuple) and args:
            kind = args[0]
        elif args and typing.get_origin(kind) is not None and len(args) == 1:
            kind = args[0]
        if kind is bool:
            info.metavar = ""
        elif kind in _METAVARS:
            info.metavar = _METAVARS[kind]


def build_all(group: Any) -> Any:
    """Every command built (for tools that walk the whole click tree); returns the group."""
    for e in COMMANDS:
        group.get_command(None, e.name)
    return group
