"""The topology as a graph: producers → channels → consumer groups, with their numbers and moving messages.

Each channel is a block: who publishes into it, then one branch per way out,
each on its own line so that no branch disappears at 80 columns:

* a queue: one branch per consumer (instances up/total, health, rate);
* a topic: a fork, one branch per consumer group, with the group's name, its
  backlog and its lag;
* a log: one branch per group, then its partitions, each with its number,
  its current owner and its lag;
* a router: one branch per binding (pattern → target);
* a dead-letter edge from the channel (or the consumer) where messages die.

Messages in motion: at teaching speeds (up to `MOTION_MAX_SPEED`), every
edge shows a glyph per message that crossed it in the last moment, moving
from left to right and coloured by state (first delivery, redelivery, dead
letter, redrive); at higher speeds, or when an edge is crowded, the edge
shows its rate instead. The glyphs are placed by virtual time, so pausing
freezes them and stepping moves them by one event.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from evtool.core.textsafe import visible
from evtool.scenario import models as m
from evtool.sim.snapshot import ChannelView, ConsumerView, Snapshot
from evtool.tui import format as fmt
from evtool.tui.flow import FlowTracker, Hop

TRACK = 7
"""Cells of an edge's track (where messages move)."""
MOTION_MAX_SPEED = 5.0
"""Above this speed the edges show rates, not single messages."""
HOP_GLYPH: dict[str, tuple[str, str]] = {
    "pub": ("○", "bold blue"),
    "first": ("●", "bold yellow"),
    "retry": ("●", "bold magenta"),
    "dead": ("✗", "bold red"),
    "redrive": ("⟲", "bold cyan"),
}
"""The glyph and colour of a moving message: published, first delivery, redelivery, dead letter, redrive."""


def _channels_named(data: object, channels: set[str]) -> list[str]:
    """The channel names found among the string values of a pattern's settings, in order, once each."""
    found: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, str):
            if v in channels and v not in found:
                found.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk(data)
    return found


def travel_ns(speed: float) -> int:
    """How long (virtual time) a glyph takes to cross an edge: about half a wall second at teaching speeds."""
    return int(min(2e9, max(2e7, speed * 0.6e9)))


