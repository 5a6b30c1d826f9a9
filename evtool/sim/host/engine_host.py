"""`EngineHost`: one engine run beside a UI, commands in, snapshots out (see the package docstring)."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario.loader import LoadedScenario
from evtool.sim.engine import Engine, Listener, RunOutcome
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
)
from evtool.sim.host.fold import TraceFold
from evtool.sim.host.lesson import LessonTracker
from evtool.sim.host.snapshots import RateMeter, channel_views, check_views, consumer_views, producer_views
from evtool.sim.pacing import SPEED_MIN, Pacer
from evtool.sim.rng import run_seed
from evtool.sim.snapshot import (
    MessageLife,
    Snapshot,
)

SLICE_EVENTS = 500
"""Kernel events per slice of work between two looks at the clock and the command queue (about
2-5 ms flat out: a snapshot is published within a few milliseconds of being due)."""


class EngineHost:
    """Hosts one engine for a dashboard: commands in, snapshots out (see the module docstring).

    `threaded=False` is the manual (test) mode: nothing runs until `tick(dt)`
    is called, and `dt` is the wall time that tick pretends has passed.
    `interventions` are recorded hand-made interventions to replay (a replay
    also refuses new ones: `replay=True`).
    """

    def __init__(self, loaded: LoadedScenario, *, seed: int | None = None, speed: float = 1.0,
                 paused: bool = False, interventions: Sequence[tuple[int, str, dict[str, Any]]] = (),
                 listeners: Sequence[Listener] = (), threaded: bool = True, replay: bool = False,
                 clock: Callable[[], float] = time.monotonic, publish_hz: float = 30.0,
                 slice_events: int = SLICE_EVENTS, end_ns: int | None = None) -> None:
        self.loaded = loaded
        self.scenario = loaded.model
        self.seed = run_seed(self.scenario, seed)
        self.replay = replay
        self.threaded = threaded
        self.end_hint = end_ns
        self._started = False
        self._clock = clock
        self._manual_wall = 0.0
        self._initial_interventions = list(interventions)
        self._extra_listeners = list(listeners)
        self._publish_every = 1.0 / publish_hz
        self._slice = slice_events
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self.sent: deque[Command] = deque(maxlen=200)
        """The last commands submitted (newest last), for tests and the help screen."""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._quit = False
        self._version = 0
        self._next_publish = -math.inf
        self._wall_mark = (0.0, 0)
        self._wall_rate = 0.0
        self._rates = RateMeter()
        self.paused_by: str | None = None
        self.notes: deque[str] = deque(maxlen=5)
        self.outcome: RunOutcome | None = None
        self.error: BaseException | None = None
        self._speed = speed
        self._start_paused = paused
        self._build()
        self._latest = self._make_snapshot()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        """A fresh engine, fold and lesson tracker (at start, and when seeking back)."""
        self.fold = TraceFold(self.scenario)
        self.lesson = LessonTracker(self.scenario.lesson)
        self.engine = Engine(self.loaded, seed=self.seed, listeners=[self._on_batch, *self._extra_listeners])
        if self._initial_interventions:
            self.engine.schedule_interventions(self._initial_interventions)
        old = getattr(self, "pacer", None)
        self.pacer = Pacer(self.engine, speed=old.speed if old else max(SPEED_MIN, self._speed))
        self.pacer.paused = old.paused if old else self._start_paused
        self.outcome = None
        self._rates.clear()

    def _on_batch(self, batch: Sequence[TraceEvent]) -> None:
        with self._lock:
            self.fold.fold(batch)
        self.lesson.observe(batch)

    # ------------------------------------------------------------------ public API

    def start(self) -> None:
        """Start the engine (and, when threaded, the host's thread); idempotent."""
        if self._started:
            return
        self._started = True
        self.engine.start()
        self.engine.flush()
        self.lesson.at_time(self.engine.now)
        self._apply_lesson_pause()
        self.pacer.start(self._wall())
        self._publish(force=True)
        if self.threaded:
            self._thread = threading.Thread(target=self._thread_main, name="evtool-engine", daemon=True)
            self._thread.start()

    def submit(self, command: Command) -> None:
        """Queue a command for the engine (thread-safe; carried out between kernel events)."""
        self.sent.append(command)
        self._commands.put(command)

    def snapshot(self) -> Snapshot:
        """The latest published snapshot (never blocks)."""
        return self._latest

    def lifecycle(self, msg: str) -> MessageLife | None:
        """One message's lifecycle, as far as the host's window reaches (thread-safe)."""
        with self._lock:
            return self.fold.life(msg)

    def tick(self, dt: float = 0.1) -> Snapshot:
        """Manual mode: carry out queued commands, pretend `dt` wall seconds pass, advance, publish."""
        if self.threaded:
            raise RuntimeError("tick() is for a host made with threaded=False")
        self._drain_commands()
        self._manual_wall += dt
        self._advance(budget_s=None)
        self._publish(force=True)
        return self._latest

    def close(self, timeout: float = 5.0) -> RunOutcome | None:
        """Stop the thread; end the run (interrupted if it was not over) and return its outcome."""
        if self._thread is not None and self._thread.is_alive():
            self.submit(Quit())
            self._thread.join(timeout)
        if self.outcome is None and self.error is None:
            if self.engine.phase != "done":
                self.engine.stop("interrupted")
            self.outcome = self.engine.finish()
        return self.outcome

    @property
    def running(self) -> bool:
        """Whether the host's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ the loop

    def _wall(self) -> float:
        return self._clock() if self.threaded else self._manual_wall

    def _thread_main(self) -> None:
        try:
            while not self._quit:
                idle = self.pacer.paused or self.outcome is not None
                self._drain_commands(wait=0.05 if idle else 0.0)
                if self._quit:
                    break
                # Run until the next snapshot is due (at most 20 ms), then publish it: a fixed
                # budget beside a publish interval would publish only every other slice.
                due = self._next_publish - time.perf_counter()
                caught_up = self._advance(budget_s=min(0.02, max(0.002, due)))
                self._publish()
                # Hand the GIL to the UI thread between slices: flat out, the engine would
                # otherwise starve the dashboard (about 5% of the engine's time).
                time.sleep(0.001)
                if caught_up and not self.pacer.paused and self.outcome is None:
                    self._drain_commands(wait=0.004)  # ahead of the wall clock: wait a little
        except BaseException as exc:  # noqa: BLE001 - surfaced to the UI through the snapshot
            self.error = exc
            self.notes.append(f"engine failed: {type(exc).__name__}: {exc}")
            self._publish(force=True)

    def _drain_commands(self, wait: float = 0.0) -> None:
        try:
            cmd = self._commands.get(timeout=wait) if wait > 0 else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            self._apply(cmd)
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                break
        self._publish(force=True)

    def _apply(self, cmd: Command) -> None:
        pacer = self.pacer
        wall = self._wall()
        if isinstance(cmd, Quit):
            self._quit = True
        elif isinstance(cmd, Pause):
            pacer.pause()
        elif isinstance(cmd, Resume):
            self._resume(wall)
        elif isinstance(cmd, TogglePause):
            if pacer.paused:
                self._resume(wall)
            else:
                pacer.pause()
        elif isinstance(cmd, Step):
            pacer.pause()
            self._step(cmd.events)
        elif isinstance(cmd, SetSpeed):
            pacer.set_speed(cmd.speed, wall)
        elif isinstance(cmd, Faster):
            pacer.faster(wall)
        elif isinstance(cmd, Slower):
            pacer.slower(wall)
        elif isinstance(cmd, InjectFault):
            self._intervene(lambda: self.engine.inject_fault(cmd.action, cmd.target, **cmd.params),
                            f"{cmd.action} {cmd.target}")
        elif isinstance(cmd, Redrive):
            self._intervene(lambda: self.notes.append(
                f"redrove {self.engine.redrive(cmd.channel, cmd.msg)} from {cmd.channel}"), None)
        elif isinstance(cmd, Seek):
            self._seek(self.engine.now + cmd.t_ns if cmd.relative else cmd.t_ns)

    def _resume(self, wall: float) -> None:
        self.paused_by = None
        self.pacer.resume(wall)

    def _step(self, events: int) -> None:
        eng = self.engine
        for _ in range(events):
            if not eng.step():
                break
        eng.flush()
        self.lesson.at_time(eng.now)
        self.lesson.pause_request = None  # already paused: stepping never stops on a step
        self._check_finished()

    def _intervene(self, action: Callable[[], None], label: str | None) -> None:
        eng = self.engine
        if self.replay:
            self.notes.append("a replay is read-only: no faults or redrives")
            return
        if eng.phase == "done":
            self.notes.append("the run is over")
            return
        # Move to a fresh instant at which no event was processed, so a replay (which runs
        # interventions first at their instant) repeats the run exactly.
        eng.run_until(eng.now)
        while True:
            before = eng.kernel.processed
            eng.run_until(eng.now + 1)
            if eng.kernel.processed == before or eng.phase == "done":
                break
        if eng.phase == "done":
            self._check_finished()
            return
        try:
            action()
        except (ValueError, KeyError) as exc:
            self.notes.append(f"refused: {exc}")
            return
        if label:
            self.notes.append(f"injected {label} at {eng.now / 1e9:.3f}s")
        eng.flush()
        self._check_finished()

    def _seek(self, t_ns: int) -> None:
        t_ns = max(0, int(t_ns))
        if t_ns < self.engine.now:
            self._build()
            self.engine.start()
        eng = self.engine
        self.lesson.silent = True
        try:
            eng.run_until(t_ns)
            eng.flush()
            self.lesson.at_time(eng.now)
            self._check_finished()
        finally:
            self.lesson.silent = False
            self.lesson.pause_request = None
        self.pacer.pause()
        self.pacer.start(self._wall())

    def _advance(self, budget_s: float | None) -> bool:
        """Run toward the wall clock's virtual target; True when caught up (or paused, or over)."""
        if self.pacer.paused or self.outcome is not None:
            return True
        eng = self.engine
        lesson = self.lesson
        started = time.perf_counter()
        while True:
            goal = self.pacer.target(self._wall())
            limit = lesson.next_pause_time()
            if limit is not None and limit < goal:
                goal = limit
            chunk = 1 if lesson.event_pause_pending() else self._slice
            alive = eng.run_until(goal if math.isinf(goal) else int(goal), max_events=chunk)
            eng.flush()
            lesson.at_time(eng.now)
            if self._apply_lesson_pause() or not alive:
                self._check_finished()
                return True
            nxt = eng.kernel.next_time()
            if nxt is None or nxt > goal:
                if not math.isinf(goal) and nxt is not None:
                    eng.run_until(int(goal))  # nothing left before the goal: move the clock there
                return True
            if budget_s is not None and time.perf_counter() - started > budget_s:
                return False
            if not self._commands.empty():
                return False

    def _apply_lesson_pause(self) -> bool:
        idx = self.lesson.pause_request
        if idx is None:
            return False
        self.lesson.pause_request = None
        self.pacer.pause()
        self.paused_by = f"lesson step {idx + 1}"
        return True

    def _check_finished(self) -> None:
        eng = self.engine
        if eng.phase == "done" and self.outcome is None:
            self.outcome = eng.finish()
            self.lesson.at_end(eng.now)
            self.lesson.pause_request = None

    # ------------------------------------------------------------------ snapshots

    def _publish(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force:
            if now < self._next_publish:
                return
            # On a schedule, not "an interval after the last one": a slice that ends a little
            # late must not make the next snapshot late too (30 a second stays 30, not 25).
            self._next_publish = max(self._next_publish + self._publish_every, now + self._publish_every / 2)
        self._latest = self._make_snapshot()

    def _make_snapshot(self) -> Snapshot:
        eng = self.engine
        sc = self.scenario
        ch_rates, prod_rates, cons_rates = self._rates.measure(eng, sc)
        wall = time.perf_counter() if self.threaded else self._manual_wall
        mark_wall, mark_events = self._wall_mark
        if wall - mark_wall >= 0.5:
            if mark_wall:
                self._wall_rate = max(0.0, (self.fold.seq - mark_events) / (wall - mark_wall))
            self._wall_mark = (wall, self.fold.seq)
        results = self.outcome.checks if self.outcome is not None else eng.checks.live(eng.now)
        with self._lock:
            fold = self.fold
            recent = tuple(fold.recent)
            lanes = fold.lane_views()
            retries = fold.retry_views()
            dead = fold.dead_views()
            dead_total = fold.dead_total
            last_seq = fold.seq
        self._version += 1
        return Snapshot(
            version=self._version, scenario_id=sc.id, title=sc.lesson.title if sc.lesson else sc.id,
            seed=self.seed, now_ns=eng.now, end_ns=self.end_hint or eng.load_end + eng.drain_max, phase=eng.phase,
            paused=self.pacer.paused, speed=self.pacer.speed, events=last_seq, events_per_s=self._wall_rate,
            digest=self.outcome.digest[:16] if self.outcome else eng.digest.short(),
            channels=channel_views(eng, sc, ch_rates), producers=producer_views(eng, prod_rates),
            consumers=consumer_views(eng, cons_rates), lanes=lanes,
            retries=retries, dead_letters=dead, dead_total=dead_total, checks=check_views(results), recent=recent,
            last_seq=last_seq, lesson=self.lesson.view(), paused_by=self.paused_by if self.pacer.paused else None,
            outcome=self.outcome.outcome if self.outcome else None, replay=self.replay,
            interventions=len(eng.interventions), notes=tuple(self.notes))
