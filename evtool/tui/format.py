"""Formatting for the dashboard: what only the dashboard draws (sparklines, event details), on top of
`report.presentation`, where the styles of kinds, states and verdicts and the formats of times,
durations, rates and actors live for every part of evtool (re-exported here). No Textual import.
"""

from __future__ import annotations

from evtool.core.events import TraceEvent
from evtool.core.textsafe import visible
from evtool.report.presentation import (
    CHECK_STATUS,
    HEALTH,
    INSTANCE_STATE,
    KIND_STYLE,
    STATE_STYLE,
    rate,
    short_duration,
    speed,
    vtime,
)
from evtool.sim.faults import fault_words
from evtool.sim.snapshot import STATE_SYMBOLS

__all__ = ["CHECK_STATUS", "HEALTH", "INSTANCE_STATE", "KIND_STYLE", "STATE_STYLE", "actor_label", "count",
           "duration", "event_detail", "rate", "sparkline", "speed", "state_symbol", "vtime"]

SPARK = "▁▂▃▄▅▆▇█"

duration = short_duration
"""A short duration: ``850ms``, ``2.4s``, ``1m05s`` (`report.presentation.short_duration`)."""



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
        spec = d.get("fault")
        if isinstance(spec, dict):  # a fault injected by hand or placed by `evtool explore`: say which
            parts.extend(fault_words(spec))
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
