"""The variations matrix as a Rich table: rows are the checks, columns the runs, cells the verdicts, then the
key numbers (deliveries, dead letters, duplicates, retries).

The `outcome` row reads each run against its promise (`ColumnResult.reading`): a variation that breaks
exactly the checks it promised reads `✗ as meant`; one that breaks something else, or holds when it should
break, stands out (`! unexpected`, `! all held`, reversed colours). A check verdict the column does not
expect is marked `!` and reversed too.

Four layouts, the widest that fits: full cells; short cells (the check names and column labels whole);
numbered columns with short cells (the legend says which number ran what); tiny (numbered, one-letter
outcomes, `2.5k` numbers, no padding) for many columns. Check names are never cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from evtool.report.fmt import set_argument, text, visible

if TYPE_CHECKING:
    from evtool.sim.matrix import ColumnResult, Matrix

VERDICT = {"pass": ("✓", "green"), "fail": ("✗", "red"), "unknown": ("?", "yellow")}
UNEXPECTED = {"pass": "bold black on yellow", "fail": "bold white on red"}
"""How a verdict the column did not expect stands out."""
READING: dict[str, tuple[str, str, str]] = {
    "passed": ("✓ passed", "✓", "green"),
    "as meant": ("✗ as meant", "meant", "cyan"),
    "unexpected": ("! unexpected", "!unexp", "bold white on red"),
    "did not break": ("! all held", "!held", "bold black on yellow"),
    "invalid": ("✗ invalid", "bad", "bold yellow"),
    "unknown": ("? unknown", "?", "yellow"),
}
"""How a run reads against its promise: (full, short, style)."""
KEY = ("meant: broke exactly what it promised   !unexp: broke something else   "
       "!held: nothing broke")
KEY_FULL = ("✗ as meant: broke exactly what it promised   ! unexpected: broke something else   "
            "! all held: nothing broke")
KEY_BRIEF = "meant: broke as promised   !unexp, !held: not as promised"
KEY_TINY = "m: broke as promised   !: broke something else   !h: nothing broke"
TINY = {"passed": "✓", "as meant": "m", "unexpected": "!", "did not break": "!h", "invalid": "x", "unknown": "?"}
"""The outcome cells when many columns must fit (`KEY_TINY` says what they mean)."""
"""What the outcome cells mean (the legend's last line): short cells, full cells, a narrow terminal."""


def verdict_cell(verdict: str | None, expected: bool | None, short: bool = False) -> Text:
    """`✓ pass`, `✗ fail` (reversed, with `!`, when the column did not expect it), or `–` when the check
    is not there; `short`: the symbol alone."""
    if verdict is None:
        return Text("–", style="dim")
    sym, style = VERDICT.get(verdict, ("?", "yellow"))
    if expected is False:
        return Text((sym if short else f"{sym} {verdict}") + " !", style=UNEXPECTED.get(verdict, "bold yellow"))
    return Text(sym if short else f"{sym} {verdict}", style=style)


def reading_cell(r: ColumnResult, short: bool = False) -> Text:
    """The `outcome` cell: the run read against its promise (see `READING`)."""
    full, brief, style = READING.get(r.reading, (r.reading, r.reading, "yellow"))
    return Text(brief if short else full, style=style)


def layout(mx: Matrix, width: int, edge: bool = True) -> str:
    """`full`, `short` or `numbered`: the widest layout whose table fits `width` columns (measured)."""
    from rich.console import Console

    console = Console(width=10_000, emoji=False)  # names shown as typed (evtool.cli.output.console)
    for mode in ("full", "short", "numbered"):
        if console.measure(_table(mx, mode, None, edge)).maximum <= width:
            return mode
    return "tiny"


def is_narrow(mx: Matrix, width: int) -> bool:
    """Whether the columns must be numbered (and the cells shortened) to fit `width`."""
    return layout(mx, width) == "numbered"


def matrix_table(mx: Matrix, title: str | None = None, width: int = 200, edge: bool = True) -> Table:
    """The matrix (see the module docstring) in the widest layout that fits `width`; `edge=False` drops the
    blank edges around it (the dashboard); `title=""`: no title."""
    heading = visible(f"{mx.scenario_id}: checks × runs") if title is None else visible(title) if title else None
    return _table(mx, layout(mx, width, edge), heading, edge)


def _table(mx: Matrix, mode: str, heading: str | None, edge: bool) -> Table:
    from evtool.sim.matrix import NUMBERS

    short = mode != "full"
    tiny = mode == "tiny"  # numbered, one-letter outcomes, 2.5k numbers, no padding: many columns
    t = Table(title=heading, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=edge,
              padding=(0, 0) if tiny else (0, 1))
    t.add_column("check", no_wrap=True, min_width=max([len(visible(c)) for c in mx.checks] + [12]))
    for i, r in enumerate(mx.results):
        t.add_column(str(i + 1) if mode in ("numbered", "tiny") else text(r.column.label), justify="right", no_wrap=True)
    t.add_row(Text("outcome", style="bold"), *[
        Text(TINY.get(r.reading, "?"), style=READING.get(r.reading, ("", "", "yellow"))[2]) if tiny
        else reading_cell(r, short) for r in mx.results])
    for check in mx.checks:
        t.add_row(text(check), *[verdict_cell(r.verdicts.get(check), r.as_expected(check), short)
                                 for r in mx.results])
    if edge:  # the dashboard saves the blank line
        t.add_section()
    for label, key in NUMBERS:
        t.add_row(Text(label, style="dim"), *[_number(r.numbers.get(key, 0), tiny) if r.numbers else "–"
                                               for r in mx.results])
    return t


def _number(n: int, tiny: bool) -> str:
    """`2,451`, or `2.5k` when the columns are tiny."""
    if not tiny or n < 1000:
        return f"{n:,}"
    return f"{n / 1000:.1f}k" if n < 10_000 else f"{n // 1000}k"


def _sets(r: ColumnResult) -> str:
    """A column's overrides as the `--set` arguments a user types (`[ParseError]`, `true`), each one shell word."""
    return " ".join(set_argument(k, v) for k, v in r.column.overrides.items())


def _promise(r: ColumnResult) -> str:
    return "breaks " + ", ".join(r.column.fails) if r.column.fails else ""


def legend(mx: Matrix, width: int = 200, compact: bool = False, edge: bool = True) -> Text:
    """What each column ran (its `--set` overrides, or its text) and what it promised to break, and any
    that did not load. `compact`: one line per column, its text cut to the width (never its label nor the
    checks it promises to break), then one line saying what the short cells mean."""
    out = Text()
    mode = layout(mx, width, edge)
    numbered = mode in ("numbered", "tiny")
    for i, r in enumerate(mx.results):
        line = Text()
        line.append((f"{i + 1} " if numbered else "") + f"{visible(r.column.label)}: ", style="bold")
        if compact:
            if not (numbered or r.column.overrides or r.column.fails or r.error):
                continue  # the lesson as written: its column says enough
            promise = _promise(r)
            if promise:
                line.append(visible(promise), style="cyan")
            what = visible(r.column.say or _sets(r) or "as written")
            room = width - line.cell_len - (3 if promise else 0)
            if room >= 8:
                line.append(" · " if promise else "", style="dim")
                line.append(what if len(what) <= room else what[: room - 1] + "…", style="dim")
            if r.error:
                line.append("\n  ✗ does not load: ", style="red")
                line.append(visible(r.error), style="red")
            out.append_text(line)
            out.append("\n")
            continue
        if r.column.overrides:
            line.append(visible(_sets(r)), style="cyan")
        else:
            line.append(visible(r.column.say or "as written"), style="dim")
        if r.column.fails:  # on a line of its own: a narrow terminal does not split it
            line.append("\n  promises to break: " + visible(", ".join(r.column.fails)), style="dim")
        if r.error:
            line.append(f"  ✗ does not load: {visible(r.error)}", style="red")
        out.append_text(line)
        out.append("\n")
    unexpected = [(r.column.label, c) for r in mx.results for c in mx.checks if r.as_expected(c) is False]
    if unexpected:
        out.append("! not as promised: ", style="bold yellow")
        out.append(visible(", ".join(f"{c} in {lbl}" for lbl, c in unexpected)) + "\n")
    if compact or mode != "full":
        key = KEY_FULL if mode == "full" else KEY_TINY if mode == "tiny" else KEY if len(KEY) <= width \
            else KEY_BRIEF
        out.append(key if len(key) <= width else KEY_BRIEF[:width], style="dim")
    return out
