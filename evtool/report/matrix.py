"""The variations matrix as a Rich table: rows are the checks, columns the runs, cells the verdicts, then the
key numbers (deliveries, dead letters, duplicates, retries). A verdict the column expects (a variation's
`fails`, or a pass) is plain; one it does not expect is marked `!`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from evtool.report.fmt import text, visible

if TYPE_CHECKING:
    from evtool.sim.matrix import Matrix

VERDICT = {"pass": ("✓", "green"), "fail": ("✗", "red"), "unknown": ("?", "yellow")}


def verdict_cell(verdict: str | None, expected: bool | None, short: bool = False) -> Text:
    """`✓ pass`, `✗ fail` (with `!` when the column did not expect it), or `–` when the check is not there;
    `short`: the symbol alone."""
    if verdict is None:
        return Text("–", style="dim")
    sym, style = VERDICT.get(verdict, ("?", "yellow"))
    t = Text(sym if short else f"{sym} {verdict}", style=style)
    if expected is False:
        t.append(" !", style="bold yellow")
    return t


def is_narrow(mx: Matrix, width: int) -> bool:
    """Whether the columns must be numbered (and the cells shortened) to fit `width`."""
    need = 26 + sum(max(9, len(r.column.label) + 2) for r in mx.results)
    return need > width


def matrix_table(mx: Matrix, title: str | None = None, width: int = 200) -> Table:
    """The matrix (see the module docstring); numbered columns and short cells when `width` is too small."""
    from evtool.sim.matrix import NUMBERS

    narrow = is_narrow(mx, width)
    t = Table(title=visible(title or f"{mx.scenario_id}: checks × runs"), title_justify="left",
              box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("check", no_wrap=True, overflow="ellipsis", max_width=30)
    for i, r in enumerate(mx.results):
        t.add_column(str(i + 1) if narrow else text(r.column.label), justify="right", no_wrap=True)
    short = {"passed": "✓", "failed": "✗", "invalid": "bad", "unknown": "?"}
    t.add_row(Text("outcome", style="bold"), *[
        Text(short.get(r.outcome, r.outcome) if narrow else r.outcome,
             style={"passed": "green", "failed": "red"}.get(r.outcome, "yellow")) for r in mx.results])
    for check in mx.checks:
        t.add_row(text(check), *[verdict_cell(r.verdicts.get(check), r.as_expected(check), narrow)
                                 for r in mx.results])
    t.add_section()
    for label, key in NUMBERS:
        t.add_row(Text(label, style="dim"), *[f"{r.numbers.get(key, 0):,}" if r.numbers else "–"
                                               for r in mx.results])
    return t


def legend(mx: Matrix, width: int = 200) -> Text:
    """What each column ran (its `--set` overrides, or its text), and any that did not load."""
    out = Text()
    narrow = is_narrow(mx, width)
    for i, r in enumerate(mx.results):
        out.append((f"{i + 1} " if narrow else "") + f"{visible(r.column.label)}: ", style="bold")
        if r.column.overrides:
            out.append(visible(" ".join(f"--set {k}={v}" for k, v in r.column.overrides.items())), style="cyan")
        else:
            out.append(visible(r.column.say or "as written"), style="dim")
        if r.column.fails:
            out.append("  (expected to fail: " + visible(", ".join(r.column.fails)) + ")", style="dim")
        if r.error:
            out.append(f"  ✗ does not load: {visible(r.error)}", style="red")
        out.append("\n")
    unexpected = [(r.column.label, c) for r in mx.results for c in mx.checks if r.as_expected(c) is False]
    if unexpected:
        out.append("! a verdict the run did not expect: ", style="bold yellow")
        out.append(visible(", ".join(f"{c} in {lbl}" for lbl, c in unexpected)) + "\n")
    return out