def track(hops: list[Hop], now_ns: int, speed: float, rate: str, style: str, cells: int = TRACK,
          motion: bool = True) -> Text:
    """An edge's track: moving glyphs at teaching speeds, else its rate; `cells` wide, then the arrow head."""
    t = Text()
    span = travel_ns(speed)
    if motion and hops and len(hops) <= cells:  # beyond that the edge is a solid blur: its rate says more
        slots: list[tuple[str, str] | None] = [None] * cells
        for hop in hops:
            pos = min(cells - 1, int((now_ns - hop.t) / span * cells))
            kind = "pub" if hop.edge[0] == "pub" else hop.state
            slots[pos] = HOP_GLYPH.get(kind, ("●", "bold"))
        for s in slots:
            t.append(*(s if s else ("─", style)))
    else:
        label = rate[: cells - 2] if rate else ""
        pad = cells - len(label)
        t.append("─" * (pad // 2) + label + "─" * (pad - pad // 2), style=style)
    t.append("▶", style=style)
    return t


class TopologyView(Static):
    """The topology graph (see the module docstring)."""

    def __init__(self, scenario: m.Scenario, flow: FlowTracker | None = None, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.scenario = scenario
        self.flow = flow or FlowTracker()
        self._key: tuple[object, ...] | None = None
        self._snap: Snapshot | None = None
        self._lines = -1
        # Who publishes into each channel: producers, consumers that emit or reply there, routers.
        self.feeders: dict[str, list[str]] = {}
        for name, p in scenario.producers.items():
            self.feeders.setdefault(p.to, []).append(name)
        self.emits: dict[str, list[str]] = {}
        for name, c in scenario.consumers.items():
            for e in c.emit:
                if name not in self.feeders.setdefault(e.to, []):
                    self.feeders[e.to].append(name)
                if e.to not in self.emits.setdefault(name, []):
                    self.emits[name].append(e.to)
        # Patterns publish and consume too: a saga (trigger, commands, replies), a request/reply pair.
        self.pattern_readers: dict[str, list[str]] = {}
        for name, p in scenario.patterns.items():
            if isinstance(p, m.SagaPattern):
                self.pattern_readers.setdefault(p.trigger.from_, []).append(f"saga {name}")
                if p.reply_channel:
                    self.pattern_readers.setdefault(p.reply_channel, []).append(f"saga {name} (replies)")
                for step in p.steps:
                    for cmd in (step.send, step.compensate):
                        if cmd is not None and name not in self.feeders.get(cmd.to, []):
                            self.feeders.setdefault(cmd.to, []).append(name)
            elif isinstance(p, m.RequestReplyPattern):
                self.feeders.setdefault(p.channel, []).append(p.requester.name)
                if p.responder.name not in scenario.consumers:
                    self.pattern_readers.setdefault(p.channel, []).append(f"{p.responder.name} (responder)")
            else:  # any other pattern: the channels it names (it reads or writes them)
                for ch in _channels_named(p.model_dump(by_alias=True, warnings=False), set(scenario.channels)):
                    self.pattern_readers.setdefault(ch, []).append(f"{name} ({getattr(p, 'type', 'pattern')})")
        self.routes: dict[str, list[tuple[str, str]]] = {}
        for name, ch in scenario.channels.items():
            if isinstance(ch, m.RouterChannel):
                self.routes[name] = [(b.pattern or "*", b.to) for b in ch.bindings]
                for b in ch.bindings:
                    self.feeders.setdefault(b.to, []).append(name)

    def on_resize(self) -> None:
        """Lay the graph out for the new width."""
        if self._snap is not None:
            self._key = None
            self.update_from(self._snap)

    def update_from(self, snap: Snapshot) -> None:
        """Draw the graph for this snapshot."""
        self._snap = snap
        motion = snap.speed <= MOTION_MAX_SPEED
        key = (snap.channels, snap.consumers, snap.producers, self.size.width,
               (snap.now_ns, self.flow.version) if motion or any(c.kind == "log" for c in snap.channels) else None)
        if key == self._key:
            return
        self._key = key
        graph = self.graph(snap, max(40, self.size.width or 80))
        lines = graph.plain.count("\n") + 1
        # Lines are cut to the width, so only a new number of lines changes the layout.
        self.update(graph, layout=lines != self._lines)
        self._lines = lines

    # ------------------------------------------------------------------ drawing

    def graph(self, snap: Snapshot, width: int) -> Text:
        """The whole graph as text, at most `width` columns a line."""
        motion = snap.speed <= MOTION_MAX_SPEED
        hops = self.flow.recent_hops(snap.now_ns, travel_ns(snap.speed)) if motion else []
        by_edge: dict[tuple[str, str, str], list[Hop]] = {}
        for hop in hops:
            by_edge.setdefault(hop.edge, []).append(hop)
        lines: list[Text] = []
        channels = {c.name: c for c in snap.channels}
        consumers = {c.name: c for c in snap.consumers}
        prod_rate = {p.name: p.rate for p in snap.producers}
        for name, spec in self.scenario.channels.items():
            ch = channels.get(name)
            if ch is None or ch.role == "dead_letter":
                continue
            lines.append(self._head(ch, spec, prod_rate, by_edge, snap))
            branches = self._branches(ch, spec, consumers, channels, by_edge, snap, width)
            for i, (label, extra) in enumerate(branches):
                last = i == len(branches) - 1
                line = Text("   " + ("└" if last else "├"), style="dim")
                line.append_text(label)
                lines.append(line)
                for more in extra:
                    cont = Text("   " + (" " if last else "│") + "     ", style="dim")
                    cont.append_text(more)
                    lines.append(cont)
        out = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(lines):
            if i:
                out.append("\n")
            line.truncate(width, overflow="ellipsis")
            out.append_text(line)
        return out

    def _head(self, ch: ChannelView, spec: object, prod_rate: dict[str, float],
              by_edge: dict[tuple[str, str, str], list[Hop]], snap: Snapshot) -> Text:
        t = Text()
        feeders = self.feeders.get(ch.name, [])
        if feeders:
            shown = [f for f in feeders if f not in self.routes][:3] or feeders[:3]
            t.append(visible(", ".join(shown)) + (" …" if len(feeders) > len(shown) else ""), style="bold")
            rate = sum(prod_rate.get(f, 0.0) for f in feeders) if any(f in prod_rate for f in feeders) \
                else ch.rate_in
            hops = [h for f in feeders for h in by_edge.get(("pub", f, ch.name), [])]
            t.append(" ")
            t.append_text(track(hops, snap.now_ns, snap.speed, fmt.rate(rate), "blue",
                                motion=snap.speed <= MOTION_MAX_SPEED))
            t.append(" ")
        sym, style = fmt.HEALTH.get(ch.health, ("?", ""))
        t.append(visible(ch.name), style="bold")
        kind = ch.kind
        if isinstance(spec, m.LogChannel):
            kind = f"log, {spec.partitions} partition{'s' if spec.partitions != 1 else ''}"
        elif isinstance(spec, m.RouterChannel):
            kind = f"{spec.type} router"
        t.append(f" ({kind}) ", style="dim")
        t.append(sym, style=style)
        if ch.depth:
            t.append(f" {ch.depth} waiting", style="cyan")
        retries = by_edge.get(("retry", ch.name, ch.name), [])
        if retries:
            t.append(" ")
            t.append("↻" * min(5, len(retries)), style="bold magenta")
        return t

    def _consumer_label(self, c: ConsumerView, extra: str = "") -> Text:
        up = sum(1 for x in c.instances if x.state not in ("crashed", "stopped"))
        csym, cstyle = fmt.HEALTH.get(c.health, ("?", ""))
        t = Text()
        t.append(visible(c.name), style="bold")
        t.append(f" {up}/{len(c.instances)} ", style="dim")
        t.append(csym, style=cstyle)
        if extra:
            t.append(extra, style="cyan")
        for to in self.emits.get(c.name, []):
            t.append(" ─emit─▶ ", style="cyan")
            t.append(visible(to), style="bold")
        return t

    def _branches(self, ch: ChannelView, spec: object, consumers: dict[str, ConsumerView],
                  channels: dict[str, ChannelView], by_edge: dict[tuple[str, str, str], list[Hop]],
                  snap: Snapshot, width: int) -> list[tuple[Text, list[Text]]]:
        motion = snap.speed <= MOTION_MAX_SPEED
        out: list[tuple[Text, list[Text]]] = []
        mine = [c for c in consumers.values() if c.channel == ch.name]
        if isinstance(spec, m.RouterChannel):
            for pattern, to in self.routes.get(ch.name, []):
                t = Text()
                t.append(f"─ {visible(pattern)} ─▶ ", style="blue")
                t.append(visible(to), style="bold")
                out.append((t, []))
        groups: dict[str, list[ConsumerView]] = {}
        for c in mine:
            spec_c = self.scenario.consumers.get(c.name)
            group = (spec_c.group if spec_c is not None and spec_c.group else None) or c.name
            groups.setdefault(group, []).append(c)
        for group, members in groups.items():
            for c in members:
                hops = by_edge.get(("del", ch.name, c.name), [])
                t = Text()
                t.append_text(track(hops, snap.now_ns, snap.speed, fmt.rate(c.rate), "green", motion=motion))
                t.append(" ")
                extra = ""
                if isinstance(spec, m.TopicChannel):
                    flow = self.flow.group(ch.name, group, snap.now_ns)
                    t.append(f"group {visible(group)}: " if group != c.name else "", style="dim")
                    if flow is not None:
                        extra = f"  backlog {flow.backlog}  lag {fmt.duration(flow.lag_ns)}"
                t.append_text(self._consumer_label(c, extra))
                more: list[Text] = []
                if isinstance(spec, m.LogChannel):
                    more = self._partitions(ch.name, group, spec.partitions, width - 12)
                out.append((t, more))
        dlqs = []
        dl = getattr(spec, "dead_letter", None)
        if dl:
            dlqs.append((ch.name, dl))
        for c in mine:
            spec_c = self.scenario.consumers.get(c.name)
            if spec_c is not None and spec_c.dead_letter and spec_c.dead_letter != dl:
                dlqs.append((c.name, spec_c.dead_letter))
        for src, target in dlqs:
            held = channels[target].ready if target in channels else 0
            hops = by_edge.get(("dlq", ch.name, target), []) + by_edge.get(("redrive", target, ch.name), [])
            t = Text()
            t.append("✗", style="red")
            t.append_text(track(hops, snap.now_ns, snap.speed, "dead", "red", cells=TRACK - 1, motion=motion))
            t.append(" ")
            t.append(visible(target), style="bold red")
            t.append(f" ⚠ {held} held" if held else " ✓ 0", style="bold red" if held else "green")
            if src != ch.name:
                t.append(f" (from {visible(src)})", style="dim")
            out.append((t, []))
        names = {c.name for c in mine}
        for reader in self.pattern_readers.get(ch.name, []):
            if reader.split(" (")[0] in names:  # the pattern's own consumer, already drawn
                continue
            t = Text()
            t.append_text(track([], snap.now_ns, snap.speed, fmt.rate(ch.rate_out), "green", motion=False))
            t.append(" ")
            t.append(visible(reader), style="bold")
            out.insert(len(out) - len(dlqs), (t, []))
        if not out:
            out.append((Text("─ nobody consumes it", style="yellow"), []))
        return out

    def _partitions(self, channel: str, group: str, count: int, width: int) -> list[Text]:
        parts = self.flow.partitions(channel, group, count)
        lines: list[Text] = []
        line = Text()
        for p in parts:
            owner = p.owner.rsplit("#", 1)[-1] if p.owner else "-"
            cell = Text()
            cell.append(f"p{p.partition}", style="bold")
            cell.append(f"→#{owner}", style="cyan" if p.owner else "red")
            cell.append(f" lag {p.lag}" if p.lag else " ✓", style="yellow" if p.lag else "green")
            if line.cell_len and line.cell_len + 2 + cell.cell_len > width:
                lines.append(line)
                line = Text()
            if line.cell_len:
                line.append("  ")
            line.append_text(cell)
        if line.cell_len:
            lines.append(line)
        return lines
