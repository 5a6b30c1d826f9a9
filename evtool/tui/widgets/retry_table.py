"""The retry scheduler: pending retries with their countdown in virtual time."""

from __future__ import annotations

from rich.text import Text

from evtool.sim.snapshot import RetryView
from evtool.tui import format as fmt
from evtool.tui.widgets.keyed_table import KeyedTable


class RetryTable(KeyedTable):
    """One row per pending retry, soonest first; the countdown is `due - now` in virtual time."""

    COLUMNS = (("msg", "message"), ("attempt", "next attempt"), ("due", "in"), ("delay", "backoff"),
               ("error", "last error"), ("consumer", "consumer"), ("key", "key"))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._last: tuple[tuple[RetryView, ...], int] | None = None

    def update_from(self, retries: tuple[RetryView, ...], now: int) -> None:
        """Show the pending retries at virtual time `now`."""
        if (retries, now) == self._last:
            return
        self._last = (retries, now)
        rows = []
        for r in retries:
            left = r.due_ns - now
            of = f"/{r.max_attempts}" if r.max_attempts else ""
            last = r.max_attempts is not None and r.next_attempt >= r.max_attempts
            rows.append((r.msg, (
                Text(fmt.shown(r.msg), style="bold magenta"),
                Text(f"↻ {r.next_attempt}{of}", style="bold red" if last else "magenta"),
                Text(f"⏱ {fmt.duration(left)}" if left > 0 else "due", style="bold" if left > 0 else "yellow"),
                Text(fmt.duration(r.delay_ns), style="dim"),
                Text(fmt.shown(r.error), style="red"),
                Text(fmt.shown(r.consumer)),
                Text(fmt.shown(r.key), style="dim"),
            )))
        self.sync(rows)
