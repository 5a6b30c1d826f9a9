"""Pacing: how fast wall time follows virtual time. It never changes what happens.

`Pacer.advance(wall_now)` runs the engine up to the virtual time that the
wall clock has reached at the current speed (or as far as a budget of events
allows, so a caller stays responsive). Pause, resume, speed changes and single
steps only move the mapping between the two clocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evtool.sim.engine import Engine

SPEED_MIN = 0.1
SPEED_STEPS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 1000.0, math.inf)
"""The speeds the dashboard's + and - keys move through; inf is as fast as possible."""


@dataclass
class Pacer:
    """Maps wall seconds to virtual nanoseconds for one engine."""

    engine: Engine
    speed: float = 1.0
    paused: bool = False
    _anchor_wall: float = 0.0
    _anchor_virtual: int = 0
    lag_ns: int = 0

    def start(self, wall_now: float) -> None:
        """Anchor the clocks at `wall_now`."""
        self._anchor_wall = wall_now
        self._anchor_virtual = self.engine.now

    def target(self, wall_now: float) -> float:
        """The virtual time the wall clock has reached."""
        if self.paused:
            return self.engine.now
        if math.isinf(self.speed):
            return math.inf
        return self._anchor_virtual + (wall_now - self._anchor_wall) * self.speed * 1e9

    def advance(self, wall_now: float, max_events: int = 20_000) -> bool:
        """Run the engine toward the wall clock; False when the run is over."""
        if self.paused:
            return self.engine.phase != "done"
        goal = self.target(wall_now)
        alive = self.engine.run_until(goal if math.isinf(goal) else int(goal), max_events=max_events)
        if not math.isinf(goal):
            self.lag_ns = max(0, int(goal) - self.engine.now) if self.engine.kernel.next_time() is not None \
                and self.engine.kernel.next_time() <= goal else 0
        return alive

    def set_speed(self, speed: float, wall_now: float) -> None:
        """Change speed without a jump in virtual time."""
        self._anchor_virtual = self.engine.now
        self._anchor_wall = wall_now
        self.speed = max(SPEED_MIN, speed)

    def pause(self) -> None:
        """Stop virtual time."""
        self.paused = True

    def resume(self, wall_now: float) -> None:
        """Let virtual time run again from where it stopped."""
        self.paused = False
        self._anchor_virtual = self.engine.now
        self._anchor_wall = wall_now

    def step(self, events: int = 1) -> bool:
        """Process exactly `events` kernel events (paused stepping)."""
        alive = True
        for _ in range(events):
            alive = self.engine.step()
            if not alive:
                break
        self._anchor_virtual = self.engine.now
        return alive

    def faster(self, wall_now: float) -> None:
        """The next speed step up."""
        higher = [s for s in SPEED_STEPS if s > self.speed]
        self.set_speed(higher[0] if higher else self.speed, wall_now)

    def slower(self, wall_now: float) -> None:
        """The next speed step down."""
        lower = [s for s in SPEED_STEPS if s < self.speed]
        self.set_speed(lower[-1] if lower else SPEED_MIN, wall_now)
