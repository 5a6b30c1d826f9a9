"""Located problems in a scenario, and the error that carries them.

Every problem names the file, the line and column, the path in the document
(`consumers.billing.retry.max_attempts`), what was expected and what was
found, and where it can, a hint. All problems of a file are reported
together, sorted by line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong (or suspicious) in a scenario file."""

    file: str
    line: int
    column: int
    path: str = ""
    message: str = ""
    hint: str | None = None
    severity: Severity = field(default="error", compare=False)

    def as_dict(self) -> dict[str, object]:
        """The problem as plain data, for `--json`."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
            "severity": self.severity,
        }

    def format(self) -> str:
        """`file:line:col: error: path: message` plus the hint on its own line."""
        where = f"{self.file}:{self.line}:{self.column}"
        path = f"{self.path}: " if self.path else ""
        text = f"{where}: {self.severity}: {path}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ScenarioError(Exception):
    """A scenario could not be loaded; `problems` says every reason, sorted by line."""

    def __init__(self, problems: Iterable[Problem], source: str | None = None) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path, p.message))
        self.source = source
        super().__init__("\n".join(p.format() for p in self.problems) or "invalid scenario")

    @property
    def errors(self) -> list[Problem]:
        """Only the problems of severity `error`."""
        return [p for p in self.problems if p.severity == "error"]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """`did you mean `x`?` for the closest candidate, or None."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return None


def known_list(candidates: Iterable[str], limit: int = 12) -> str:
    """A short, sorted, comma-separated list of names for a hint."""
    names = sorted(set(candidates))
    if not names:
        return "(none are defined)"
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    if len(names) > limit:
        shown += f", … ({len(names) - limit} more)"
    return shown
