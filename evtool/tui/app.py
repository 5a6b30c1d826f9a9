"""EvtoolApp: the dashboard application.

The app owns the pace: a timer pulls the host's latest snapshot a fixed
number of times a second and, when it is new, applies it in one batch
(`batch_update`). Tests build the app with `auto_poll=False` and a manual
host, then call `host.tick()` and `app.pull()` themselves: no wall-clock
sleeps, virtual time only.

One app session can run several lessons one after the other: the lesson
picker opens one, the end of a lesson restarts it, launches one of its
`try_next` variations in place, or goes back to the picker. Each run is
closed (`close_run`) before the next one opens; `on_run_end(listeners,
outcome, quiz)` is told about each, so the command line can finish its
recording and store the quiz score with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.css.query import NoMatches

from evtool.core.textsafe import visible
from evtool.scenario.lessons import LessonInfo, checked_lessons
from evtool.sim.host import EngineHost
from evtool.tui.flow import FlowTracker
from evtool.tui.quiz import Quiz
from evtool.tui.sagas import SagaTracker
from evtool.tui.screens.dashboard import DashboardScreen
from evtool.tui.screens.end import Variation
from evtool.tui.screens.help import HelpModal
from evtool.tui.screens.picker import LessonPickerScreen

POLL_HZ = 40.0
"""Looks at the host per second: a new snapshot (the host publishes 30 a second) is applied within
25 ms of being published; a look that finds nothing new costs a version comparison."""

RunEnd = Callable[[Sequence[Any], Any, Quiz], None]
"""`on_run_end(listeners, outcome, quiz)`: a run of the session was closed."""


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
                 seed: int | None = None, on_run_end: RunEnd | None = None, listeners: Sequence[Any] = (),
                 scores: Callable[[], dict[str, Any]] | None = None) -> None:
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
        self.on_run_end = on_run_end
        self.scores = scores
        """`scores()` -> {lesson id: (best QuizScore, latest QuizScore)} for the picker."""
        self.from_picker = host is None
        """True when the lessons came from the picker: leaving one goes back to it."""
        self.applied = 0
        """How many snapshots were applied (the load test counts them)."""
        self.dashboard: DashboardScreen | None = None
        self.runs: list[tuple[EngineHost, Sequence[Any], Quiz | None]] = []
        """Every run of the session: its host, its listeners and its quiz."""
        self.outcomes: list[Any] = []
        self._listeners: Sequence[Any] = listeners
        self._base: tuple[Path, dict[str, Any]] | None = None
        """The lesson file and the user's own overrides: variations and restarts start from them."""
        self._version = -1
        self._timer: Any = None

    def on_mount(self) -> None:
        """Open the dashboard on the host, or the lesson picker."""
        if self.auto_poll:
            self._timer = self.set_interval(1.0 / self.poll_hz, self.pull, name="pull-snapshot")
        if self.host is not None:
            self._open(self.host, self._listeners)
        else:
            self.show_picker()

    def picker_lessons(self) -> list[LessonInfo]:
        """The lessons the picker lists."""
        if self.lessons is None:
            self.lessons = checked_lessons()
        return self.lessons

    def show_picker(self) -> None:
        """Show the lesson picker (on top of nothing but the default screen)."""
        scores: dict[str, Any] = {}
        if self.scores is not None:
            try:
                scores = self.scores()
            except Exception:  # noqa: BLE001 - a broken store must not hide the lessons
                scores = {}
        picker = LessonPickerScreen(self.picker_lessons(), scores=scores)
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(picker)

    def _open(self, host: EngineHost, listeners: Sequence[Any] = (), variation: Variation | None = None) -> None:
        self.host = host
        if self._base is None:
            self._base = (Path(host.loaded.path), dict(host.loaded.overrides))
        if not getattr(host, "_started", False):
            host.start()
        self.dashboard = DashboardScreen(host, from_picker=self.from_picker,
                                         title=self.replay_title, variation=variation)
        self.runs.append((host, listeners, self.dashboard.quiz))
        self._version = -1
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(self.dashboard)

    def base_path(self) -> Path:
        """The file of the lesson on screen (its variations are runs of it)."""
        assert self._base is not None
        return self._base[0]

    def launch_variation(self, variation: Variation | None) -> bool:
        """Run the current lesson again, as written or as one of its variations, in place."""
        if self._base is None:
            return False
        path, base = self._base
        overrides = {**base, **(variation.overrides if variation else {})}
        return self.open_scenario(path, overrides, variation=variation, keep_base=True)

    def open_scenario(self, path: Path, overrides: dict[str, Any] | None = None, *,
                      variation: Variation | None = None, keep_base: bool = False) -> bool:
        """Close the current run and open `path` (with `--set` style overrides) in place; False if it fails."""
        from evtool.scenario.errors import ScenarioError
        from evtool.scenario.loader import load_scenario

        try:
            loaded = load_scenario(path, overrides or None)
        except ScenarioError as err:
            self.notify(visible(f"{path.stem} does not load: {err.problems[0].message}"), severity="error",
                        markup=False)
            return False
        self.close_run()
        if not keep_base:
            self._base = None
        listeners = list(self.listeners_for(loaded, self.seed)) if self.listeners_for else []
        host = EngineHost(loaded, seed=self.seed, speed=self.speed, threaded=self.threaded_hosts,
                          listeners=[*listeners, SagaTracker(loaded.model), FlowTracker()])
        self._open(host, listeners, variation)
        return True

    def close_run(self) -> Any:
        """Close the current run (its outcome goes to `on_run_end`); returns the outcome."""
        host = self.host
        if host is None:
            return None
        self.host = None
        self.dashboard = None
        outcome = host.close()
        self.outcomes.append(outcome)
        for h, listeners, quiz in self.runs:
            if h is host:
                if self.on_run_end is not None:
                    self.on_run_end(listeners, outcome, quiz or Quiz())
                break
        return outcome

    def back_to_picker(self) -> None:
        """Close the current run and show the lesson picker."""
        self.close_run()
        self.from_picker = True
        self.show_picker()

    def on_lesson_picker_screen_picked(self, event: LessonPickerScreen.Picked) -> None:
        """Load the chosen lesson and open the dashboard on it."""
        self.open_scenario(event.info.path)

    def pull(self) -> bool:
        """Apply the host's latest snapshot if it is new; True when one was applied."""
        from evtool.tui.screens.inspector import InspectorModal
        from evtool.tui.screens.sequence import SequenceModal

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
                if isinstance(self.screen, InspectorModal | SequenceModal):
                    self.screen.refresh_life()
        except NoMatches:  # the app is shutting down and the panels are already gone
            return False
        self.applied += 1
        return True

    def action_help(self) -> None:
        """Help from the picker."""
        self.push_screen(HelpModal([("Lesson picker", [("up down", "move through the lessons"),
                                                       ("enter", "open the lesson"), ("?", "this help"),
                                                       ("q", "quit")])]))

    def on_unmount(self) -> None:
        """Stop the engine's thread (the last run ends here)."""
        self.close_run()
