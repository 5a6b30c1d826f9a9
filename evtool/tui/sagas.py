"""Saga instances as the dashboard shows them: state, step progress, and the events of each instance.

`SagaTracker` is an engine listener (it sees every trace event, on the
engine's thread, under its own lock): for each saga instance it keeps the
`saga_*` events and the events of the messages keyed by the instance (the
commands the saga sends and their replies), bounded. The saga view lists
`instances()`; the sequence view of an instance draws `events(id)`. A
replay that seeks back starts the trace again: the tracker then starts
over. No Textual import.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from evtool.core.events import TraceEvent
from evtool.scenario import models as m

MAX_SAGAS = 2000
"""Saga instances kept (the least recently touched are forgotten)."""
MAX_EVENTS = 200
"""Events kept per instance."""

STATE_STYLE: dict[str, tuple[str, str]] = {
    "running": ("▶", "bold yellow"),
    "compensating": ("↺", "bold magenta"),
    "completed": ("✓", "green"),
    "compensated": ("↺", "cyan"),
    "stuck": ("✗", "bold red"),
}
"""Symbol and colour of a saga instance's state."""


@dataclass(frozen=True)
class SagaInstance:
    """One saga instance as the saga view lists it."""

    id: str
    saga: str
    state: str  # running | compensating | completed | compensated | stuck
    done: tuple[str, ...]
    total: int
    failed: str | None
    started: int
    last: int
    trigger: str | None = None


class _Rec:
    __slots__ = ("done", "events", "failed", "last", "saga", "started", "state", "trigger")

    def __init__(self, saga: str, t: int) -> None:
        self.saga = saga
        self.state = "running"
        self.done: list[str] = []
        self.failed: str | None = None
        self.started = t
        self.last = t
        self.trigger: str | None = None
        self.events: list[TraceEvent] = []


class SagaTracker:
    """Folds the trace into saga instances (see the module docstring); call it with each batch."""

    def __init__(self, scenario: m.Scenario) -> None:
        self.steps = {name: len(p.steps) for name, p in scenario.patterns.items() if isinstance(p, m.SagaPattern)}
        self.requests = any(isinstance(p, m.RequestReplyPattern) for p in scenario.patterns.values())
        """Whether to follow request/reply conversations too (a request id is the key of every message)."""
        self._lock = threading.Lock()
        self._sagas: OrderedDict[str, _Rec] = OrderedDict()
        self._convs: OrderedDict[str, list[TraceEvent]] = OrderedDict()
        self._last_t = -1
        self.version = 0

    @property
    def active(self) -> bool:
        """Whether the scenario has sagas at all."""
        return bool(self.steps)

    def __call__(self, batch: Sequence[TraceEvent]) -> None:
        """Fold a batch of trace events (the engine calls this)."""
        if not self.steps and not self.requests:
            return
        with self._lock:
            for ev in batch:
                if ev.t < self._last_t:  # a replay seeking back: the trace starts again
                    self._sagas.clear()
                    self._convs.clear()
                self._last_t = ev.t
                if self.requests:
                    self._conversation(ev)
                if self.steps:
                    self._fold(ev)

    def _conversation(self, ev: TraceEvent) -> None:
        if ev.key is None:
            return
        conv = self._convs.get(ev.key)
        if conv is None:
            if ev.kind != "request_sent":
                return
            conv = self._convs[ev.key] = []
            while len(self._convs) > MAX_SAGAS:
                self._convs.popitem(last=False)
        if len(conv) < MAX_EVENTS:
            conv.append(ev)

    def conversation(self, key: str | None) -> list[TraceEvent]:
        """The events of the request/reply conversation whose request id is `key` (empty when none)."""
        if key is None:
            return []
        with self._lock:
            return list(self._convs.get(key, ()))

    def _fold(self, ev: TraceEvent) -> None:
        k = ev.kind
        if k.startswith("saga_") and ev.msg:
            rec = self._sagas.get(ev.msg)
            if rec is None:
                rec = _Rec(ev.actor or "saga", ev.t)
                self._sagas[ev.msg] = rec
                while len(self._sagas) > MAX_SAGAS:
                    self._sagas.popitem(last=False)
            d = ev.data or {}
            if k == "saga_started":
                rec.trigger = str(d.get("trigger")) if d.get("trigger") else None
            elif k == "saga_step_completed":
                step = str(d.get("step", "?"))
                if step not in rec.done:
                    rec.done.append(step)
            elif k == "saga_step_failed":
                rec.failed = str(d.get("step", "?"))
            elif k in ("saga_compensating", "saga_compensated", "saga_completed", "saga_stuck"):
                rec.state = k.removeprefix("saga_")
            self._add(ev.msg, rec, ev)
        elif ev.key is not None and ev.key in self._sagas:
            self._add(ev.key, self._sagas[ev.key], ev)

    def _add(self, sid: str, rec: _Rec, ev: TraceEvent) -> None:
        rec.last = ev.t
        if len(rec.events) < MAX_EVENTS:
            rec.events.append(ev)
        self._sagas.move_to_end(sid)
        self.version += 1

    def instances(self, limit: int = 500) -> list[SagaInstance]:
        """The most recently active instances, newest first."""
        with self._lock:
            items = list(self._sagas.items())[-limit:]
        return [SagaInstance(sid, r.saga, r.state, tuple(r.done), self.steps.get(r.saga, 0), r.failed,
                             r.started, r.last, r.trigger) for sid, r in reversed(items)]

    def events(self, sid: str) -> list[TraceEvent]:
        """The events of one instance (its own and those of its commands and replies)."""
        with self._lock:
            rec = self._sagas.get(sid)
            return list(rec.events) if rec else []

    def counts(self) -> dict[str, int]:
        """How many instances are in each state."""
        with self._lock:
            out: dict[str, int] = {}
            for r in self._sagas.values():
                out[r.state] = out.get(r.state, 0) + 1
            return out


def find_tracker(listeners: Sequence[object]) -> SagaTracker | None:
    """The saga tracker among an engine's listeners, if one is there."""
    return next((x for x in listeners if isinstance(x, SagaTracker)), None)
