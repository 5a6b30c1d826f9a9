"""The variations matrix in the dashboard (`m` at the end of a lesson): the lesson and each of its try-next
variations, run headless on virtual time in a worker thread, then shown as checks × runs with the key
numbers — the same table as `evtool run LESSON --variations` (`evtool.report.matrix`).

It fits 80×24 without scrolling: the table drops its blank edges and shortens its cells (never a check
name nor a column label), and the legend is one line per column."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from evtool.report.matrix import legend, matrix_table
from evtool.sim.matrix import Matrix, lesson_columns, run_matrix


def matrix_renderable(mx: Matrix, width: int = 120) -> Group:
    """Checks × runs in the widest layout that fits `width`, then the compact legend."""
    return Group(matrix_table(mx, title="", width=width, edge=False), legend(mx, width, compact=True, edge=False))


class MatrixModal(ModalScreen[None]):
    """Runs the matrix in a worker, then shows it."""

    BINDINGS = [Binding("escape,q,m", "close", "Close", id="matrix-close")]

    DEFAULT_CSS = """
    MatrixModal { align: center middle; }
    MatrixModal > Vertical { width: 100%; max-width: 124; height: auto; max-height: 100%; border: round $accent;
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

    def body_width(self) -> int:
        """The columns the table may use: the dialog's inner width."""
        return max(40, min(self.size.width or self.app.size.width, 124) - 4)

    def show(self, mx: Matrix) -> None:
        """Show the finished matrix, with what each column ran."""
        self.matrix = mx
        self.query_one("#matrix-body", Static).update(matrix_renderable(mx, self.body_width()))

    def on_resize(self) -> None:
        """Lay the table out again for the new width."""
        if self.matrix is not None:
            self.show(self.matrix)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
