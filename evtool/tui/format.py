"""Formatting for the dashboard: virtual times, speeds, rates, and the colour + symbol of each state.

Colours carry meaning, and every coloured word also has a symbol, so the
dashboard reads the same in a monochrome terminal. Pure functions; no
Textual import.
"""

from __future__ import annotations

import math

from evtool.core.events import TraceEvent
from evtool.core.textsafe import visible
from evtool.sim.snapshot import STATE_SYMBOLS

SPARK = "▁▂▃▄▅▆▇█"

STATE_STYLE: dict[str, str] = {
    "ready": "bold blue",
    "inflight": "bold yellow",
    "retry": "bold magenta",
    "acked": "green",
    "dead": "bold red",
    "expired": "dim",
    "dropped": "dim",
}
"""The colour of each message state (the symbol is in `STATE_SYMBOLS`)."""

INSTANCE_STATE: dict[str, tuple[str, str]] = {
    "running": ("●", "green"),
    "busy": ("◉", "bold yellow"),
    "crashed": ("✗", "bold red"),
    "paused": ("‖", "yellow"),
    "stopped": ("○", "dim"),
}
"""Symbol and colour of a consumer instance's state."""

HEALTH: dict[str, tuple[str, str]] = {
    "ok": ("✓", "green"),
    "warn": ("⚠", "yellow"),
    "stall": ("✗", "bold red"),
    "down": ("✗", "bold red"),
    "idle": ("○", "dim"),
}
"""Symbol and colour of a channel's or consumer's health."""

CHECK_STATUS: dict[str, tuple[str, str]] = {
    "pass": ("✓", "green"),
    "fail": ("✗", "bold red"),
    "unknown": ("?", "yellow"),
}
"""Symbol and colour of a check's verdict."""

KIND_STYLE: dict[str, str] = {
    "published": "blue", "enqueued": "blue", "routed": "blue",
    "delivered": "yellow", "redelivered": "bold yellow",
    "handled": "green", "acked": "green",
    "failed": "red", "rejected": "red", "dead_lettered": "bold red", "parked": "bold red",
    "retry_scheduled": "magenta", "delayed": "magenta", "nacked": "magenta", "returned": "magenta",
    "expired": "dim", "dropped": "dim",
    "instance_crashed": "bold red", "instance_restarted": "cyan", "broker_restarted": "bold red",
    "fault_started": "bold cyan", "fault_ended": "cyan", "user_intervention": "bold cyan",
    "redriven": "bold cyan",
}
"""The colour of each trace kind in the event log."""


def vtime(ns: int, precision: int = 3) -> str:
    """Virtual time as seconds (``23.130s``), or ``m:ss.mmm`` past a minute."""
    s = ns / 1e9
    if s < 60:
        return f"{s:.{precision}f}s"
    minutes, sec = divmod(s, 60)
    return f"{int(minutes)}:{sec:0{3 + precision}.{precision}f}"


def duration(ns: int) -> str:
    """A short duration: ``850ms``, ``2.4s``, ``1m05s``."""
    if ns < 0:
        return "-" + duration(-ns)
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.0f}ms"
    s = ns / 1e9
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    return f"{m}m{sec:02d}s"


def speed(x: float) -> str:
    """A pacing speed: ``1x``, ``0.25x``, ``max``."""
    if math.isinf(x):
        return "max"
    return f"{x:g}x"


def rate(per_s: float) -> str:
    """A rate per virtual second, compact."""
    if per_s >= 1000:
        return f"{per_s / 1000:.1f}k/s"
    if per_s >= 10:
        return f"{per_s:.0f}/s"
    return f"{per_s:.1f}/s"


def count(n: int) -> str:
    """An integer with thin grouping."""
    return f"{n:,}"


def sparkline(values: tuple[int, ...] | list[int], width: int) -> str:
    """The last `width` values as block characters, scaled to their own maximum."""
    vals = list(values)[-width:]
    if not vals:
        return ""
    top = max(vals)
    if top <= 0:
        return SPARK[0] * len(vals)
    return "".join(SPARK[min(len(SPARK) - 1, int(v * (len(SPARK) - 1) / top + 0.5))] for v in vals)


def state_symbol(state: str) -> str:
    """The symbol of a message state."""
    return STATE_SYMBOLS.get(state, "?")


def event_detail(ev: TraceEvent) -> str:
    """The interesting part of an event's data, short: reason, error, delay, target, ..."""
    d = ev.data or {}
    parts: list[str] = []
    if "error" in d:
        parts.append(str(d["error"]))
    if "reason" in d:
        parts.append(str(d["reason"]))
    if "target" in d and ev.kind != "fault_started":
        parts.append(f"→ {d['target']}")
    if "to" in d:
        parts.append(f"→ {d['to']}")
    if "delay" in d and d["delay"]:
        parts.append(f"in {duration(int(d['delay']))}")
    if "action" in d:
        parts.append(str(d["action"]) + (f" {d['target']}" if "target" in d else ""))
    if "partition" in d:
        parts.append(f"p{d['partition']}")
    if d.get("duplicate"):
        parts.append("duplicate")
    if "latency" in d and ev.kind == "handled":
        parts.append(f"{duration(int(d['latency']))} e2e")
    return visible(" ".join(parts))


def shown(value: object) -> str:
    """Scenario or trace text as the dashboard shows it: control characters escaped (`visible`); empty for None.
    Put it in a `Text`, never in a markup string (for those, use `markup_safe`)."""
    return "" if value is None else visible(value)


def markup_safe(value: object) -> str:
    """Scenario or trace text for a place that parses Rich markup (a border title, an option label):
    control characters escaped and markup brackets escaped."""
    from rich.markup import escape

    return escape(shown(value))


def actor_label(ev: TraceEvent) -> str:
    """``billing#1``, ``checkout`` or empty."""
    if ev.actor is None:
        return ""
    return visible(ev.actor if ev.instance is None else f"{ev.actor}#{ev.instance}")
