"""The topology: producers → channels → consumers, with live rates and health on the edges."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from evtool.scenario import models as m
from evtool.sim.snapshot import Snapshot
from evtool.tui import format as fmt


class TopologyView(Static):
    """One line per channel: who feeds it, at what rate, its health, and who drains it."""

    def __init__(self, scenario: m.Scenario, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.scenario = scenario
        self._key: tuple[object, ...] | None = None
        # Who publishes into each channel: producers, and consumers that emit or reply there.
        self.feeders: dict[str, list[str]] = {}
        for name, p in scenario.producers.items():
            self.feeders.setdefault(p.to, []).append(name)
        for name, c in scenario.consumers.items():
            for e in c.emit:
                self.feeders.setdefault(e.to, []).append(name)
        self.routes: dict[str, list[str]] = {}
        for name, ch in scenario.channels.items():
            if isinstance(ch, m.RouterChannel):
                self.routes[name] = [b.to for b in ch.bindings]
                for b in ch.bindings:
                    self.feeders.setdefault(b.to, []).append(name)

    def update_from(self, snap: Snapshot) -> None:
        """Draw the graph with this snapshot's rates and health."""
        key = (snap.channels, snap.consumers, snap.producers)
        if key == self._key:
            return
        self._key = key
        prod_rate = {p.name: p.rate for p in snap.producers}
        cons = {c.name: c for c in snap.consumers}
        by_channel: dict[str, list[str]] = {}
        for c in snap.consumers:
            by_channel.setdefault(c.channel, []).append(c.name)
        t = Text(no_wrap=True, overflow="ellipsis")
        first = True
        for ch in snap.channels:
            if ch.role == "dead_letter":
                continue
            if not first:
                t.append("\n")
            first = False
            feeders = self.feeders.get(ch.name, [])
            if feeders:
                t.append(", ".join(feeders), style="bold")
                r = sum(prod_rate.get(f, 0.0) for f in feeders) if any(f in prod_rate for f in feeders) \
                    else ch.rate_in
                t.append(f" ─{fmt.rate(r)}─▶ ", style="blue")
            sym, style = fmt.HEALTH.get(ch.health, ("?", ""))
            t.append(f"[{ch.name} ", style="bold")
            t.append(sym, style=style)
            if ch.depth:
                t.append(f" {ch.depth}", style="cyan")
            t.append("]", style="bold")
            if ch.role == "router":
                t.append(" ─▶ " + ", ".join(self.routes.get(ch.name, [])), style="dim")
            for i, cname in enumerate(by_channel.get(ch.name, [])):
                c = cons[cname]
                up = sum(1 for x in c.instances if x.state not in ("crashed", "stopped"))
                csym, cstyle = fmt.HEALTH.get(c.health, ("?", ""))
                t.append(" ─" if i == 0 else " ┬", style="green")
                t.append(f"{fmt.rate(c.rate)}─▶ ", style="green")
                t.append(cname, style="bold")
                t.append(f" {up}/{len(c.instances)} ", style="dim")
                t.append(csym, style=cstyle)
            spec = self.scenario.channels.get(ch.name)
            dlq = getattr(spec, "dead_letter", None)
            if dlq:
                dl = next((x for x in snap.channels if x.name == dlq), None)
                held = dl.ready if dl else 0
                t.append(f"\n{' ' * 4}└─✗ dead letters ─▶ ", style="red")
                t.append(f"[{dlq}", style="bold red")
                t.append(f" ⚠ {held}]" if held else " ✓ 0]", style="bold red" if held else "green")
        self.update(t)
