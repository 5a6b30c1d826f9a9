"""Commands the UI sends the engine host, and the recorded interventions a replay repeats.

The UI talks to the engine only through these: they go on the host's queue and
are carried out between kernel events, on the engine's thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evtool.core.events import TraceEvent


@dataclass(frozen=True)
class Pause:
    """Stop virtual time."""


@dataclass(frozen=True)
class Resume:
    """Let virtual time run again."""


@dataclass(frozen=True)
class TogglePause:
    """Pause when running, resume when paused."""


@dataclass(frozen=True)
class Step:
    """Pause (if running) and process exactly `events` kernel events."""

    events: int = 1


@dataclass(frozen=True)
class SetSpeed:
    """Virtual seconds per wall second (`math.inf`: as fast as possible)."""

    speed: float


@dataclass(frozen=True)
class Faster:
    """The next speed step up."""


@dataclass(frozen=True)
class Slower:
    """The next speed step down."""


@dataclass(frozen=True)
class InjectFault:
    """A fault by hand: same fields as a scenario fault (`for` spelled `for`)."""

    action: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Redrive:
    """Send dead letters (one, or all when `msg` is None) back to their channel."""

    channel: str
    msg: str | None = None


@dataclass(frozen=True)
class Seek:
    """Move virtual time to `t_ns` (by `t_ns` when `relative`); back means: rebuild and run there
    as fast as possible. Then pause."""

    t_ns: int
    relative: bool = False


@dataclass(frozen=True)
class Quit:
    """Stop the host's thread."""


Command = Pause | Resume | TogglePause | Step | SetSpeed | Faster | Slower | InjectFault | Redrive | Seek | Quit



def interventions_from_events(events: Sequence[TraceEvent]) -> list[tuple[int, str, dict[str, Any]]]:
    """Rebuild `Engine.interventions` from recorded `user_intervention` events (for a replay)."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    for ev in events:
        if ev.kind != "user_intervention":
            continue
        data = dict(ev.data or {})
        if data.get("action") == "redrive":
            out.append((ev.t, "redrive", {"channel": ev.channel, "msg": ev.msg}))
        elif isinstance(data.get("fault"), dict):
            out.append((ev.t, "fault", dict(data["fault"])))
        else:
            out.append((ev.t, "fault", data))
    return out
