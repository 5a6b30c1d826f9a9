"""The dead-letter panel: message, reason, attempts, where from; `r` redrives the selected one."""

from __future__ import annotations

from rich.text import Text

from evtool.sim.snapshot import DeadLetterView
from evtool.tui import format as fmt
from evtool.tui.widgets.keyed_table import KeyedTable


class DeadLetterTable(KeyedTable):
    """One row per dead letter still held, oldest first."""

    COLUMNS = (("msg", "message"), ("reason", "reason"), ("error", "error"), ("attempts", "attempts"),
               ("route", "from → to"), ("at", "at"), ("key", "key"))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._last: tuple[DeadLetterView, ...] | None = None
        self.letters: dict[str, DeadLetterView] = {}

    def update_from(self, letters: tuple[DeadLetterView, ...]) -> None:
        """Show these dead letters."""
        if letters == self._last:
            return
        self._last = letters
        self.letters = {d.msg: d for d in letters}
        self.sync([(d.msg, (
            Text(fmt.shown(d.msg), style="bold red"),
            Text(f"✗ {fmt.shown(d.reason)}", style="red"),
            Text(fmt.shown(d.error), style="red"),
            Text(str(d.attempts), style="bold"),
            Text(fmt.shown(f"{d.source} → {d.channel}"), style="dim"),
            Text(fmt.vtime(d.t)),
            Text(fmt.shown(d.key), style="dim"),
        )) for d in letters])

    def selected(self) -> DeadLetterView | None:
        """The dead letter under the cursor."""
        key = self.key_at_cursor()
        return self.letters.get(key) if key else None
