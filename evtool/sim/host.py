"""The engine host: runs an engine beside a UI and publishes immutable snapshots.

Shape (why each part is there):

* The engine runs in the host's own thread (or, in manual mode, only when a
  test calls `tick`), paced by a `Pacer`. Nothing about pacing changes the
  trace.
* The UI talks to the engine only through imperative commands on a queue
  (`Pause`, `Resume`, `Step`, `SetSpeed`, `InjectFault`, `Redrive`, `Seek`,
  `Quit`); they are carried out between kernel events, on the engine's
  thread.
* The host is a listener of the engine: each flushed batch of trace events is
  folded into bounded structures (`TraceFold`: a ring of recent events, a
  window of message lifecycles, lanes, pending retries, dead letters), and
  lesson triggers are matched on the same batches (`LessonTracker`). The
  host flushes after each slice of work, so the fold never lags far behind.
* A few dozen times a second at most, the host freezes those structures into
  a `Snapshot` and swaps a reference; the UI pulls the latest whenever it
  likes. The UI never receives one message per trace event.

Lesson steps are matched here, on the host's side of the trace, and never
emitted into it: a run traces the same with or without the dashboard. A step
with `pause: true`, or with a question (`ask`: a question always pauses),
pauses the host right after the event that triggered it (the host advances
one kernel event at a time while such a step is pending).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.scenario.loader import LoadedScenario
from evtool.scenario.selectors import Selector, parse_selector
from evtool.sim.consumer import consumer_prefetch
from evtool.sim.engine import Engine, Listener, RunOutcome
from evtool.sim.pacing import SPEED_MIN, Pacer
from evtool.sim.snapshot import (
    ChannelView,
    CheckView,
    ConsumerView,
    DeadLetterView,
    InstanceView,
    LaneCell,
    LaneView,
    LessonStepView,
    LessonView,
    MessageLife,
    ProducerView,
    QuestionView,
    RetryView,
    Snapshot,
)

RECENT_EVENTS = 500
"""Trace events kept in the recent ring (the event log's window)."""
MESSAGE_WINDOW = 5000
"""Messages whose lifecycle the host keeps (the most recently touched)."""
LIFECYCLE_EVENTS = 64
"""Events kept per message lifecycle (the first few and the latest)."""
LANE_CELLS = 120
"""Most recent messages kept per lane."""
ORDER_KEYS = 20_000
"""Keys whose order the host tracks per lane (least recently used are forgotten)."""
MAX_RETRIES = 5000
MAX_DEAD_LETTERS = 1000
SHOWN_RETRIES = 100
SHOWN_DEAD_LETTERS = 200
SLICE_EVENTS = 2000
"""Kernel events per slice of work between two looks at the command queue."""


# ---------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Pause:
    """Stop virtual time."""


@dataclass(frozen=True)
class Resume:
    """Let virtual time run again."""


@dataclass(frozen=True)
class TogglePause:
    """Pause when running, resume when paused."""


@dataclass(frozen=True)
class Step:
    """Pause (if running) and process exactly `events` kernel events."""

    events: int = 1


@dataclass(frozen=True)
class SetSpeed:
    """Virtual seconds per wall second (`math.inf`: as fast as possible)."""

    speed: float


@dataclass(frozen=True)
class Faster:
    """The next speed step up."""


@dataclass(frozen=True)
class Slower:
    """The next speed step down."""


@dataclass(frozen=True)
class InjectFault:
    """A fault by hand: same fields as a scenario fault (`for` spelled `for`)."""

    action: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Redrive:
    """Send dead letters (one, or all when `msg` is None) back to their channel."""

    channel: str
    msg: str | None = None


@dataclass(frozen=True)
class Seek:
    """Move virtual time to `t_ns` (by `t_ns` when `relative`); back means: rebuild and run there
    as fast as possible. Then pause."""

    t_ns: int
    relative: bool = False


@dataclass(frozen=True)
class Quit:
    """Stop the host's thread."""


Command = Pause | Resume | TogglePause | Step | SetSpeed | Faster | Slower | InjectFault | Redrive | Seek | Quit


# ---------------------------------------------------------------------------- folding the trace

_STATE_OF: dict[str, str] = {
    "published": "ready", "enqueued": "ready", "routed": "ready", "returned": "ready",
    "delivered": "inflight", "redelivered": "inflight", "handled": "inflight", "failed": "inflight",
    "retry_scheduled": "retry", "delayed": "retry",
    "acked": "acked", "dead_lettered": "dead", "parked": "dead", "expired": "expired",
    "dropped": "dropped", "duplicate_dropped": "dropped", "unroutable": "dropped",
}


class _Msg:
    """What the host remembers about one message."""

    __slots__ = ("id", "key", "tag", "channel", "causation", "correlation", "state", "attempts", "events",
                 "truncated", "children", "error")

    def __init__(self, ev: TraceEvent) -> None:
        self.id: str = ev.msg or ""
        self.key = ev.key
        self.tag = ev.tag
        self.channel = ev.channel
        self.causation: str | None = None
        self.correlation: str | None = None
        self.state = "ready"
        self.attempts = 0
        self.events: list[TraceEvent] = []
        self.truncated = False
        self.children: list[str] = []
        self.error: str | None = None


class _Lane:
    """One lane: recent cells by message id, and per-key order tracking."""

    __slots__ = ("name", "channel", "cells", "order", "breaks", "seq")

    def __init__(self, name: str, channel: str) -> None:
        self.name = name
        self.channel = channel
        # msg -> [key, state, attempt, publish index, broken]
        self.cells: OrderedDict[str, list[Any]] = OrderedDict()
        self.order: OrderedDict[str, int] = OrderedDict()
        self.breaks = 0
        self.seq = 0


class TraceFold:
    """Bounded structures folded from the trace (see the module docstring)."""

    def __init__(self, scenario: m.Scenario, *, recent: int = RECENT_EVENTS, window: int = MESSAGE_WINDOW) -> None:
        self.seq = 0
        self.recent: deque[tuple[int, TraceEvent]] = deque(maxlen=recent)
        self.window = window
        self.msgs: OrderedDict[str, _Msg] = OrderedDict()
        self.retries: dict[str, RetryView] = {}
        self.dead: OrderedDict[str, DeadLetterView] = OrderedDict()
        self.dead_total = 0
        self.logs = {n for n, c in scenario.channels.items() if isinstance(c, m.LogChannel)}
        self.lane_channels = {n for n, c in scenario.channels.items()
                              if not isinstance(c, m.RouterChannel) and getattr(c, "role", "normal") != "dead_letter"}
        self.lanes: dict[str, _Lane] = {}
        for n in scenario.channels:
            if n in self.lane_channels and n not in self.logs:
                self.lanes[n] = _Lane(n, n)
        self.max_attempts: dict[str, int | None] = {}
        for name, c in scenario.consumers.items():
            r = c.retry
            self.max_attempts[name] = None if r is None or r.max_attempts == "forever" else r.max_attempts

    # -- lanes

    def _lane_for(self, ev: TraceEvent) -> _Lane | None:
        ch = ev.channel
        if ch not in self.lane_channels:
            return None
        if ch not in self.logs:
            return self.lanes.get(ch)  # type: ignore[arg-type]
        part = ev.data.get("partition") if ev.data else None
        if part is not None:
            name = f"{ch}[{part}]"
            lane = self.lanes.get(name)
            if lane is None:
                lane = self.lanes[name] = _Lane(name, ch)  # type: ignore[arg-type]
            return lane
        for lane in self.lanes.values():
            if lane.channel == ch and ev.msg in lane.cells:
                return lane
        return None

    def _lane_event(self, ev: TraceEvent, state: str | None) -> None:
        lane = self._lane_for(ev)
        if lane is None:
            return
        mid = ev.msg
        cells = lane.cells
        cell = cells.get(mid)  # type: ignore[arg-type]
        if cell is None:
            if ev.kind not in ("published", "enqueued", "routed"):
                return
            lane.seq += 1
            cell = cells[mid] = [ev.key, "ready", 0, lane.seq, False]  # type: ignore[index]
            if len(cells) > LANE_CELLS:
                cells.popitem(last=False)
        if state is not None:
            cell[1] = state
        if ev.attempt:
            cell[2] = ev.attempt
        if ev.kind == "acked" and cell[0] is not None:
            key = cell[0]
            order = lane.order
            best = order.get(key)
            if best is not None and cell[3] < best:
                if not cell[4]:
                    cell[4] = True
                    lane.breaks += 1
            else:
                order[key] = cell[3]
                order.move_to_end(key)
                if len(order) > ORDER_KEYS:
                    order.popitem(last=False)

    # -- the fold

    def fold(self, batch: Sequence[TraceEvent]) -> None:
        """Fold one batch of trace events in (called on the engine's thread)."""
        recent = self.recent
        msgs = self.msgs
        state_of = _STATE_OF
        lanes = self.lane_channels
        seq = self.seq
        for ev in batch:
            seq += 1
            recent.append((seq, ev))
            mid = ev.msg
            if mid is None:
                continue
            kind = ev.kind
            rec = msgs.get(mid)
            if rec is None:
                rec = msgs[mid] = _Msg(ev)
                if len(msgs) > self.window:
                    msgs.popitem(last=False)
            else:
                msgs.move_to_end(mid)
            evs = rec.events
            if len(evs) >= LIFECYCLE_EVENTS:
                del evs[8]  # keep the beginning of the story and the latest events
                rec.truncated = True
            evs.append(ev)
            state = state_of.get(kind)
            if state is not None and not (kind == "enqueued" and ev.data and ev.data.get("reason") == "dead_letter"):
                rec.state = state
            if ev.attempt > rec.attempts:
                rec.attempts = ev.attempt
            if rec.tag is None and ev.tag is not None:
                rec.tag = ev.tag
            if ev.channel in lanes:
                self._lane_event(ev, state)
            if kind in ("delivered", "redelivered", "handled", "dead_lettered", "expired", "dropped", "parked"):
                self.retries.pop(mid, None)
            if kind == "failed":
                rec.error = ev.data.get("error") if ev.data else None
            elif kind == "retry_scheduled":
                self._retry(ev, rec)
            elif kind in ("dead_lettered", "parked"):
                self._dead(ev, rec)
            elif kind == "redriven":
                if self.dead.pop(mid, None) is not None:
                    self.dead_total -= 1
            elif kind == "emitted" and ev.data:
                self._caused(rec, ev.data.get("causation_id"))
            elif kind == "request_sent" and ev.data and ev.data.get("correlation_id"):
                rec.correlation = str(ev.data["correlation_id"])
        self.seq = seq

    def _retry(self, ev: TraceEvent, rec: _Msg) -> None:
        data = ev.data or {}
        delay = int(data.get("delay") or 0)
        consumer = ev.actor or ""
        self.retries[rec.id] = RetryView(
            msg=rec.id, channel=ev.channel or "", consumer=consumer, key=ev.key,
            next_attempt=int(data.get("attempt") or ev.attempt + 1), max_attempts=self.max_attempts.get(consumer),
            due_ns=ev.t + delay, delay_ns=delay, mode=str(data.get("mode") or ""), error=rec.error)
        if len(self.retries) > MAX_RETRIES:
            self.retries.pop(next(iter(self.retries)))

    def _dead(self, ev: TraceEvent, rec: _Msg) -> None:
        data = ev.data or {}
        target = data.get("target")
        if target is None:
            return
        if rec.id not in self.dead:
            self.dead_total += 1
        self.dead[rec.id] = DeadLetterView(
            msg=rec.id, channel=str(target), source=ev.channel or "", reason=str(data.get("reason") or ""),
            error=rec.error or (str(data["error"]) if data.get("error") else None), attempts=ev.attempt, t=ev.t,
            key=ev.key, tag=ev.tag)
        self.dead.move_to_end(rec.id)
        if len(self.dead) > MAX_DEAD_LETTERS:
            self.dead.popitem(last=False)

    def _caused(self, rec: _Msg, causation: Any) -> None:
        if causation is None:
            return
        rec.causation = str(causation)
        parent = self.msgs.get(rec.causation)
        if parent is not None:
            rec.correlation = parent.correlation or parent.id
            if len(parent.children) < 50 and rec.id not in parent.children:
                parent.children.append(rec.id)
        else:
            rec.correlation = rec.causation

    # -- views

    def life(self, msg: str) -> MessageLife | None:
        """One message's lifecycle window, or None when it is not (or no longer) known."""
        rec = self.msgs.get(msg)
        if rec is None:
            return None
        return MessageLife(msg=rec.id, key=rec.key, tag=rec.tag, channel=rec.channel, causation=rec.causation,
                           correlation=rec.correlation or rec.id, state=rec.state, attempts=rec.attempts,
                           events=tuple(rec.events), caused=tuple(rec.children), truncated=rec.truncated)

    def lane_views(self) -> tuple[LaneView, ...]:
        """Every lane, frozen."""
        out = []
        for lane in self.lanes.values():
            cells = tuple(LaneCell(mid, c[0], c[1], c[2], c[4]) for mid, c in lane.cells.items())
            out.append(LaneView(lane.name, lane.channel, cells, lane.breaks))
        return tuple(out)

    def retry_views(self) -> tuple[RetryView, ...]:
        """Pending retries, soonest first (the first `SHOWN_RETRIES`)."""
        items = sorted(self.retries.values(), key=lambda r: (r.due_ns, r.msg))
        return tuple(items[:SHOWN_RETRIES])

    def dead_views(self) -> tuple[DeadLetterView, ...]:
        """Dead letters, oldest first (the latest `SHOWN_DEAD_LETTERS`)."""
        items = list(self.dead.values())
        return tuple(items[-SHOWN_DEAD_LETTERS:])


# ---------------------------------------------------------------------------- lessons


def describe_trigger(step: m.LessonStep) -> str:
    """A step's trigger as written: ``at 20s``, ``at end`` or the selector (with `nth`)."""
    if step.event is not None:
        return step.event + (f" (#{step.nth})" if step.nth > 1 else "")
    if step.at == "end":
        return "at end"
    return f"at {(step.at or 0) / 1e9:g}s"


class LessonTracker:
    """Matches a lesson's step triggers against the trace and virtual time, on the host's side."""

    def __init__(self, lesson: m.Lesson | None) -> None:
        self.lesson = lesson
        steps = list(lesson.steps) if lesson is not None else []
        self.steps = steps
        # A step that asks a question pauses too: the student answers before the run goes on.
        self.pauses = [s.pause or s.ask is not None for s in steps]
        self.selectors: dict[int, Selector] = {}
        self.counts: dict[int, int] = {}
        self.times: list[tuple[int, int]] = []
        self.end_steps: list[int] = []
        for i, s in enumerate(steps):
            if s.event is not None:
                self.selectors[i] = parse_selector(s.event)
            elif s.at == "end":
                self.end_steps.append(i)
            else:
                self.times.append((int(s.at or 0), i))
        self.times.sort()
        self.fired: list[tuple[int, int]] = []
        self.pause_request: int | None = None
        self.silent = False
        self.views = tuple(
            LessonStepView(index=i, say=s.say, trigger=describe_trigger(s), pause=self.pauses[i],
                           focus=tuple(s.focus),
                           ask=None if s.ask is None else QuestionView(s.ask.question, s.ask.answer, s.ask.explain,
                                                                       tuple(s.ask.choices or ())))
            for i, s in enumerate(steps))

    def _fire(self, index: int, t: int) -> None:
        self.fired.append((index, t))
        if self.pauses[index] and not self.silent:
            self.pause_request = index

    def observe(self, batch: Sequence[TraceEvent]) -> None:
        """Match a batch of events against the pending event steps."""
        if not self.selectors:
            return
        for ev in batch:
            for i, sel in list(self.selectors.items()):
                if sel.matches(ev):
                    n = self.counts.get(i, 0) + 1
                    self.counts[i] = n
                    if n >= self.steps[i].nth:
                        del self.selectors[i]
                        self._fire(i, ev.t)
            if not self.selectors:
                return

    def at_time(self, now: int) -> None:
        """Fire the time steps whose time has come."""
        while self.times and self.times[0][0] <= now:
            t, i = self.times.pop(0)
            self._fire(i, max(t, 0))

    def at_end(self, now: int) -> None:
        """Fire the `at: end` steps."""
        for i in self.end_steps:
            self._fire(i, now)
        self.end_steps = []

    def next_pause_time(self) -> int | None:
        """The earliest pending time step that pauses (the host stops exactly there)."""
        for t, i in self.times:
            if self.pauses[i]:
                return t
        return None

    def event_pause_pending(self) -> bool:
        """Whether some pending event step pauses (the host then advances one kernel event at a time)."""
        return any(self.pauses[i] for i in self.selectors)

    def view(self) -> LessonView | None:
        """The lesson's progress, frozen."""
        if self.lesson is None:
            return None
        current = self.fired[-1][0] if self.fired else None
        return LessonView(title=self.lesson.title, summary=self.lesson.summary, steps=self.views,
                          fired=tuple(self.fired), current=current)


# ---------------------------------------------------------------------------- the host


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
        self.seed = self.scenario.run.seed if seed is None else seed
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
        self._last_publish = -math.inf
        self._wall_mark = (0.0, 0)
        self._wall_rate = 0.0
        self._rate_samples: deque[tuple[int, dict[str, tuple[int, int]], dict[str, int], dict[str, int]]] = \
            deque(maxlen=32)
        self._rates: tuple[dict[str, tuple[float, float]], dict[str, float], dict[str, float]] = ({}, {}, {})
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
        self._rate_samples.clear()

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
                caught_up = self._advance(budget_s=0.02)
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
        if not force and now - self._last_publish < self._publish_every:
            return
        self._last_publish = now
        self._latest = self._make_snapshot()

    def _measure_rates(self) -> None:
        eng = self.engine
        t = eng.now
        chans = {n: (eng.broker.stats(n).published, eng.broker.stats(n).acked)
                 for n, c in self.scenario.channels.items() if not isinstance(c, m.RouterChannel)}
        prods: dict[str, int] = {}
        for p in eng.producers:  # a producer's instances add up
            prods[p.name] = prods.get(p.name, 0) + p.sent
        cons = {n: sum(i.processed for i in c.instances) for n, c in eng.consumers.items()}
        samples = self._rate_samples
        if samples and samples[-1][0] == t:
            return
        samples.append((t, chans, prods, cons))
        base = samples[0]
        for s in samples:
            if t - s[0] >= 1_000_000_000:
                base = s
            else:
                break
        dt = (t - base[0]) / 1e9
        if dt <= 0:
            return
        self._rates = (
            {n: ((v[0] - base[1].get(n, (0, 0))[0]) / dt, (v[1] - base[1].get(n, (0, 0))[1]) / dt)
             for n, v in chans.items()},
            {n: (v - base[2].get(n, 0)) / dt for n, v in prods.items()},
            {n: (v - base[3].get(n, 0)) / dt for n, v in cons.items()},
        )

    def _make_snapshot(self) -> Snapshot:
        eng = self.engine
        sc = self.scenario
        self._measure_rates()
        ch_rates, prod_rates, cons_rates = self._rates
        wall = time.perf_counter() if self.threaded else self._manual_wall
        mark_wall, mark_events = self._wall_mark
        if wall - mark_wall >= 0.5:
            if mark_wall:
                self._wall_rate = max(0.0, (self.fold.seq - mark_events) / (wall - mark_wall))
            self._wall_mark = (wall, self.fold.seq)
        consumers_of: dict[str, list[Any]] = {}
        for c in eng.consumers.values():
            consumers_of.setdefault(c.spec.from_, []).append(c)
        channels = []
        for name, spec in sc.channels.items():
            if isinstance(spec, m.RouterChannel):
                channels.append(ChannelView(name=name, kind=spec.kind, role="router"))
                continue
            s = eng.broker.stats(name)
            rin, rout = ch_rates.get(name, (0.0, 0.0))
            series = eng.metrics.depth.get(name, [])[-40:]
            role = getattr(spec, "role", "normal")
            health = self._channel_health(role, s, consumers_of.get(name, []), rin, rout)
            channels.append(ChannelView(
                name=name, kind=spec.kind, role=role, published=s.published, ready=s.ready,
                in_flight=s.in_flight, delayed=s.delayed, acked=s.acked, dead_lettered=s.dead_lettered,
                expired=s.expired, dropped=s.dropped, depth=s.depth, rate_in=rin, rate_out=rout,
                depth_series=tuple(p[1] + p[2] + p[3] for p in series), health=health))
        consumers = []
        for name, c in eng.consumers.items():
            prefetch = consumer_prefetch(c.spec, eng.profile)  # 0 = unlimited
            insts = []
            for inst in c.instances:
                state = inst.state
                if state == "running" and inst.busy:
                    state = "busy"
                insts.append(InstanceView(consumer=name, index=inst.index, state=state,
                                          in_flight=len(inst.inflight), prefetch=prefetch,
                                          processed=inst.processed, failed=inst.failed, slow=inst.slow))
            down = [i for i in insts if i.state in ("crashed", "stopped")]
            odd = [i for i in insts if i.state == "paused" or i.slow != 1.0]
            health = "down" if insts and len(down) == len(insts) else ("warn" if down or odd else "ok")
            consumers.append(ConsumerView(
                name=name, channel=c.spec.from_, instances=tuple(insts),
                processed=sum(i.processed for i in insts), failed=sum(i.failed for i in insts),
                rate=cons_rates.get(name, 0.0), health=health))
        per_name: dict[str, list[Any]] = {}
        for p in eng.producers:  # one row per producer, its instances added up
            per_name.setdefault(p.name, []).append(p)
        producers = tuple(ProducerView(name=n, channel=ps[0].spec.to, sent=sum(p.sent for p in ps),
                                       rejected=sum(p.rejected for p in ps), rate=prod_rates.get(n, 0.0))
                          for n, ps in per_name.items())
        if self.outcome is not None:
            results = self.outcome.checks
        else:
            results = eng.checks.live(eng.now)
        checks = tuple(CheckView(name=str(r.get("name")), status=str(r.get("status")),
                                 expected=str(r.get("expected") or ""), observed=str(r.get("observed") or ""),
                                 evidence=tuple(str(x) for x in (r.get("evidence") or ())))
                       for r in results)
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
            channels=tuple(channels), producers=producers, consumers=tuple(consumers), lanes=lanes,
            retries=retries, dead_letters=dead, dead_total=dead_total, checks=checks, recent=recent,
            last_seq=last_seq, lesson=self.lesson.view(), paused_by=self.paused_by if self.pacer.paused else None,
            outcome=self.outcome.outcome if self.outcome else None, replay=self.replay,
            interventions=len(eng.interventions), notes=tuple(self.notes))

    @staticmethod
    def _channel_health(role: str, s: Any, consumers: list[Any], rate_in: float, rate_out: float) -> str:
        if role == "dead_letter":
            return "warn" if s.ready else "ok"
        live = [i for c in consumers for i in c.instances if i.state == "running"]
        if consumers and not live and s.depth > 0:
            return "stall"
        if s.depth > 50 and rate_in > rate_out * 1.2:
            return "warn"
        if not consumers and s.ready > 0:
            return "idle"
        return "ok"


def interventions_from_events(events: Sequence[TraceEvent]) -> list[tuple[int, str, dict[str, Any]]]:
    """Rebuild `Engine.interventions` from recorded `user_intervention` events (for a replay)."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    for ev in events:
        if ev.kind != "user_intervention":
            continue
        data = dict(ev.data or {})
        if data.get("action") == "redrive":
            out.append((ev.t, "redrive", {"channel": ev.channel, "msg": ev.msg}))
        elif isinstance(data.get("fault"), dict):
            out.append((ev.t, "fault", dict(data["fault"])))
        else:
            out.append((ev.t, "fault", data))
    return out
