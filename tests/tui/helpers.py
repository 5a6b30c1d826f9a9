"""Helpers for the dashboard tests: a manual host (virtual time only) driven tick by tick."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from evtool.scenario.loader import LoadedScenario
from evtool.sim.host import EngineHost, Resume, SetSpeed
from evtool.sim.snapshot import Snapshot
from evtool.tui.app import EvtoolApp
from evtool.tui.flow import FlowTracker
from evtool.tui.sagas import SagaTracker

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "scenarios" / "retries-dlq-poison.yaml"


def manual_host(loaded: LoadedScenario, **kwargs: object) -> EngineHost:
    """A started host in manual mode: nothing runs until `tick`. Like the app's hosts, it carries the
    dashboard's saga and flow trackers (unless `listeners` already has them)."""
    listeners = list(kwargs.pop("listeners", ()))  # type: ignore[call-overload]
    if not any(isinstance(x, SagaTracker) for x in listeners):
        listeners.append(SagaTracker(loaded.model))
    if not any(isinstance(x, FlowTracker) for x in listeners):
        listeners.append(FlowTracker())
    host = EngineHost(loaded, threaded=False, listeners=listeners, **kwargs)  # type: ignore[arg-type]
    host.start()
    return host


def tick_until(host: EngineHost, done: Callable[[Snapshot], bool], dt: float = 0.25,
               limit: int = 5000) -> Snapshot:
    """Tick (pretending `dt` wall seconds each) until `done(snapshot)`; fails after `limit` ticks."""
    snap = host.snapshot()
    for _ in range(limit):
        if done(snap):
            return snap
        snap = host.tick(dt)
    raise AssertionError(f"condition not reached by t={snap.now_ns / 1e9:.3f}s")


def to_lesson_step(host: EngineHost, index: int) -> Snapshot:
    """Run (fast, resuming past lesson pauses) until lesson step `index` has fired."""
    host.submit(SetSpeed(math.inf))

    def reached(s: Snapshot) -> bool:
        if s.lesson is not None and any(i == index for i, _ in s.lesson.fired):
            return True
        if s.paused:
            host.submit(Resume())
        return False

    return tick_until(host, reached)


def text_of(widget: object) -> str:
    """The plain text a Static (or a render()-based widget) shows."""
    content = getattr(widget, "content", None)
    if content is None:
        content = widget.render()  # type: ignore[attr-defined]
    plain = getattr(content, "plain", None)
    return plain if plain is not None else str(content)


def make_app(loaded: LoadedScenario, **host_kwargs: object) -> tuple[EvtoolApp, EngineHost]:
    """An app on a manual host that does not poll by itself: tests tick the host and pull."""
    host = manual_host(loaded, **host_kwargs)
    return EvtoolApp(host=host, auto_poll=False, threaded_hosts=False), host


async def sync(app: EvtoolApp, pilot: Pilot[None], dt: float = 0.0) -> Snapshot:
    """Carry out queued commands, advance `dt` (pretend) wall seconds, apply the snapshot, let the UI settle."""
    assert app.host is not None
    snap = app.host.tick(dt)
    app.pull()
    await pilot.pause()
    return snap
