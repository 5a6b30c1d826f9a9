"""The filter dialog for the event log (`/`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from evtool.tui.widgets.event_log import FILTER_HELP, EventFilter


class FilterModal(ModalScreen[EventFilter | None]):
    """Asks for a filter; returns the parsed filter, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="filter-cancel")]

    DEFAULT_CSS = """
    FilterModal { align: center middle; }
    FilterModal > Vertical { width: 90%; max-width: 90; height: auto; border: round $accent;
                             background: $surface; padding: 0 1; }
    FilterModal #filter-error { color: $error; }
    """

    def __init__(self, current: str = "") -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        """The input, the syntax, and room for an error."""
        with Vertical() as box:
            box.border_title = "Filter the event log (enter applies, empty clears, esc cancels)"
            yield Input(value=self.current, placeholder="kind:failed key:cust-0001", id="filter-input")
            yield Static(FILTER_HELP, id="filter-help")
            yield Static("", id="filter-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Parse and return the filter, or say what is wrong."""
        try:
            flt = EventFilter.parse(event.value)
        except ValueError as err:
            self.query_one("#filter-error", Static).update(f"✗ {err}")
            return
        self.dismiss(flt)

    def action_cancel(self) -> None:
        """Close without changing the filter."""
        self.dismiss(None)
