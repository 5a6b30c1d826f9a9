"""The engine host: runs an engine beside a UI and publishes immutable snapshots.

The package: `commands` (what the UI may ask, and recorded interventions),
`fold` (trace batches folded into bounded structures), `lesson` (lesson steps
matched on the trace), `snapshots` (the engine's state frozen into views) and
`engine_host` (`EngineHost`, the thread and the loop that ties them together).

Shape (why each part is there):

* The engine runs in the host's own thread (or, in manual mode, only when a
  test calls `tick`), paced by a `Pacer`. Nothing about pacing changes the
  trace.
* The UI talks to the engine only through imperative commands on a queue
  (`Pause`, `Resume`, `Step`, `SetSpeed`, `InjectFault`, `Redrive`, `Seek`,
  `Quit`); they are carried out between kernel events, on the engine's
  thread.
* The host is a listener of the engine: each flushed batch of trace events is
  folded into bounded structures (`TraceFold`: a ring of recent events, a
  window of message lifecycles, lanes, pending retries, dead letters), and
  lesson triggers are matched on the same batches (`LessonTracker`). The
  host flushes after each slice of work, so the fold never lags far behind.
* A few dozen times a second at most, the host freezes those structures into
  a `Snapshot` and swaps a reference; the UI pulls the latest whenever it
  likes. The UI never receives one message per trace event.

Lesson steps are matched here, on the host's side of the trace, and never
emitted into it: a run traces the same with or without the dashboard. A step
with `pause: true` pauses the host right after the event that triggered it
(the host advances one kernel event at a time while such a step is pending).
"""


from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evtool.sim.host.commands import (
        Command,
        Faster,
        InjectFault,
        Pause,
        Quit,
        Redrive,
        Resume,
        Seek,
        SetSpeed,
        Slower,
        Step,
        TogglePause,
        interventions_from_events,
    )
    from evtool.sim.host.engine_host import SLICE_EVENTS, EngineHost
    from evtool.sim.host.fold import (
        LANE_CELLS,
        LIFECYCLE_EVENTS,
        MAX_DEAD_LETTERS,
        MAX_RETRIES,
        MESSAGE_WINDOW,
        ORDER_KEYS,
        RECENT_EVENTS,
        SHOWN_DEAD_LETTERS,
        SHOWN_RETRIES,
        TraceFold,
    )
    from evtool.sim.host.lesson import LessonTracker, describe_trigger

# Each name is imported from its module when first used (PEP 562), so that a part of the package (the
# lesson tracker `evtool run` narrates with) does not load the rest (the host, its engine and its fold).
_WHERE = {
    **dict.fromkeys(("Command", "Faster", "InjectFault", "Pause", "Quit", "Redrive", "Resume", "Seek", "SetSpeed",
                     "Slower", "Step", "TogglePause", "interventions_from_events"), "commands"),
    **dict.fromkeys(("SLICE_EVENTS", "EngineHost"), "engine_host"),
    **dict.fromkeys(("LANE_CELLS", "LIFECYCLE_EVENTS", "MAX_DEAD_LETTERS", "MAX_RETRIES", "MESSAGE_WINDOW",
                     "ORDER_KEYS", "RECENT_EVENTS", "SHOWN_DEAD_LETTERS", "SHOWN_RETRIES", "TraceFold"), "fold"),
    **dict.fromkeys(("LessonTracker", "describe_trigger"), "lesson"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "LANE_CELLS", "LIFECYCLE_EVENTS", "MAX_DEAD_LETTERS", "MAX_RETRIES", "MESSAGE_WINDOW", "ORDER_KEYS",
    "RECENT_EVENTS", "SHOWN_DEAD_LETTERS", "SHOWN_RETRIES", "SLICE_EVENTS", "Command", "EngineHost", "Faster",
    "InjectFault", "LessonTracker", "Pause", "Quit", "Redrive", "Resume", "Seek", "SetSpeed", "Slower", "Step",
    "TogglePause", "TraceFold", "describe_trigger", "interventions_from_events",
]
