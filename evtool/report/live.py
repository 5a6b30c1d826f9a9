"""The live console view of `evtool run`: clock, progress, per-channel state, retries, checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evtool.report.fmt import Packed, visible
from evtool.report.fmt import safe as escape
from evtool.report.presentation import vtime
from evtool.scenario import models as m

if TYPE_CHECKING:
    from evtool.sim.engine import Engine

_STATUS = {"pass": "[green]✓[/green]", "fail": "[red]✗[/red]", "unknown": "[yellow]?[/yellow]",
           "pending": "[dim]…[/dim]"}


def trace_events(engine: Engine) -> int:
    """The trace events of the run so far: the number the summary reports at the end (kernel steps are
    an engine detail). Buffered events count; once the run is over, so does the `run_ended` event that
    `finish` adds."""
    n = engine.digest.count + len(engine.buffer)
    if engine.phase == "done" and not engine.metrics.counts.get("run_ended") \
            and not any(e.kind == "run_ended" for e in engine.buffer):
        n += 1
    return n


def live_view(engine: Engine, *, speed: float, wall_s: float) -> RenderableType:
    """One frame of the live view."""
    now = engine.now
    total = engine.load_end
    phase = {"load": "load", "drain": "draining", "done": "done"}[engine.phase]
    head = Packed([
        Text(visible(engine.scenario.id), style="bold"),
        Text(f"t={vtime(now, 1)} / {vtime(total, 1)} ({phase})"),
        Text(f"speed {'max' if speed == float('inf') else f'{speed:g}x'}", style="dim"),
        Text(f"seed {engine.seed}", style="dim"),
        Text(f"{trace_events(engine):,} events in {wall_s:.1f}s", style="dim"),
    ])
    filled = int(40 * min(now, total) / max(total, 1))
    bar = Text("█" * filled + "░" * (40 - filled), style="cyan")
    t = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for col in ("channel", "ready", "in flight", "delayed", "acked", "dead", "expired"):
        t.add_column(col, justify="left" if col == "channel" else "right")
    for name, spec in engine.scenario.channels.items():
        if isinstance(spec, m.RouterChannel):
            continue
        s = engine.broker.stats(name)
        t.add_row(escape(name), f"{s.ready:,}", f"{s.in_flight:,}", f"{s.delayed:,}", f"{s.acked:,}",
                  f"[red]{s.dead_lettered:,}[/red]" if s.dead_lettered else "0", f"{s.expired:,}")
    counts = engine.metrics.counts
    order_breaks = sum(len(getattr(c, "violations", ())) for c in engine.checks.checkers
                       if type(c).__name__ == "PerKeyOrder")
    extra = Packed([Text(f"{name} {n:,}") for name, n in (
        ("published", counts.get("published", 0)), ("retries", counts.get("retry_scheduled", 0)),
        ("redelivered", counts.get("redelivered", 0)), ("failed", counts.get("failed", 0)),
        ("crashes", counts.get("instance_crashed", 0)), ("order breaks", order_breaks))], sep=" · ", style="dim")
    checks = Packed([Text.from_markup(f"{_STATUS.get(c['status'], '?')} {escape(c['name'])}", emoji=False)
                     for c in engine.checks.live(now)])
    return Group(head, bar, t, extra, checks)
