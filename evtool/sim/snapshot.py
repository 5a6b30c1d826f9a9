"""The immutable snapshot of a hosted run: the only thing the dashboard reads.

The engine host (`evtool.sim.host`) folds the trace into bounded structures
on the engine's side and, a few times a second, freezes them into a
`Snapshot`. A snapshot is plain frozen data (tuples, strings, numbers and
`TraceEvent`s), so it can cross the thread boundary without a lock and be
compared cheaply: a widget whose part of the snapshot did not change does no
work.

Cell and message states (the words the dashboard shows, with a symbol so
they read in a monochrome terminal too)::

    ready     ○  waiting in the channel
    inflight  ●  delivered, not settled yet
    retry     ↻  parked for a retry (backoff)
    acked     ✓  done
    dead      ✗  dead-lettered
    expired   ⊘  TTL passed
    dropped   ∅  discarded
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evtool.core.events import TraceEvent
from evtool.sim.lessonview import LessonStepView, LessonView, QuestionView  # noqa: F401  (re-exported)

STATE_SYMBOLS: dict[str, str] = {
    "ready": "○",
    "inflight": "●",
    "retry": "↻",
    "acked": "✓",
    "dead": "✗",
    "expired": "⊘",
    "dropped": "∅",
}
"""One symbol per message state (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class ChannelView:
    """One channel's counters, rates (per virtual second) and recent depth."""

    name: str
    kind: str
    role: str
    published: int = 0
    ready: int = 0
    in_flight: int = 0
    delayed: int = 0
    acked: int = 0
    dead_lettered: int = 0
    expired: int = 0
    dropped: int = 0
    depth: int = 0
    rate_in: float = 0.0
    rate_out: float = 0.0
    depth_series: tuple[int, ...] = ()
    health: str = "ok"  # ok | warn | stall | idle


@dataclass(frozen=True, slots=True)
class InstanceView:
    """One consumer instance (billing#0)."""

    consumer: str
    index: int
    state: str  # running | busy | crashed | paused | stopped
    in_flight: int
    prefetch: int
    processed: int
    failed: int
    slow: float = 1.0

    @property
    def name(self) -> str:
        """The instance's display name, e.g. ``billing#0``."""
        return f"{self.consumer}#{self.index}"


@dataclass(frozen=True, slots=True)
class ConsumerView:
    """A consumer and its instances."""

    name: str
    channel: str
    instances: tuple[InstanceView, ...]
    processed: int = 0
    failed: int = 0
    rate: float = 0.0
    health: str = "ok"  # ok | warn | down


@dataclass(frozen=True, slots=True)
class ProducerView:
    """A producer: where it publishes and how much."""

    name: str
    channel: str
    sent: int = 0
    rejected: int = 0
    rate: float = 0.0


@dataclass(frozen=True, slots=True)
class LaneCell:
    """One message in a lane: its state, delivery count and whether it broke its key's order."""

    msg: str
    key: str | None
    state: str
    attempt: int
    broken: bool = False


@dataclass(frozen=True, slots=True)
class LaneView:
    """The most recent messages of one queue (or one log partition), oldest first."""

    name: str
    channel: str
    cells: tuple[LaneCell, ...]
    order_breaks: int = 0
    kind: str = "queue"
    """What the lane is: `queue` (a whole queue: no order is promised, no order breaks are marked),
    `partition` (a log partition), `group` (a message group of a grouped queue) or `key` (one key of a
    queue whose consumer declares `ordering`)."""
    part: str | None = None
    """The partition number, the message group or the key (None for a whole queue)."""


@dataclass(frozen=True, slots=True)
class RetryView:
    """A pending retry: which attempt comes next, and when (virtual time)."""

    msg: str
    channel: str
    consumer: str
    key: str | None
    next_attempt: int
    max_attempts: int | None
    due_ns: int
    delay_ns: int
    mode: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    """One dead letter: where it came from, why, after how many attempts."""

    msg: str
    channel: str  # the dead-letter channel
    source: str
    reason: str
    error: str | None
    attempts: int
    t: int
    key: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class CheckView:
    """A live (or, at the end, final) verdict of one expectation."""

    name: str
    status: str  # pass | fail | unknown
    expected: str
    observed: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MessageLife:
    """A message's lifecycle as the host saw it (a bounded window), and what it caused."""

    msg: str
    key: str | None
    tag: str | None
    channel: str | None
    causation: str | None
    correlation: str | None
    state: str
    attempts: int
    events: tuple[TraceEvent, ...]
    caused: tuple[str, ...] = ()
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the dashboard shows at one moment of a hosted run."""

    version: int
    scenario_id: str
    title: str
    seed: int
    now_ns: int
    end_ns: int
    phase: str  # load | drain | done
    paused: bool
    speed: float
    events: int
    events_per_s: float
    digest: str
    channels: tuple[ChannelView, ...] = ()
    producers: tuple[ProducerView, ...] = ()
    consumers: tuple[ConsumerView, ...] = ()
    lanes: tuple[LaneView, ...] = ()
    retries: tuple[RetryView, ...] = ()
    dead_letters: tuple[DeadLetterView, ...] = ()
    dead_total: int = 0
    checks: tuple[CheckView, ...] = ()
    recent: tuple[tuple[int, TraceEvent], ...] = ()
    last_seq: int = 0
    lesson: LessonView | None = None
    paused_by: str | None = None
    outcome: str | None = None  # passed | failed | unknown | interrupted, once the run is over
    replay: bool = False
    interventions: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def finished(self) -> bool:
        """True once the run is over."""
        return self.phase == "done"


def empty_snapshot(scenario_id: str = "", title: str = "") -> Snapshot:
    """A snapshot with nothing in it (before the host published its first)."""
    return Snapshot(version=0, scenario_id=scenario_id, title=title, seed=0, now_ns=0, end_ns=0, phase="load",
                    paused=True, speed=1.0, events=0, events_per_s=0.0, digest="")
