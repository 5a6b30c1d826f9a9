"""The consumers panel: each instance's state, in flight against prefetch, processed, failed."""

from __future__ import annotations

from rich.text import Text

from evtool.sim.snapshot import ConsumerView
from evtool.tui import format as fmt
from evtool.tui.widgets.row_table import RowTable


class ConsumerTable(RowTable):
    """One row per consumer instance (``billing#0``)."""

    COLUMNS = (("instance", "consumer"), ("state", "state"), ("in_flight", "in flight"),
               ("processed", "processed"), ("failed", "failed"), ("rate", "rate"))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._last: tuple[ConsumerView, ...] | None = None

    def update_from(self, consumers: tuple[ConsumerView, ...]) -> None:
        """Show these consumers' instances."""
        if consumers == self._last:
            return
        self._last = consumers
        rows = []
        for c in consumers:
            for i in c.instances:
                sym, style = fmt.INSTANCE_STATE.get(i.state, ("?", ""))
                state = Text(f"{sym} {i.state}", style=style)
                if i.slow != 1.0:
                    state.append(f" ×{i.slow:g} slow", style="yellow")
                bar = "▮" * min(i.in_flight, 8) + "▯" * max(0, min(i.prefetch, 8) - min(i.in_flight, 8))
                rows.append((i.name, (
                    Text(fmt.shown(i.name), style="bold"),
                    state,
                    Text(f"{i.in_flight}/{i.prefetch} {bar}", style="yellow" if i.in_flight else "dim"),
                    Text(fmt.count(i.processed), style="green"),
                    Text(fmt.count(i.failed), style="red" if i.failed else "dim"),
                    Text(fmt.rate(c.rate / max(1, len(c.instances))), style="dim"),
                )))
        self.sync(rows)
