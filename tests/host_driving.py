"""Driving an engine host by hand (virtual time only), for the host tests and the dashboard tests.

A top-level test module (the `tests` directory is on pytest's python path), so both
`tests/sim/host` and `tests/tui` import it; `python -m tests.tui.screenshots` puts it on the path too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from evtool.scenario.loader import LoadedScenario
from evtool.sim.host import EngineHost, Resume, SetSpeed
from evtool.sim.snapshot import Snapshot


def manual_host(loaded: LoadedScenario, **kwargs: object) -> EngineHost:
    """A started host in manual mode: nothing runs until `tick`."""
    host = EngineHost(loaded, threaded=False, **kwargs)  # type: ignore[arg-type]
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
