"""The header: scenario, virtual clock, speed, running or paused, seed, events; and the replay scrubber."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from evtool.sim.snapshot import Snapshot
from evtool.tui import format as fmt


def run_state(snap: Snapshot) -> tuple[str, str]:
    """The run's state word with its symbol, and its colour."""
    if snap.outcome is not None:
        sym, style = {"passed": ("✓", "bold green"), "failed": ("✗", "bold red")}.get(snap.outcome, ("?", "yellow"))
        return f"{sym} {snap.outcome}", style
    if snap.paused:
        return "‖ paused", "bold yellow"
    return "▶ running", "bold green"


class RunStatus(Static):
    """One line: what runs, where virtual time is, how fast, and whether it runs."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._key: tuple[object, ...] | None = None

    def update_from(self, snap: Snapshot) -> None:
        """Show this snapshot's status."""
        key = (snap.title, snap.now_ns, snap.speed, snap.paused, snap.outcome, snap.events, snap.paused_by,
               snap.phase, int(snap.events_per_s))
        if key == self._key:
            return
        self._key = key
        word, style = run_state(snap)
        t = Text()
        t.append(" ⏮ replay " if snap.replay else " evtool ", style="reverse bold")
        t.append(" ")
        t.append(word, style=style)
        t.append(f" {fmt.speed(snap.speed)}", style="bold")
        if snap.paused_by and snap.outcome is None:
            t.append(f" ({fmt.shown(snap.paused_by)})", style="yellow")
        t.append(" │ ", style="dim")
        t.append(f"t {fmt.vtime(snap.now_ns)}", style="bold cyan")
        if snap.phase == "drain":
            t.append(" draining", style="dim")
        t.append(" │ ", style="dim")
        t.append(f"seed {snap.seed}")
        t.append(" │ ", style="dim")
        t.append(f"{fmt.count(snap.events)} ev", style="dim")
        if snap.events_per_s >= 1 and not snap.paused and snap.outcome is None:
            t.append(f" {fmt.count(int(snap.events_per_s))}/s", style="dim")
        t.append(" │ ", style="dim")
        t.append(fmt.shown(snap.title), style="bold")
        self.update(t, layout=False)  # one line, always: no layout pass for a new clock reading


class Scrubber(Static):
    """The time line of the run: where virtual time is between 0 and the end (replay: `<` `>` seek)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._key: tuple[object, ...] | None = None

    def update_from(self, snap: Snapshot, end_ns: int) -> None:
        """Draw the bar for virtual time `snap.now_ns` out of `end_ns`."""
        width = max(10, self.size.width - 34)
        key = (snap.now_ns, end_ns, width, snap.replay)
        if key == self._key:
            return
        self._key = key
        frac = min(1.0, snap.now_ns / end_ns) if end_ns > 0 else 0.0
        pos = int(frac * (width - 1))
        t = Text(" ")
        t.append("━" * pos, style="cyan")
        t.append("●", style="bold cyan")
        t.append("─" * (width - 1 - pos), style="dim")
        t.append(f" {fmt.vtime(snap.now_ns, 1)} / {fmt.vtime(end_ns, 1)}", style="bold")
        if snap.replay:
            t.append("  < > seek  , . ±1s", style="dim")
        self.update(t, layout=False)
