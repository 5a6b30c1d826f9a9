"""Live checks: each expectation's provisional verdict (pass, fail, unknown), final at the end."""

from __future__ import annotations

from rich.text import Text

from evtool.sim.snapshot import CheckView
from evtool.tui import format as fmt
from evtool.tui.widgets.keyed_table import KeyedTable


class CheckTable(KeyedTable):
    """One row per expectation."""

    COLUMNS = (("name", "check"), ("status", "status"), ("observed", "observed"), ("expected", "expected"))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._last: tuple[CheckView, ...] | None = None
        self.checks: dict[str, CheckView] = {}

    def update_from(self, checks: tuple[CheckView, ...]) -> None:
        """Show these verdicts."""
        if checks == self._last:
            return
        self._last = checks
        self.checks = {c.name: c for c in checks}
        rows = []
        for c in checks:
            sym, style = fmt.CHECK_STATUS.get(c.status, ("?", "yellow"))
            rows.append((c.name, (Text(fmt.shown(c.name), style="bold"), Text(f"{sym} {c.status}", style=style),
                                  Text(fmt.shown(c.observed)[:70]), Text(fmt.shown(c.expected)[:70], style="dim"))))
        self.sync(rows)

    def selected(self) -> CheckView | None:
        """The check under the cursor."""
        key = self.key_at_cursor()
        return self.checks.get(key) if key else None
