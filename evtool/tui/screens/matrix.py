"""The variations matrix in the dashboard (`m` at the end of a lesson): the lesson and each of its try-next
variations, run headless on virtual time in a worker thread, then shown as checks × runs with the key
numbers — the same matrix as `evtool run LESSON --variations`."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from evtool.core.textsafe import visible
from evtool.sim.matrix import NUMBERS, Matrix, lesson_columns, run_matrix

VERDICT = {"pass": ("✓", "green"), "fail": ("✗", "red"), "unknown": ("?", "yellow")}


def matrix_renderable(mx: Matrix) -> Table:
    """Checks × runs (a `!` marks a verdict the run did not expect), then the key numbers."""
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    t.add_column("check", no_wrap=True, overflow="ellipsis", max_width=28)
    for r in mx.results:
        t.add_column(visible(r.column.label), justify="right", no_wrap=True)
    t.add_row(Text("outcome", style="bold"), *[
        Text(r.outcome, style={"passed": "green", "failed": "red"}.get(r.outcome, "yellow")) for r in mx.results])
    for check in mx.checks:
        cells = []
        for r in mx.results:
            v = r.verdicts.get(check)
            if v is None:
                cells.append(Text("–", style="dim"))
                continue
            sym, style = VERDICT.get(v, ("?", "yellow"))
            cell = Text(sym, style=style)
            if r.as_expected(check) is False:
                cell.append(" !", style="bold yellow")
            cells.append(cell)
        t.add_row(Text(visible(check)), *cells)
    t.add_section()
    for label, key in NUMBERS:
        t.add_row(Text(label, style="dim"), *[f"{r.numbers.get(key, 0):,}" if r.numbers else "–" for r in mx.results])
    return t


class MatrixModal(ModalScreen[None]):
    """Runs the matrix in a worker, then shows it."""

    BINDINGS = [Binding("escape,q,m", "close", "Close", id="matrix-close")]

    DEFAULT_CSS = """
    MatrixModal { align: center middle; }
    MatrixModal > Vertical { width: 96%; max-width: 120; height: auto; max-height: 96%; border: round $accent;
                             background: $surface; padding: 0 1; }
    MatrixModal VerticalScroll { height: auto; max-height: 100%; }
    """

    def __init__(self, path: Path, overrides: dict[str, object] | None = None) -> None:
        super().__init__()
        self.path = path
        self.overrides = overrides or {}
        self.matrix: Matrix | None = None

    def compose(self) -> ComposeResult:
        """A note while it runs; the table when done."""
        with Vertical() as box:
            box.border_title = "The lesson and its variations side by side (esc closes)"
            with VerticalScroll():
                yield Static(Text("running the lesson and each variation on virtual time…", style="dim"),
                             id="matrix-body")

    def on_mount(self) -> None:
        """Start the runs."""
        self.compute()

    @work(thread=True, exclusive=True)
    def compute(self) -> None:
        """Run every column (in a thread: the dashboard stays responsive)."""
        from evtool.scenario.loader import load_scenario

        loaded = load_scenario(self.path)
        mx = run_matrix(self.path, lesson_columns(loaded))
        self.app.call_from_thread(self.show, mx)

    def show(self, mx: Matrix) -> None:
        """Show the finished matrix, with what each column ran."""
        self.matrix = mx
        legend = Text()
        for r in mx.results:
            legend.append(f"{visible(r.column.label)}: ", style="bold")
            legend.append(visible(r.column.say or "as written") + "\n", style="dim")
            if r.error:
                legend.append(f"  ✗ does not load: {visible(r.error)}\n", style="red")
        from rich.console import Group

        self.query_one("#matrix-body", Static).update(Group(matrix_renderable(mx), legend))

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
