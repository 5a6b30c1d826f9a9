"""Lines made of phrases, laid out for the width they are rendered at.

A report line such as `searched 6 runs in 0.2s (20 runs budget): 3 seeds, 3 runs with faults, 6 distinct
schedules` is a lead and a list of phrases. Rich's word wrap would break it anywhere (`6` at the end of
one line, `distinct schedules` on the next); `Phrases` moves a whole phrase to the next line instead, under
an indent, so no phrase is split and no line is longer than the width (80 columns and pipes included).
Only a phrase longer than a whole line is wrapped (`wrap_long`) or, for a command meant to be copied,
left whole (`wrap_long=False`: the terminal may fold it, a copy stays one line).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text


def _text(part: Text | str) -> Text:
    return part.copy() if isinstance(part, Text) else Text(part)


class Phrases:
    """A lead, then phrases joined by `sep`; a phrase that does not fit goes whole to the next line."""

    def __init__(self, lead: Text | str, phrases: Iterable[Text | str] = (), *, sep: str = ", ",
                 indent: int | None = None, wrap_long: bool = True, style: str = "") -> None:
        self.lead = _text(lead)
        self.phrases = [_text(p) for p in phrases]
        self.sep = sep
        lead_indent = len(self.lead.plain) - len(self.lead.plain.lstrip(" "))
        self.indent = lead_indent + 2 if indent is None else indent
        """Spaces before a continuation line (the lead's own indent and two more by default)."""
        self.wrap_long = wrap_long
        self.style = style

    def lines(self, width: int) -> list[Text]:
        """The lines at `width` columns: each phrase whole, each line at most `width` long, unless one
        phrase alone is longer than a line: its words are then packed the same way (`wrap_long`), or it
        is left whole on its own line (a command to copy)."""
        out: list[Text] = []
        line = self.lead.copy()
        on_line = 0  # phrases on the current line
        last = len(self.phrases) - 1
        for i, phrase in enumerate(self.phrases):
            tail = self.sep.rstrip() if i < last else ""
            if self.wrap_long and self.indent + len(phrase.plain) + len(tail) > width and " " in phrase.plain:
                words = phrase.split(" ", allow_blank=False)
                words[-1].append(tail)
                inner = Phrases(line, list(words), sep=" ", indent=self.indent).lines(width)
                out.extend(inner[:-1])
                line, on_line = inner[-1], 1
                line.append(" " if i < last and self.sep.endswith(" ") else "")
                continue
            joiner = self.sep if on_line else ("" if not line.plain.strip() or line.plain.endswith(" ") else " ")
            if on_line and line.plain.endswith(" "):
                joiner = ""
            fits = len(line.plain) + len(joiner) + len(phrase.plain) + len(tail) <= width
            if fits or not line.plain.strip():
                line.append(joiner)
                line.append_text(phrase)
                on_line += 1
                continue
            if on_line and not line.plain.endswith(tail + " "):
                line.append(self.sep.rstrip())
            out.append(line)
            line = Text(" " * self.indent)
            line.append_text(phrase)
            on_line = 1
        out.append(line)
        for t in out:
            if self.style:
                t.stylize(self.style)
            t.rstrip()
        return out

    def print(self, console: Any) -> None:
        """Print the lines at the console's width; a line left longer than the width (a command to copy)
        is printed whole, never cropped or folded by Rich."""
        for line in self.lines(console.width):
            console.print(line, soft_wrap=len(line.plain) > console.width)

    def __rich_console__(self, console: Any, options: Any) -> Iterable[Text]:
        for line in self.lines(options.max_width):
            if len(line.plain) > options.max_width:
                line.no_wrap, line.overflow = True, "ignore"
            yield line


def phrase_lines(parts: Sequence[Phrases], width: int) -> list[str]:
    """The plain lines of several `Phrases` at `width` (for tests and plain output)."""
    return [t.plain for p in parts for t in p.lines(width)]
