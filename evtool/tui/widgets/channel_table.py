"""The channels panel: ready, in flight, delayed, acked, dead, expired, and a depth sparkline."""

from __future__ import annotations

from rich.text import Text

from evtool.sim.snapshot import ChannelView
from evtool.tui import format as fmt
from evtool.tui.widgets.row_table import RowTable

SPARK_WIDTH = 10


class ChannelTable(RowTable):
    """One row per channel, keyed by channel name."""

    COLUMNS = (("channel", "channel"), ("ready", "○ ready"), ("in_flight", "● flight"), ("delayed", "↻ delay"),
               ("acked", "✓ acked"), ("dead", "✗ dead"), ("expired", "⊘ exp"), ("depth", "depth"))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._last: tuple[ChannelView, ...] | None = None

    def update_from(self, channels: tuple[ChannelView, ...]) -> None:
        """Show these channels (no work when nothing changed)."""
        if channels == self._last:
            return
        self._last = channels
        rows = []
        for c in channels:
            if c.role == "router":
                continue
            sym, style = fmt.HEALTH.get(c.health, ("?", ""))
            name = Text(fmt.shown(c.name), style="bold" if c.role != "dead_letter" else "red")
            name.append(f" {sym}", style=style)
            dead = Text(fmt.count(c.dead_lettered), style="bold red" if c.dead_lettered else "dim")
            if c.role == "dead_letter":
                dead = Text(f"{c.ready} held", style="bold red" if c.ready else "dim")
            rows.append((c.name, (
                name,
                Text(fmt.count(c.ready), style="blue" if c.ready else "dim"),
                Text(fmt.count(c.in_flight), style="yellow" if c.in_flight else "dim"),
                Text(fmt.count(c.delayed), style="magenta" if c.delayed else "dim"),
                Text(fmt.count(c.acked), style="green" if c.acked else "dim"),
                dead,
                Text(fmt.count(c.expired), style="dim"),
                Text(f"{fmt.sparkline(c.depth_series, SPARK_WIDTH):<{SPARK_WIDTH}} {c.depth}", style="cyan"),
            )))
        self.sync(rows)
