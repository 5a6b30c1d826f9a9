"""`evtool --help` drawn with the standard library only.

The root help is the command line's most frequent screen and must start as fast as `import typer`
itself, so it does not load rich (nor any command module): the panels typer would draw with rich are
drawn here with the same box characters, from the command registry (`evtool.cli.commands.COMMANDS`).
A command's own help (`evtool run --help`) stays typer's rich help.
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

_BOLD, _NAME, _DIM, _RESET = "\x1b[1m", "\x1b[1;36m", "\x1b[2m", "\x1b[0m"


def _colour() -> bool:
    """Colour as rich would decide it: a terminal, no NO_COLOR, not TERM=dumb (FORCE_COLOR forces it)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def _width() -> int:
    """The terminal's width (COLUMNS first), at least 40; typer's TERMINAL_WIDTH caps it, as for rich."""
    width = shutil.get_terminal_size((80, 24)).columns
    cap = os.environ.get("TERMINAL_WIDTH")
    if cap and cap.isdigit():
        width = min(width, int(cap))
    return max(width, 40)


def _panel(title: str, rows: list[tuple[list[str], str]], width: int, colour: bool,
           first: int = 0) -> list[str]:
    """A rich-style panel: `rows` of (left cells, help text), the help wrapped in its own column; the
    first column at least `first` wide (so that the command panels line up)."""
    inner = width - 4  # "│ " ... " │"
    ncols = max(len(cells) for cells, _ in rows)
    widths = [max(len(cells[i]) if i < len(cells) else 0 for cells, _ in rows) for i in range(ncols)]
    widths[0] = max(widths[0], first)
    left = sum(w + 2 for w in widths)
    text_width = max(inner - left, 20)
    head = f"─ {title} "
    dim, reset = (_DIM, _RESET) if colour else ("", "")
    out = [f"{dim}╭{head}{'─' * (width - 2 - len(head))}╮{reset}"]
    for cells, text in rows:
        lines = textwrap.wrap(text, text_width, break_on_hyphens=False) or [""]
        for n, line in enumerate(lines):
            if n == 0:
                shown = "".join(c.ljust(w + 2) for c, w in zip(cells + [""] * (ncols - len(cells)), widths,
                                                                 strict=True))
                plain = shown + line
                if colour and cells[0]:
                    shown = f"{_NAME}{cells[0]}{_RESET}" + shown[len(cells[0]):]
            else:
                shown = " " * left
                plain = shown + line
            pad = " " * max(inner - len(plain), 0)
            out.append(f"{dim}│{reset} {shown}{line}{pad} {dim}│{reset}")
    out.append(f"{dim}╰{'─' * (width - 2)}╯{reset}")
    return out


def _option_rows(group: Any, ctx: Any) -> list[tuple[list[str], str]]:
    rows = []
    for param in group.get_params(ctx):
        if getattr(param, "hidden", False) or param.param_type_name != "option":
            continue
        names = [*param.opts, *param.secondary_opts]
        long = ", ".join(o for o in names if o.startswith("--"))
        short = ", ".join(o for o in names if not o.startswith("--"))
        metavar = "" if param.is_flag else (param.metavar or param.make_metavar(ctx))
        rows.append(([long, short, metavar] if metavar else [long, short], param.help or ""))
    return rows


def root_help(group: Any, ctx: Any, commands: Sequence[Any]) -> str:
    """The root group's help: usage, description, the options panel and one panel per command panel
    (`commands`: the registry entries, each with `name`, `panel` and `summary`)."""
    width = _width()
    colour = _colour()
    bold, reset = (_BOLD, _RESET) if colour else ("", "")
    lines = ["", f" {bold}Usage:{reset} {ctx.command_path} {' '.join(group.collect_usage_pieces(ctx))}", ""]
    for para in inspect.cleandoc(group.help or "").split("\n\n"):
        if para.strip():
            lines += [" " + line for line in textwrap.wrap(" ".join(para.split()), width - 2,
                                                           break_on_hyphens=False)] + [""]
    lines += _panel("Options", _option_rows(group, ctx), width, colour)
    panels: dict[str, list[tuple[list[str], str]]] = {}
    for entry in commands:
        panels.setdefault(entry.panel, []).append(([entry.name], entry.summary))
    name_width = max(len(e.name) for e in commands)
    for title, rows in panels.items():
        lines += _panel(title, rows, width, colour, name_width)
    return "\n".join(lines) + "\n"
