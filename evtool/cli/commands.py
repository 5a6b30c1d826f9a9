"""The registry of commands: each lives in its own module under evtool.cli."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import OptionInfo

# (module, function, command name, help panel). Modules are imported here,
# so they must stay light at import time.
COMMANDS: list[tuple[str, str, str, str]] = [
    ("evtool.cli.run", "run", "run", "Running"),
    ("evtool.cli.tui", "tui", "tui", "Running"),
    ("evtool.cli.tui", "replay", "replay", "Recorded runs"),
    ("evtool.cli.lessons", "lessons", "lessons", "Lessons"),
    ("evtool.cli.explain", "explain", "explain", "Lessons"),
    ("evtool.cli.new", "new", "new", "Lessons"),
    ("evtool.cli.validate", "validate", "validate", "Scenarios"),
    ("evtool.cli.schema", "schema", "schema", "Scenarios"),
    ("evtool.cli.runs", "runs", "runs", "Recorded runs"),
    ("evtool.cli.runs", "show", "show", "Recorded runs"),
    ("evtool.cli.runs", "inspect", "inspect", "Recorded runs"),
    ("evtool.cli.runs", "export", "export", "Recorded runs"),
    ("evtool.cli.runs", "diff", "diff", "Recorded runs"),
    ("evtool.cli.config", "config", "config", "Setup"),
    ("evtool.cli.completion", "completion", "completion", "Setup"),
]

# The value a user types, shown after an option that takes one (a flag shows none).
_METAVARS: dict[Any, str] = {int: "N", float: "X", str: "TEXT", Path: "PATH"}


_USAGE_ERROR: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
"""The usage error of the click that typer uses (typer may carry its own copy of click)."""


class Command(TyperCommand):
    """A command whose -h/--help shows no `<bool>`, and whose usage errors are JSON under --json."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, list(args))
        except _USAGE_ERROR as exc:
            from evtool.cli.output import json_usage_error

            json_usage_error(ctx, args, exc)  # prints it and exits 2 under --json; else returns
            raise


class Group(TyperGroup):
    """The root group, with the same plain --help."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


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


def register(app: typer.Typer) -> None:
    """Add every command in COMMANDS to the app."""
    for module_name, func_name, name, panel in COMMANDS:
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
        _plain_metavars(func)
        app.command(name=name, rich_help_panel=panel, help=help_text(func.__doc__), cls=Command)(func)
