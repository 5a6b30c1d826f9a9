"""EvtoolApp: the dashboard application.

The app owns the pace: a timer pulls the host's latest snapshot a fixed
number of times a second and, when it is new, applies it in one batch
(`batch_update`). Tests build the app with `auto_poll=False` and a manual
host, then call `host.tick()` and `app.pull()` themselves: no wall-clock
sleeps, virtual time only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches

from evtool.scenario.lessons import LessonInfo, checked_lessons
from evtool.sim.host import EngineHost
from evtool.tui.screens.dashboard import DashboardScreen
from evtool.tui.screens.help import HelpModal
from evtool.tui.screens.inspector import InspectorModal
from evtool.tui.screens.picker import LessonPickerScreen

POLL_HZ = 20.0
"""Snapshots pulled per second (the load test asks for at least 10 applied per second)."""


class EvtoolApp(App[None]):
    """The evtool dashboard; opens on a host, or on the lesson picker when there is none."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "evtool"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, id="app-quit")]

    def __init__(self, host: EngineHost | None = None, *, speed: float = 1.0,
                 listeners_for: Callable[[Any, int | None], Sequence[Any]] | None = None,
                 lessons: list[LessonInfo] | None = None, replay_title: str | None = None,
                 poll_hz: float = POLL_HZ, auto_poll: bool = True, threaded_hosts: bool = True,
                 seed: int | None = None) -> None:
        super().__init__()
        self.host = host
        self.speed = speed
        self.listeners_for = listeners_for
        self.lessons = lessons
        self.replay_title = replay_title
        self.poll_hz = poll_hz
        self.auto_poll = auto_poll
        self.threaded_hosts = threaded_hosts
        self.seed = seed
        self.applied = 0
        """How many snapshots were applied (the load test counts them)."""
        self.dashboard: DashboardScreen | None = None
        self._version = -1

    def on_mount(self) -> None:
        """Open the dashboard on the host, or the lesson picker."""
        if self.host is not None:
            self._open(self.host)
        else:
            lessons = self.lessons if self.lessons is not None else checked_lessons()
            self.push_screen(LessonPickerScreen(lessons))

    def _open(self, host: EngineHost) -> None:
        self.host = host
        if not getattr(host, "_started", False):
            host.start()
        self.dashboard = DashboardScreen(host)
        if self.screen_stack and isinstance(self.screen, LessonPickerScreen):
            self.switch_screen(self.dashboard)
        else:
            self.push_screen(self.dashboard)
        if self.auto_poll:
            self.set_interval(1.0 / self.poll_hz, self.pull, name="pull-snapshot")

    def on_lesson_picker_screen_picked(self, event: LessonPickerScreen.Picked) -> None:
        """Load the chosen lesson and open the dashboard on it."""
        from evtool.scenario.errors import ScenarioError
        from evtool.scenario.loader import load_scenario

        try:
            loaded = load_scenario(event.info.path)
        except ScenarioError as err:
            self.notify(f"{event.info.id} does not load: {err.problems[0].message}", severity="error")
            return
        listeners = self.listeners_for(loaded, self.seed) if self.listeners_for else ()
        self._open(EngineHost(loaded, seed=self.seed, speed=self.speed, listeners=listeners,
                              threaded=self.threaded_hosts))

    def pull(self) -> bool:
        """Apply the host's latest snapshot if it is new; True when one was applied."""
        host = self.host
        dash = self.dashboard
        if host is None or dash is None or not dash.ready:
            return False
        snap = host.snapshot()
        if snap.version == self._version:
            return False
        self._version = snap.version
        try:
            with self.batch_update():
                dash.apply(snap)
                if isinstance(self.screen, InspectorModal):
                    self.screen.refresh_life()
        except NoMatches:  # the app is shutting down and the panels are already gone
            return False
        self.applied += 1
        return True

    def action_help(self) -> None:
        """Help from the picker."""
        self.push_screen(HelpModal([("Lesson picker", LessonPickerScreen.BINDINGS),
                                    ("Everywhere", [Binding("up,down", "", "Move", id="move"),
                                                    Binding("enter", "", "Open the lesson", id="open")])]))

    def on_unmount(self) -> None:
        """Stop the engine's thread."""
        if self.host is not None:
            self.host.close()
