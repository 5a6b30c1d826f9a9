"""Helpers for the dashboard tests: a manual host (virtual time only) driven tick by tick."""

from __future__ import annotations

from pathlib import Path

from host_driving import manual_host as host_manual_host
from host_driving import tick_until, to_lesson_step
from textual.pilot import Pilot

from evtool.scenario.loader import LoadedScenario
from evtool.sim.host import EngineHost
from evtool.sim.snapshot import Snapshot
from evtool.tui.app import EvtoolApp
from evtool.tui.flow import FlowTracker
from evtool.tui.sagas import SagaTracker

__all__ = ["LESSON", "ROOT", "make_app", "manual_host", "sync", "text_of", "tick_until", "to_lesson_step"]

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
    return host_manual_host(loaded, listeners=listeners, **kwargs)


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
