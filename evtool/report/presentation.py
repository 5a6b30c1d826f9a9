"""How evtool shows things, in one place: the colour (and symbol) of every trace kind, message state,
instance state, health, check verdict, run outcome and lesson level, and how times, durations, rates
and actors are written.

The reports (`evtool run`, `show`, `inspect`, `diff`, exports), the command line and the dashboard all
take their styles and formats from here, so a word looks the same wherever it appears. Colours carry
meaning and every coloured verdict also has a symbol, so the output reads the same in a monochrome
terminal. Pure data and functions: no Rich or Textual import.
"""

from __future__ import annotations

import math
from typing import Any

from evtool.core.events import TraceEvent

# --------------------------------------------------------------------------- styles

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
"""The colour of each trace kind (event log, message inspector, `evtool inspect`)."""

STATE_STYLE: dict[str, str] = {
    "ready": "bold blue",
    "inflight": "bold yellow",
    "retry": "bold magenta",
    "acked": "green",
    "dead": "bold red",
    "expired": "dim",
    "dropped": "dim",
}
"""The colour of each message state (the symbol is `sim.snapshot.STATE_SYMBOLS`)."""

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

STATUS_COLOUR: dict[str | None, str] = {**{k: v[1] for k, v in CHECK_STATUS.items()}, None: "dim"}
"""The colour of a check's verdict alone (None: the check is missing from a run)."""

OUTCOME_STYLE: dict[str, str] = {
    "passed": "green", "failed": "red", "unknown": "yellow", "interrupted": "yellow", "crashed": "bold red",
    "incomplete": "dim", "running": "cyan", "died": "bold red", "partial": "bold yellow",
}
"""The colour of a run's outcome (or, for a run without one, its state)."""

LEVEL_STYLE: dict[str, str] = {"beginner": "green", "intermediate": "yellow", "advanced": "red"}
"""The colour of a lesson's level."""


def check_status(status: str) -> tuple[str, str]:
    """Symbol and colour of a check verdict (`?` in yellow for one not known)."""
    return CHECK_STATUS.get(status, ("?", "yellow"))


def outcome_headline_style(outcome: str) -> str:
    """The style of a run's outcome as the headline of its report (bold)."""
    colour = OUTCOME_STYLE.get(outcome)
    if colour is None:
        return "bold"
    return colour if colour.startswith("bold") else f"bold {colour}"


# --------------------------------------------------------------------------- times and durations


def fmt_t(ns: int) -> str:
    """A virtual instant, as seconds with millisecond precision: `12.345s`."""
    return f"{ns / 1e9:.3f}s"


def vtime(ns: int, precision: int = 3) -> str:
    """Virtual time on a clock: seconds (``23.130s``), or ``m:ss.mmm`` past a minute."""
    s = ns / 1e9
    if s < 60:
        return f"{s:.{precision}f}s"
    minutes, sec = divmod(s, 60)
    return f"{int(minutes)}:{sec:0{3 + precision}.{precision}f}"


def fmt_duration(ns: int | float) -> str:
    """A duration in the most readable unit, for reports: `850µs`, `12.5ms`, `3.20s`, `2m05s`."""
    ns = float(ns)
    if ns < 1e6:
        return f"{ns / 1e3:.0f}µs"
    if ns < 1e9:
        return f"{ns / 1e6:.3g}ms"
    if ns < 60e9:
        return f"{ns / 1e9:.2f}s"
    minutes, seconds = divmod(ns / 1e9, 60)
    if minutes < 60:
        return f"{int(minutes)}m{seconds:02.0f}s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)}h{int(minutes):02d}m"


def short_duration(ns: int) -> str:
    """A short duration for a narrow column (the dashboard): ``850ms``, ``2.4s``, ``1m05s``."""
    if ns < 0:
        return "-" + short_duration(-ns)
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.0f}ms"
    s = ns / 1e9
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    return f"{m}m{sec:02d}s"


def fmt_ms(value: Any) -> str:
    """A latency in milliseconds (as the summary stores it) in a readable unit, or `—`."""
    if value is None:
        return "—"
    return fmt_duration(float(value) * 1e6)


def latency_ms(value: Any) -> str:
    """A latency in milliseconds for the run summary's tables: `12.3ms`, `1.25s`, or `–`."""
    if value is None:
        return "–"
    if value >= 1000:
        return f"{value / 1000:.2f}s"
    return f"{value:.1f}ms"


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


# --------------------------------------------------------------------------- actors


def who(e: TraceEvent) -> str:
    """The actor and instance of an event: `billing#2`, `checkout`, or ``""``."""
    if e.actor is None:
        return ""
    return f"{e.actor}#{e.instance}" if e.instance is not None else e.actor
