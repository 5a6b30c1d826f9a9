"""The dashboard's main screens as ready-made apps: used by the SVG snapshot tests and the README screenshots.

Each builder returns an app on a manual host already driven (on virtual time)
to the moment to show, and the keys to press once it is on screen.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from evtool.scenario.loader import LoadedScenario, load_scenario
from evtool.sim.host import Resume, SetSpeed
from evtool.sim.snapshot import Snapshot
from evtool.tui.app import EvtoolApp
from evtool.tui.sagas import SagaTracker

from .helpers import ROOT, manual_host, tick_until, to_lesson_step

Scene = tuple[EvtoolApp, tuple[str, ...]]


def lesson_start(loaded: LoadedScenario) -> Scene:
    """Three seconds into the lesson, step 1 on screen."""
    host = manual_host(loaded)
    host.tick(3.0)
    return EvtoolApp(host=host, auto_poll=False), ()


def mid_run_with_retries(loaded: LoadedScenario) -> Scene:
    """POISON-1 waiting for its third attempt, with the retry scheduler shown."""
    host = manual_host(loaded, speed=10.0)

    def poison_retrying(s: Snapshot) -> bool:
        if s.paused:
            host.submit(Resume())
        return any(r.msg == "POISON-1" and r.next_attempt == 3 for r in s.retries)

    tick_until(host, poison_retrying, dt=0.01)
    return EvtoolApp(host=host, auto_poll=False), ("2",)


def dead_letters(loaded: LoadedScenario) -> Scene:
    """POISON-1 dead-lettered: the lesson asks its question; the dead-letter panel is shown."""
    host = manual_host(loaded)
    to_lesson_step(host, 3)
    return EvtoolApp(host=host, auto_poll=False), ("3",)


def inspector(loaded: LoadedScenario) -> Scene:
    """The message inspector on POISON-1 after it was dead-lettered."""
    host = manual_host(loaded)
    to_lesson_step(host, 3)
    return EvtoolApp(host=host, auto_poll=False), ("enter",)


def quiz_question(loaded: LoadedScenario) -> Scene:
    """The lesson's question at the dead letter: the run paused, the choices on keys a-d."""
    host = manual_host(loaded)
    to_lesson_step(host, 3)
    return EvtoolApp(host=host, auto_poll=False), ()


def quiz_answered(loaded: LoadedScenario) -> Scene:
    """The same question answered wrong (b): not quite, the right answer and the explanation."""
    host = manual_host(loaded)
    to_lesson_step(host, 3)
    return EvtoolApp(host=host, auto_poll=False), ("b",)


def sequence(loaded: LoadedScenario) -> Scene:
    """The sequence view of POISON-1 once it is dead-lettered (s)."""
    host = manual_host(loaded)
    to_lesson_step(host, 3)
    return EvtoolApp(host=host, auto_poll=False), ("s",)


def _saga_host() -> tuple[EvtoolApp, object]:
    saga = load_scenario(ROOT / "scenarios" / "order-saga.yaml")
    host = manual_host(saga, speed=50.0, listeners=[SagaTracker(saga.model)])

    def later(s: Snapshot) -> bool:
        if s.paused:
            host.submit(Resume())
        return s.now_ns >= 6_000_000_000

    tick_until(host, later, dt=0.05)
    return EvtoolApp(host=host, auto_poll=False), host


def sagas(_loaded: LoadedScenario) -> Scene:
    """The order-saga lesson six seconds in: the sagas panel (6) with completed and compensated instances."""
    app, _host = _saga_host()
    return app, ("6",)


def saga_sequence(_loaded: LoadedScenario) -> Scene:
    """The sequence view of the first compensated saga instance (6, down, enter)."""
    app, _host = _saga_host()
    return app, ("6", "down", "enter")


def _at(name: str, t_s: float) -> EvtoolApp:
    other = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    host = manual_host(other, speed=20.0)

    def later(s: Snapshot) -> bool:
        if s.paused:
            host.submit(Resume())
        return s.now_ns >= t_s * 1e9

    tick_until(host, later, dt=0.05)
    host.submit(SetSpeed(1.0))
    host.tick(0.0)
    return EvtoolApp(host=host, auto_poll=False)


def fanout(_loaded: LoadedScenario) -> Scene:
    """pubsub-fanout at 50 s: the topic forks into billing, shipping and analytics (backlog, lag)."""
    return _at("pubsub-fanout", 50), ()


def partitions(_loaded: LoadedScenario) -> Scene:
    """partitioned-ordering at 5 s: the log's six partitions with their owners and lag."""
    return _at("partitioned-ordering", 5), ()


def end_of_lesson(loaded: LoadedScenario) -> Scene:
    """The run is over: the end screen opens by itself with the try-next list."""
    host = manual_host(loaded)
    to_lesson_step(host, 4)
    return EvtoolApp(host=host, auto_poll=False, threaded_hosts=False), ()


def matrix(loaded: LoadedScenario) -> Scene:
    """The end screen, then `m`: the lesson and its variations side by side (checks × runs)."""
    app, _keys = end_of_lesson(loaded)
    return app, ("m",)


def help_screen(loaded: LoadedScenario) -> Scene:
    """The help dialog."""
    host = manual_host(loaded)
    return EvtoolApp(host=host, auto_poll=False), ("question_mark",)


def run_over(loaded: LoadedScenario) -> Scene:
    """The end of the run: every check passed, the event log shown."""
    host = manual_host(loaded)
    host.submit(SetSpeed(math.inf))
    to_lesson_step(host, 4)
    return EvtoolApp(host=host, auto_poll=False), ("5",)


SCENES: dict[str, Callable[[LoadedScenario], Scene]] = {
    "lesson-start": lesson_start,
    "mid-run-retries": mid_run_with_retries,
    "dead-letters": dead_letters,
    "inspector": inspector,
    "help": help_screen,
    "quiz-question": quiz_question,
    "quiz-answered": quiz_answered,
    "sequence": sequence,
    "sagas": sagas,
    "saga-sequence": saga_sequence,
    "fanout": fanout,
    "end": end_of_lesson,
    "matrix": matrix,
    "partitions": partitions,
    "run-over": run_over,
}
