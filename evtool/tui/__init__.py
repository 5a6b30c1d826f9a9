"""evtool.tui: the Textual dashboard.

Nothing here imports Textual at import time: the command line calls these
entry points, and they import the app only when they run.

    run_dashboard(loaded, seed=None, speed=1.0, *, listeners=(), paused=False, listeners_for=None,
                  on_run_end=None, scores=None) -> RunOutcome | None
    run_picker(speed=1.0, *, listeners_for=None, seed=None, on_run_end=None, scores=None) -> RunOutcome | None

`listeners_for(loaded, seed)` gives the listeners of each further run the
session opens (a restart, a variation, a lesson from the picker);
`on_run_end(listeners, outcome, quiz)` is called as each run of the session
closes (the first one too); `scores()` gives the picker each lesson's quiz
scores.
    run_replay(loaded, *, seed, interventions, title=None, speed=1.0, end_ns=None) -> RunOutcome | None
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evtool.scenario.loader import LoadedScenario
    from evtool.sim.engine import Listener, RunOutcome


def run_dashboard(loaded: LoadedScenario, seed: int | None = None, speed: float = 1.0, *,
                  listeners: Sequence[Listener] = (), paused: bool = False, listeners_for: Any = None,
                  on_run_end: Any = None, scores: Any = None) -> RunOutcome | None:
    """Open the dashboard on a loaded scenario; returns the first run's outcome when the user quits."""
    from evtool.sim.host import EngineHost
    from evtool.tui.app import EvtoolApp
    from evtool.tui.flow import FlowTracker
    from evtool.tui.sagas import SagaTracker

    host = EngineHost(loaded, seed=seed, speed=speed, paused=paused,
                      listeners=[*listeners, SagaTracker(loaded.model), FlowTracker()])
    app = EvtoolApp(host=host, speed=speed, seed=seed, listeners_for=listeners_for, on_run_end=on_run_end,
                    listeners=listeners, scores=scores)
    app.run()
    return host.close()


def run_picker(speed: float = 1.0, *, listeners_for: Any = None, seed: int | None = None,
               on_run_end: Any = None, scores: Any = None) -> RunOutcome | None:
    """Open the lesson picker; the chosen lessons open in the dashboard. Returns the last run's outcome, if any.

    `listeners_for(loaded, seed)`, when given, returns the listeners to attach
    to each chosen lesson's engine (the command line uses it to record the run).
    """
    from evtool.tui.app import EvtoolApp

    app = EvtoolApp(host=None, speed=speed, listeners_for=listeners_for, seed=seed, on_run_end=on_run_end,
                    scores=scores)
    app.run()
    app.close_run()
    return app.outcomes[-1] if app.outcomes else None


def run_replay(loaded: LoadedScenario, *, seed: int, interventions: Sequence[tuple[int, str, dict[str, Any]]],
               title: str | None = None, speed: float = 1.0, end_ns: int | None = None) -> RunOutcome | None:
    """Open a recorded run in the dashboard with a time scrubber (re-simulated deterministically)."""
    from evtool.sim.host import EngineHost
    from evtool.tui.app import EvtoolApp
    from evtool.tui.flow import FlowTracker
    from evtool.tui.sagas import SagaTracker

    host = EngineHost(loaded, seed=seed, speed=speed, interventions=interventions, replay=True, end_ns=end_ns,
                      listeners=[SagaTracker(loaded.model), FlowTracker()])
    app = EvtoolApp(host=host, replay_title=title)
    app.run()
    return host.close()
