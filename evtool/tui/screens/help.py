"""The help dialog: the keys that work here and now, and what each does, in words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEY_NAMES = {"space": "space", "question_mark": "?", "slash": "/", "plus": "+", "minus": "-",
             "less_than_sign": "<", "greater_than_sign": ">", "comma": ",", "full_stop": ".",
             "escape": "esc", "enter": "enter", "equals_sign": "=", "underscore": "_"}


def key_label(b: Binding) -> str:
    """How a binding's key reads: its display, or its keys with friendly names."""
    if b.key_display:
        return b.key_display
    return " ".join(KEY_NAMES.get(k, k) for k in b.key.split(","))


def rows_of(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(key, what it does) for each binding."""
    return [(key_label(b), b.description or b.action) for b in bindings if isinstance(b, Binding)]


class HelpModal(ModalScreen[None]):
    """Lists the keys given to it, in groups: (title, [(key, what it does), ...])."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help-close"),
    ]

    DEFAULT_CSS = """
    HelpModal { align: center middle; }
    HelpModal > VerticalScroll { width: 90%; max-width: 90; height: auto; max-height: 90%; border: round $accent;
                                 background: $surface; padding: 0 1; }
    """

    def __init__(self, groups: Iterable[tuple[str, Sequence[tuple[str, str]] | Iterable[BindingType]]]) -> None:
        super().__init__()
        self.groups: list[tuple[str, list[tuple[str, str]]]] = []
        for title, rows in groups:
            items = list(rows)
            if items and isinstance(items[0], Binding):
                self.groups.append((title, rows_of(items)))  # type: ignore[arg-type]
            else:
                self.groups.append((title, [r for r in items if isinstance(r, tuple)]))

    def compose(self) -> ComposeResult:
        """One table of keys per group."""
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys that work here (esc closes)"
            for title, rows in self.groups:
                if not rows:
                    continue
                table = Table(title=title, title_justify="left", title_style="bold", box=None, expand=False,
                              padding=(0, 1), show_header=False)
                table.add_column("key", style="bold cyan", no_wrap=True, width=12)
                table.add_column("what it does")
                for key, words in rows:
                    table.add_row(key, words)
                yield Static(table)

    def plain(self) -> str:
        """Every key and its words, as plain text (for tests)."""
        return "\n".join(f"{title}\n" + "\n".join(f"{k}  {w}" for k, w in rows) for title, rows in self.groups)
