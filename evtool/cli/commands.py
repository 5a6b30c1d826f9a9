"""The registry of commands: each lives in its own module under evtool.cli."""

from __future__ import annotations

import importlib

import typer

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


def register(app: typer.Typer) -> None:
    """Add every command in COMMANDS to the app."""
    for module_name, func_name, name, panel in COMMANDS:
        module = importlib.import_module(module_name)
        app.command(name=name, rich_help_panel=panel)(getattr(module, func_name))
