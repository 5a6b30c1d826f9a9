"""Small text formatters shared by the reports: virtual times, durations, one-line event descriptions."""

from __future__ import annotations

from typing import Any

from evtool.core.events import TraceEvent


def fmt_t(ns: int) -> str:
    """A virtual instant, as seconds with millisecond precision: `12.345s`."""
    return f"{ns / 1e9:.3f}s"


def fmt_duration(ns: int | float) -> str:
    """A duration in the most readable unit: `850µs`, `12.5ms`, `3.20s`, `2m05s`."""
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


def who(e: TraceEvent) -> str:
    """The actor and instance of an event: `billing#2`, `checkout`, or ``""``."""
    if e.actor is None:
        return ""
    return f"{e.actor}#{e.instance}" if e.instance is not None else e.actor


def _d(e: TraceEvent, name: str, default: Any = None) -> Any:
    return e.data.get(name, default) if e.data else default


def describe(e: TraceEvent) -> str:
    """One line saying what an event means for its message, for lifecycles and lists."""
    k = e.kind
    if k == "published":
        parts = [f"published to {e.channel}" + (f" by {e.actor}" if e.actor else "")]
        if _d(e, "type"):
            parts.append(f"type {_d(e, 'type')}")
        if _d(e, "seq") is not None:
            parts.append(f"seq {_d(e, 'seq')}")
        if _d(e, "causation_id"):
            parts.append(f"caused by {_d(e, 'causation_id')}")
        if _d(e, "correlation_id"):
            parts.append(f"correlation {_d(e, 'correlation_id')}")
        return ", ".join(parts)
    if k == "enqueued":
        return f"ready on {e.channel}"
    if k in ("delivered", "redelivered"):
        return f"delivered to {who(e)} from {e.channel} (attempt {e.attempt})"
    if k == "failed":
        retry = _d(e, "retryable")
        note = "" if retry is None else (", retryable" if retry else ", not retryable")
        return f"failed in {who(e)}: {_d(e, 'error', 'error')}{note}"
    if k == "retry_scheduled":
        delay = _d(e, "delay")
        return f"retry scheduled in {fmt_duration(delay) if delay is not None else '?'} ({_d(e, 'mode', 'retry')})"
    if k == "delayed":
        until = _d(e, "until")
        return "delayed" + (f" until {fmt_t(until)}" if until is not None else "")
    if k == "dead_lettered":
        return (f"dead-lettered to {e.channel} (reason {_d(e, 'reason', '?')}, from {_d(e, 'from', '?')}, "
                f"after {_d(e, 'count', e.attempt)} deliveries)")
    if k == "redriven":
        return f"redriven to {e.channel}" + (f" from {_d(e, 'from')}" if _d(e, "from") else "")
    if k in ("handled", "acked"):
        return f"{k} by {who(e)}" + (" (duplicate)" if _d(e, "duplicate") else "")
    if k == "returned":
        return f"returned to {e.channel} ({_d(e, 'reason', '?')})"
    text = k.replace("_", " ")
    where = " ".join(x for x in (e.channel and f"on {e.channel}", who(e) and f"by {who(e)}") if x)
    extra = ", ".join(f"{a}={b}" for a, b in (e.data or {}).items())
    return " ".join(x for x in (text, where, f"({extra})" if extra else "") if x)
