"""The help dialog: every key, what it does, and its binding id (for remapping)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def key_label(b: Binding) -> str:
    """How a binding's key reads: its display, or its keys with friendly names."""
    if b.key_display:
        return b.key_display
    names = {"space": "space", "question_mark": "?", "slash": "/", "plus": "+", "minus": "-",
             "less_than_sign": "<", "greater_than_sign": ">", "comma": ",", "full_stop": ".",
             "escape": "esc", "enter": "enter"}
    return " ".join(names.get(k, k) for k in b.key.split(","))


class HelpModal(ModalScreen[None]):
    """Lists the bindings given to it, in groups."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help-close"),
    ]

    DEFAULT_CSS = """
    HelpModal { align: center middle; }
    HelpModal > VerticalScroll { width: 90%; max-width: 100; height: 90%; border: round $accent;
                                 background: $surface; padding: 0 1; }
    """

    def __init__(self, groups: Iterable[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.groups = [(title, [b for b in bindings if isinstance(b, Binding)]) for title, bindings in groups]

    def compose(self) -> ComposeResult:
        """One table of keys per group."""
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys (esc closes)"
            for title, bindings in self.groups:
                table = Table(title=title, title_justify="left", title_style="bold", box=None, expand=True,
                              padding=(0, 1), show_header=False)
                table.add_column("key", style="bold cyan", no_wrap=True, width=12)
                table.add_column("what it does")
                table.add_column("id", style="dim", no_wrap=True)
                for b in bindings:
                    table.add_row(key_label(b), b.description or b.action, b.id or "")
                yield Static(table)
