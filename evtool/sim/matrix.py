"""Variations side by side: run a lesson and each of its `try_next` variations (or one scenario under several
broker profiles) on the local engine, and collect a matrix of check verdicts and key numbers.

`lesson_columns(loaded)` and `profile_columns(names)` say what to run;
`run_matrix(path, columns, ...)` runs each column headless and returns a
`Matrix`: one `Cell` per (check, column), and for each column the numbers a
student compares (deliveries, dead letters, duplicates). Rendering is done
by the callers (`evtool.report.matrix` for the command line, the dashboard
for its end screen). No Rich, no Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evtool.scenario import models as m
from evtool.scenario.loader import LoadedScenario

NUMBERS: tuple[tuple[str, str], ...] = (
    ("deliveries", "deliveries"),
    ("dead letters", "dead_lettered"),
    ("duplicates", "duplicates"),
    ("retries", "retries"),
)
"""(row label, summary key) of the key numbers under the verdicts."""


@dataclass(frozen=True)
class Column:
    """One run of the matrix: its label, its `--set` overrides, and the checks it is expected to fail."""

    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    fails: tuple[str, ...] = ()
    say: str = ""


@dataclass
class ColumnResult:
    """What one column's run said."""

    column: Column
    outcome: str = "unknown"  # passed | failed | unknown | invalid
    verdicts: dict[str, str] = field(default_factory=dict)  # check name -> pass | fail | unknown
    numbers: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def as_expected(self, check: str) -> bool | None:
        """Whether a check's verdict is what the column expects (a `fails` check fails, the others pass)."""
        verdict = self.verdicts.get(check)
        if verdict is None or verdict == "unknown":
            return None
        return (verdict == "fail") == (check in self.column.fails)

    @property
    def reading(self) -> str:
        """How the run reads against its promise (the column's `fails`):

        * `passed`: every check held and none was promised to break;
        * `as meant`: the run failed exactly the checks it promised to break;
        * `unexpected`: it failed a check it did not promise to break, or a promised one held
          (while another broke);
        * `did not break`: it promised to break checks and every check held;
        * `invalid` (it did not load) or `unknown` (no verdict either way).
        """
        if self.outcome == "invalid":
            return "invalid"
        failed = {c for c, v in self.verdicts.items() if v == "fail"}
        promised = set(self.column.fails)
        if failed == promised:
            if promised:
                return "as meant"
            return "passed" if self.outcome == "passed" else "unknown"
        if promised and not failed:
            return "did not break"
        return "unexpected"


@dataclass
class Matrix:
    """Rows: the checks; columns: the runs."""

    scenario_id: str
    checks: list[str]
    results: list[ColumnResult]


def lesson_columns(loaded: LoadedScenario) -> list[Column]:
    """The lesson as written, then each `try_next` variation that sets something (text-only tips are not runs)."""
    cols = [Column("lesson", {}, (), "as written")]
    lesson = loaded.model.lesson
    for i, v in enumerate(lesson.try_next if lesson else ()):
        if isinstance(v, m.Variation) and v.set:
            cols.append(Column(f"try {i + 1}", dict(v.set), tuple(v.fails), " ".join(v.say.split())))
    return cols


def profile_columns(names: Sequence[str]) -> list[Column]:
    """One column per broker profile (`broker.profile` set to each); raises ValueError naming an unknown one."""
    from evtool.core.profiles import PROFILES
    from evtool.scenario.errors import did_you_mean

    cols = []
    for name in names:
        if name not in PROFILES:
            hint = did_you_mean(name, PROFILES) or ", ".join(PROFILES)
            raise ValueError(f"unknown broker profile {name!r} (did you mean: {hint})")
        cols.append(Column(name, {"broker.profile": name}, (), f"broker profile {name}"))
    return cols


class _Handled:
    """A listener counting handlings per message: a message handled more than once is a duplicate."""

    def __init__(self) -> None:
        self.seen: set[tuple[str | None, str]] = set()
        self.again = 0

    def __call__(self, batch: Sequence[Any]) -> None:
        for ev in batch:
            if ev.kind == "handled" and ev.msg is not None:
                key = (ev.actor, ev.msg)
                if key in self.seen:
                    self.again += 1
                else:
                    self.seen.add(key)


def numbers_of(summary: dict[str, Any], handled_again: int = 0) -> dict[str, int]:
    """The key numbers of a run: deliveries (first and re-), dead letters, duplicates (a message handled
    again by the same consumer: with effect, or recognised as a duplicate and skipped), retries."""
    counts = summary.get("counts", {})
    return {
        "deliveries": int(counts.get("delivered", 0)) + int(counts.get("redelivered", 0)),
        "dead_lettered": int(summary.get("dead_lettered", 0)),
        "duplicates": handled_again,
        "retries": int(summary.get("retries", 0)),
    }


def run_column(path: str | Path, column: Column, base: dict[str, Any] | None = None,
               seed: int | None = None) -> ColumnResult:
    """Run one column headless (local engine, virtual time) and collect its verdicts and numbers."""
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import load_scenario
    from evtool.sim.engine import Engine

    result = ColumnResult(column)
    handled = _Handled()
    try:
        loaded = load_scenario(path, {**(base or {}), **column.overrides})
        outcome = Engine(loaded, seed=seed, listeners=[handled]).run()
    except ScenarioError as err:  # the variation, or the profile, does not fit this scenario
        first = err.problems[0] if err.problems else None
        result.outcome = "invalid"
        result.error = f"{first.line}:{first.column}: {first.message}" if first else str(err)
        return result
    result.outcome = outcome.outcome
    result.verdicts = {c["name"]: str(c["status"]) for c in outcome.checks}
    result.numbers = numbers_of(outcome.summary, handled.again)
    return result


def run_matrix(path: str | Path, columns: Sequence[Column], *, base: dict[str, Any] | None = None,
               seed: int | None = None, progress: Callable[[int, Column], None] | None = None) -> Matrix:
    """Run every column and gather the matrix (checks in the order they first appear)."""
    results: list[ColumnResult] = []
    for i, col in enumerate(columns):
        if progress is not None:
            progress(i, col)
        results.append(run_column(path, col, base, seed))
    checks: list[str] = []
    for r in results:
        for name in r.verdicts:
            if name not in checks:
                checks.append(name)
    scenario_id = Path(path).stem
    return Matrix(scenario_id, checks, results)
