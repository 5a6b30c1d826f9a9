"""The engine: a scenario, run on the broker core in virtual time.

The engine is handed two parts (`core.port`): a clock (by default the
virtual-time `Kernel`) and a broker (by default the core `Broker`; a run on
a real broker hands in `transports.runtime`'s). It owns the actors
(producers, consumers, the fault timeline, the patterns), which see the run
through an `ActorContext` (`sim.context`), and the trace buffer.
It runs a load phase, then a drain phase until nothing is ready, in flight
or delayed (or the drain maximum passes). It is synchronous and knows
nothing about wall time: pacing (`evtool.sim.pacing`) decides how fast it is
driven, and never what happens.

Trace events go to a buffer; `flush()` hands each batch to the digest, the
metrics, the checks and any listeners (the run store, the dashboard). The
engine never blocks on a listener.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import heapq
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from evtool.core.broker import Broker
from evtool.core.brokerstate import BrokerState
from evtool.core.delivery import Delivery
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.port import BrokerFactory, Clock
from evtool.scenario import models as m
from evtool.scenario.loader import LoadedScenario
from evtool.sim.budget import MemoryWatch, format_bytes
from evtool.sim.consumer import ConsumerActor, Instance
from evtool.sim.context import ActorContext
from evtool.sim.faults import FaultTimeline
from evtool.sim.kernel import LOOP_SAMPLE, PRIO_ACTOR, PRIO_BROKER, PRIO_SAMPLE, Kernel, Limits, describe_loop
from evtool.sim.plan import RunPlan, plan_for
from evtool.sim.producer import ProducerActor
from evtool.sim.rng import run_seed, stream
from evtool.sim.sampling import duration_sampler
from evtool.sim.view import EngineView
from evtool.trace import digest as _digest
from evtool.trace import metrics as _metrics
from evtool.trace.checks import CheckSuite
from evtool.trace.digest import TraceDigest, as_rows
from evtool.trace.metrics import Metrics

# Plain Python takes the no-op decorators of evtool.core._nocython, not Cython's Shadow module (~4 ms of a
# run's start-up to import); compiled, Cython reads `cython.locals` as it compiles this `import cython`,
# which does nothing at run time.
if not __file__.endswith((".so", ".pyd")):
    from evtool.core import _nocython as cython
else:
    import cython


@functools.cache
def _fault_adapter() -> Any:
    """The validator of a hand-made fault, built at the first one (not at import: a run rarely has one)."""
    from pydantic import TypeAdapter

    return TypeAdapter(m.Fault)


def _jsonable(value: Any) -> Any:
    """A copy made of dicts, lists and scalars only, so the run store can keep it for a replay."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


FLUSH_EVERY = 4096
"""Trace events buffered before a flush to the digest, metrics and listeners."""

Listener = Callable[[Sequence[TraceEvent]], None]


@dataclass
class RunOutcome:
    """What a finished (or stopped) run produced."""

    scenario_id: str
    seed: int
    virtual_ns: int
    events: int
    digest: str
    drain: str  # complete | timed_out | stopped
    outcome: str  # passed | failed | unknown | interrupted
    checks: list[dict[str, Any]]
    summary: dict[str, Any]
    aborted_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    limit: str | None = None
    """Set when a budget (events, messages, wall time, a zero-time loop) stopped the run: what and how to raise it."""


@contextlib.contextmanager
def gc_tuned(threshold: int = 100_000) -> Iterator[None]:
    """Collect young objects less often while the engine runs.

    A run allocates millions of short-lived tuples and few cycles; with the
    default threshold (700) the collector runs every few hundred lifecycles
    and rescans the long-lived engine state, which costs about as much as the
    simulation itself. Reference counting still frees almost everything at
    once; this only makes the cycle collector run less often.
    """
    old = gc.get_threshold()
    gc.freeze()  # the scenario, models and engine state are long-lived: stop rescanning them
    gc.set_threshold(threshold, max(old[1], 50), max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def limits_for(loaded: LoadedScenario, *, events: int | None = None, messages: int | None = None,
               wall_s: float | None = None, memory: int | None = None) -> Limits:
    """The run's budget: `run.budget`, with any command-line override."""
    b = loaded.model.run.budget
    return Limits(events=events or b.events, messages=messages or b.messages,
                  wall_s=wall_s if wall_s is not None else (b.wall / 1e9 if b.wall else None),
                  per_instant=b.events_per_instant, memory=memory or b.memory)


class Engine:
    """Runs one scenario deterministically; see the module docstring."""

    def __init__(self, loaded: LoadedScenario, *, seed: int | None = None, duration_ns: int | None = None,
                 listeners: Sequence[Listener] = (), sample_every_ns: int | None = None,
                 limits: Limits | None = None, clock: Clock | None = None,
                 broker: BrokerFactory | None = None, plan: RunPlan | None = None) -> None:
        """`clock` and `broker` are the engine's two parts (`core.port`): by default the virtual-time
        kernel and the core broker; a run on a real broker hands in a wall clock and a `TransportBroker`
        (built by the factory from the profile, the trace sink and `dispatch`). `plan` is the scenario
        translated for the core and the actors (`sim.plan`); by default `plan_for(loaded)`."""
        sc = loaded.model
        self.plan = plan if plan is not None else plan_for(loaded)
        self.limits = limits or limits_for(loaded)
        self.limit_hit: str | None = None
        self._deadline: float | None = None  # the wall-clock end of the budget, set at start
        self._memory = MemoryWatch(self.limits.memory)  # resident memory may grow this much (sim/budget.py)
        self._instant = (-1, 0)  # (virtual time, events processed at it): zero-time loop detection
        self.loaded = loaded
        self.scenario = sc
        self.seed = run_seed(sc, seed)
        self.params = dict(loaded.parameters)
        self.kernel: Any = clock if clock is not None else Kernel()
        if clock is None and sc.explore is not None and sc.explore.schedule is not None:
            from evtool.sim.kernel import ChoosingKernel  # explore's schedule choices (docs/explore.md)

            self.kernel = ChoosingKernel(sc.explore.schedule)
        self.buffer: list[TraceEvent] = []
        self.emit: Callable[[TraceEvent], None] = self.buffer.append
        self.listeners: list[Listener] = list(listeners)
        self.digest = TraceDigest()
        self.load_end = duration_ns if duration_ns is not None else sc.run.duration
        self.drain_max = sc.run.drain.max
        self.phase = "load"
        self.drain_result = "pending"
        self.stopped_reason: str | None = None
        self.aborted_by: str | None = None
        self.profile = self.plan.profile
        if broker is None and clock is None and sc.explore is not None and sc.explore.schedule is not None:
            # explore's broker choices (docs/explore.md), only on profiles that allow some
            from evtool.core.broker_choices import choosing_broker

            broker = choosing_broker(self.profile, sc.explore.schedule)
        self.broker: Any = Broker(self.profile, self.emit) if broker is None else \
            broker(self.profile, self.emit, self.dispatch)
        # a broker that pushes deliveries (a real one) has nothing to pump and owns its timers, and the
        # real network is its hop latency
        self.real_broker = bool(self.broker.pushes_deliveries)
        if self.real_broker:
            self._after_event = self._nothing_to_pump  # type: ignore[method-assign]
        # work queues whose ready messages keep the drain from completing (see `quiescent`)
        self._held_queues = self.plan.held_queues
        self.broker_up = True
        self._broker_timer: int | None = None
        self._wakeups: list[int] = []  # times of the `_fire_broker` entries in the kernel's heap (a heap)
        self.subscribers: dict[int, Instance] = {}
        self.hop = duration_sampler(sc.broker.hop_latency)
        self.hop_zero = sc.broker.hop_latency == 0 or self.real_broker
        self.hop_rng = self.stream("broker/hop")
        self.hop_last: dict[tuple[str | None, str], int] = {}  # per publisher and channel: the last arrival
        self.fault_rng = self.stream("faults")
        self.channel_faults: dict[str, list[Any]] = {}
        self.producer_faults: dict[str, list[Any]] = {}
        self.app_dead_letters = 0
        self.replies = 0
        self.plan.declare(self.broker)
        self.consumers: dict[str, ConsumerActor] = {}
        self.patterns: list[Any] = []
        self.ctx = ActorContext(
            self, kernel=self.kernel, emit=self.emit, broker=self.broker, publish=self.publish, reply=self.reply,
            dead_letter_by_app=self.dead_letter_by_app, log_processed=self.on_log_processed, stream=self.stream,
            scenario=sc, params=self.params, profile=self.profile, subscribers=self.subscribers,
            consumers=self.consumers, channel_faults=self.channel_faults, producer_faults=self.producer_faults,
            fault_rng=self.fault_rng)
        """What the actors see of the run (never the engine itself)."""
        ctx = self.ctx
        self.producers: list[ProducerActor] = []
        for n, p in sc.producers.items():
            first = ProducerActor(ctx, n, p)  # `instances` identical producers, each at the producer's rate
            self.producers += [first, *(ProducerActor(ctx, n, p, i, first) for i in range(1, p.instances))]
        for n, c in sc.consumers.items():
            self.consumers[n] = ConsumerActor(ctx, n, c)
        self.faults = FaultTimeline(ctx)
        self.metrics = Metrics(sc)
        # patterns run on the core and on the real brokers whose topology holds their channels
        # (`runs_patterns`; on the others transports.capabilities says they are left out)
        if not self.real_broker or getattr(self.broker, "runs_patterns", False):
            self._build_patterns()  # before the checks: a responder is a consumer they may watch
        # what checks and metrics may read of the run, besides the trace
        self.view = EngineView(self.kernel, self.broker, self.consumers, self.patterns)
        self.checks = CheckSuite(sc, self.view, self.metrics)
        span = self.load_end + self.drain_max
        self.sample_every = sample_every_ns or max(10_000_000, span // 400)
        self._started = False
        self.interventions: list[tuple[int, str, dict[str, Any]]] = []

    # ------------------------------------------------------------------ helpers for actors

    @property
    def now(self) -> int:
        """Virtual time in nanoseconds."""
        return self.kernel.now

    @property
    def pending_work(self) -> int:
        """Application work in progress (handlers running, delayed publishes); the drain waits for it."""
        return int(self.ctx.pending_work)

    def dispatch(self, d: Delivery) -> None:
        """Hand a delivery to the consumer instance subscribed as `d.sub` (a broker that pushes calls it)."""
        inst = self.subscribers.get(d.sub)
        if inst is not None:
            inst.consumer.on_delivery(inst, d)

    def stream(self, name: str) -> random.Random:
        """A seeded random stream for one component and purpose."""
        return stream(self.seed, name)

    def publish(self, channel: str, msg: Message, *, producer: str | None = None, republish: bool = False) -> bool:
        """Publish through the broker, applying hop latency and any active publish faults."""
        if not (self.channel_faults or self.producer_faults):
            if self.hop_zero and self.broker_up:  # the common case, without the extra calls
                now = self.kernel.now
                if not msg.published_at:
                    msg.published_at = now
                return self.broker.publish(now, channel, msg)
            faults = None
        else:
            faults = self.channel_faults.get(channel) or (self.producer_faults.get(producer) if producer else None)
        if faults:
            for f in faults:
                outcome = f.on_publish(msg)
                if outcome == "drop":
                    self.emit(TraceEvent(self.now, "dropped", msg.id, channel, producer, None, msg.key, 0, msg.tag,
                                         {"reason": "fault", "fault": f.name}))
                    return True
                if outcome == "duplicate":
                    self._publish_now(channel, msg, duplicate=True)
                elif isinstance(outcome, int):
                    self.ctx.pending_work += 1
                    self.kernel.at(self.now + outcome, self._publish_later, (channel, msg), PRIO_ACTOR)
                    return True
        if self.hop_zero:
            return self._publish_now(channel, msg)
        # One publisher's hop to one channel is one connection: it keeps the publisher's order
        # ("messages published in one channel, passing through one exchange and one queue and one
        # outgoing channel will be received in the same order that they were sent",
        # https://www.rabbitmq.com/docs/semantics#ordering). A random hop latency delays a message,
        # it never lets a later publish of the same publisher overtake it.
        lane = (producer or msg.producer, channel)
        arrive = max(self.now + self.hop(self.hop_rng), self.hop_last.get(lane, 0))
        self.hop_last[lane] = arrive
        self.ctx.pending_work += 1
        self.kernel.at(arrive, self._publish_later, (channel, msg), PRIO_ACTOR)
        return True

    def _publish_later(self, item: tuple[str, Message]) -> None:
        self.ctx.pending_work -= 1
        self._publish_now(*item)

    def _publish_now(self, channel: str, msg: Message, duplicate: bool = False) -> bool:
        if not self.broker_up:
            self.emit(TraceEvent(self.now, "publish_rejected", msg.id, channel, msg.producer, None, msg.key, 0,
                                 msg.tag, {"reason": "broker_down"}))
            return False
        now = self.kernel.now
        msg.published_at = msg.published_at or now
        return self.broker.publish(now, channel, msg)

    def reply(self, responder: str, request: Message, *, ok: bool, error: str | None) -> None:
        """Send an automatic reply to a request's reply_to channel."""
        self.replies += 1
        out = request.follow_up(f"{responder}-reply-{self.replies}", request.reply_to or "", producer=responder,
                                now=self.now, type=f"{request.type}Reply",
                                payload={"ok": ok, "error": error, "request": request.payload})
        if request.reply_to:
            self.publish(request.reply_to, out, producer=responder)

    def dead_letter_by_app(self, consumer: str, d: Delivery, target: str, error: str, kind: str) -> None:
        """The application moves a message to its own dead-letter channel.

        The copy is dead-lettered as a broker would do it (`Message.with_death`: a death record naming the
        channel it died in, so a redrive can send it back; no TTL, so it cannot expire in the dead-letter
        channel) and keeps everything else, reply_to included.
        """
        self.app_dead_letters += 1
        msg = d.msg
        self.emit(TraceEvent(self.now, kind, msg.id, d.channel, consumer, None, msg.key, d.attempt, msg.tag,
                             {"reason": "rejected", "target": target, "error": error, "by": "application"}))
        copy = msg.with_death(d.channel, "rejected", self.now).republish(target, headers={"x-death-reason": error})
        self._publish_now(target, copy)

    def on_log_processed(self, consumer: ConsumerActor, inst: Instance, d: Delivery) -> None:
        """A log record was handled: commit now, or let the periodic commit take it."""
        if consumer.spec.commit.mode == "per_message" and d.partition is not None and d.offset is not None:
            if d.sub in self.subscribers:
                self.broker.commit(self.now, d.sub, d.partition, d.offset + 1)

    # ------------------------------------------------------------------ building

    def _build_patterns(self) -> None:
        if not self.scenario.patterns:
            return
        try:
            from evtool.sim.patterns import build_patterns
        except ImportError:  # the patterns module arrives with the lesson library
            return
        self.patterns.extend(build_patterns(self.ctx))

    def start(self) -> None:
        """Start every actor and the timeline (idempotent)."""
        if self._started:
            return
        self._started = True
        if self.limits.wall_s is not None:
            self._deadline = time.monotonic() + self.limits.wall_s
        for c in self.consumers.values():
            c.start()
        for p in self.producers:
            p.start()
        for pat in self.patterns:
            pat.start()
        self.faults.start()
        self.kernel.at(self.load_end, self._end_load, None, PRIO_SAMPLE)
        self.kernel.at(0, self._sample, None, PRIO_SAMPLE)
        for c in self.consumers.values():
            if c.spec.commit.mode == "periodic" and isinstance(self.scenario.channels.get(c.spec.from_),
                                                               m.LogChannel):
                self.kernel.at(c.spec.commit.interval, self._commit_tick, c, PRIO_ACTOR)
        self._after_event()

    def _commit_tick(self, consumer: ConsumerActor) -> None:
        for inst in consumer.instances:
            if inst.sub is not None and inst.state == "running":
                self.broker.commit_processed(self.now, inst.sub)
        if self.phase != "done":
            self.kernel.at(self.now + consumer.spec.commit.interval, self._commit_tick, consumer, PRIO_ACTOR)

    def _end_load(self, _: Any) -> None:
        if self.phase == "load":
            self.phase = "drain"
            self.emit(TraceEvent(self.now, "load_ended"))
            self.kernel.at(self.load_end + self.drain_max, self._drain_deadline, None, PRIO_SAMPLE)

    def _drain_deadline(self, _: Any) -> None:
        if self.phase == "drain":
            self.drain_result = "timed_out"
            self.emit(TraceEvent(self.now, "drain_timed_out", data={"pending": self.pending_summary()}))
            self.phase = "done"

    def _sample(self, _: Any) -> None:
        self.flush()
        self.metrics.sample(self.now, self.view)
        self.broker.restart_peaks()
        self.checks.tick(self.now)
        if self.checks.alerts:
            for ev in self.checks.tick_alerts(self.now):
                self.emit(ev)
        if self.checks.abort_reason and self.phase != "done":
            self.aborted_by = self.checks.abort_reason
            self.stopped_reason = "aborted"
            self.phase = "done"
        if self.phase != "done":
            self.kernel.at(self.now + self.sample_every, self._sample, None, PRIO_SAMPLE)

    def pending_summary(self) -> dict[str, int]:
        """What is still outstanding: broker state and application work."""
        ready = in_flight = delayed = 0
        for name in self.scenario.channels:
            s = self.broker.stats(name)
            ready += s.ready
            in_flight += s.in_flight
            delayed += s.delayed
        return {"ready": ready, "in_flight": in_flight, "delayed": delayed, "app": self.ctx.pending_work}

    def quiescent(self) -> bool:
        """Nothing ready, in flight, delayed or pending in the application."""
        if self.ctx.pending_work > 0:
            return False
        if not self.broker_up:
            # a broker_restart with downtime: its return is scheduled and the consumers subscribe again
            # then; the messages it holds are not drained yet (found by tests/property)
            return False
        if any(not p.idle() for p in self.patterns):
            return False
        if not self.broker.idle():
            return False
        # Ready messages in a work queue whose consumers are all gone are still held: the drain is not
        # complete (it waits for a restart or drain.max). Dead-letter, retry and parking-lot queues that
        # nobody reads hold their messages by design. (Found by tests/property.)
        return not any(self.broker.stats(name).ready for name in self._held_queues)

    # ------------------------------------------------------------------ the loop

    @cython.locals(core=BrokerState, subs=dict)
    def _after_event(self) -> None:
        broker = self.broker
        # the core broker (a BrokerState): a compiled build reads its flags and heap as fields, not by name
        # (another BrokerPort, as a test may hand in, is read by name)
        core = broker if isinstance(broker, BrokerState) else None
        now = self.kernel.now
        # pump only when some queue or group changed (a read-only peek at the broker's dirty set)
        dirty = core._dirty if core is not None else broker._dirty  # noqa: SLF001
        if dirty:
            pump = broker.pump
            subs = self.subscribers
            deliveries = pump(now)
            while deliveries:
                for d in deliveries:
                    inst = subs.get(d.sub)
                    if inst is not None:
                        inst.consumer.on_delivery(inst, d)
                dirty = core._dirty if core is not None else broker._dirty  # noqa: SLF001
                deliveries = pump(now) if dirty else None
        # The broker's timer heap holds hints that are never later than the real due time, so
        # the (costlier) validated next_timer() is needed only when a hint is earlier than the
        # wake-up already scheduled.
        hints = core._timers if core is not None else broker._timers  # noqa: SLF001 - a read-only peek at the hint heap
        bt = self._broker_timer
        if hints and (bt is None or hints[0][0] < bt):
            nt = broker.next_timer()
            if nt is not None and (bt is None or nt < bt):
                self._broker_timer = nt
                heapq.heappush(self._wakeups, nt)
                self.kernel.at(nt, self._fire_broker, nt, PRIO_BROKER)

    def _nothing_to_pump(self) -> None:
        """After an event, with a broker that pushes deliveries and owns its timers: nothing to do."""

    def _fire_broker(self, t: int) -> None:
        wakeups = self._wakeups
        heapq.heappop(wakeups)  # this one (entries fire in time order)
        # the earliest wake-up still pending: a later timer needs no entry of its own before it
        self._broker_timer = wakeups[0] if wakeups else None
        broker = self.broker
        broker.fire_timers(self.kernel.now)
        if broker.closed_subs:
            self._reopen_channels()

    def _reopen_channels(self) -> None:
        """The broker closed consumers' channels (RabbitMQ consumer_timeout): each instance opens a new
        channel and consumes again, as a client library's channel recovery does. Work in progress goes on;
        its ack names a delivery tag of the closed channel, which the broker refuses (profile stale_ack)."""
        closed, self.broker.closed_subs = self.broker.closed_subs, []
        for sid in closed:
            inst = self.subscribers.pop(sid, None)
            if inst is None or inst.sub != sid:
                continue
            inst.sub = None
            if inst.state in ("running", "paused") and self.broker_up:
                inst.consumer.reconnect(inst)

    def step(self) -> bool:
        """Process one kernel event; False when the run is over."""
        if self.phase == "done":
            return False
        if not self._started:
            self.start()
        kernel = self.kernel
        if kernel.processed >= self.limits.events:
            self._over_budget("events")
            return False
        if not kernel.step():
            self._finish_drain()
            return False
        self._after_event()
        if len(self.buffer) >= FLUSH_EVERY:
            self.flush()
        if self.phase == "drain" and self.quiescent():
            self._finish_drain()
        return self.phase != "done"

    def end_load_now(self) -> None:
        """End the load phase now and start the drain (its maximum counts from here): a real-time run with
        nothing left to send does not wait out the rest of the load phase."""
        if self.phase == "load":
            self.load_end = self.now
            self._end_load(None)

    def complete_drain(self) -> None:
        """The drain is complete (a driver that polls `quiescent` says so)."""
        self._finish_drain()

    def _finish_drain(self) -> None:
        if self.phase == "done":
            return
        if self.drain_result == "pending":
            self.drain_result = "complete"
            self.emit(TraceEvent(self.now, "drain_ended"))
        self.phase = "done"

    @cython.locals(core=BrokerState, vk=Kernel)
    def run_until(self, t_limit: float, max_events: int | None = None) -> bool:
        """Process every event at or before `t_limit` (or `max_events` of them); False when over."""
        if not self._started:
            self.start()
        kernel = self.kernel
        # the virtual kernel (a Kernel): a compiled build sets its clock as a field; another clock by name
        vk = kernel if isinstance(kernel, Kernel) else None
        heap = kernel._heap  # noqa: SLF001 - the hot loop pops the kernel's heap directly
        pop = heapq.heappop
        after = self._after_event
        broker = self.broker
        real = self.real_broker
        # the core broker (a BrokerState; another BrokerPort is read as before): its flags read without a lookup
        core = broker if not real and isinstance(broker, BrokerState) else None
        buf = self.buffer
        budget = max_events if max_events is not None else -1
        # The events budget is folded into the caller's: no extra test per event.
        left = self.limits.events - kernel.processed
        if budget < 0 or budget > left:
            budget = max(left, 0)
        per_instant = self.limits.per_instant
        # `run()` goes to infinity: no comparison of each event's (int) time with a float
        bounded = t_limit != math.inf
        last_t, same = self._instant
        processed = 0
        while self.phase != "done" and processed != budget:
            if not heap:
                self._finish_drain()
                break
            if bounded and heap[0][0] > t_limit:
                if kernel.now < t_limit:
                    kernel.now = int(t_limit)
                break
            t, _prio, _seq, fn, arg = pop(heap)
            if t != last_t:
                last_t = t
                same = 0
            else:
                same += 1
                if same >= per_instant:  # virtual time stopped while events pile up: a zero-time loop
                    heapq.heappush(heap, (t, _prio, _seq, fn, arg))
                    break
            if vk is not None:
                vk.now = t
            else:
                kernel.now = t
            processed += 1
            fn(arg)
            # `_after_event` has work only when a queue changed or the broker's earliest timer hint is earlier
            # than the wake-up already scheduled (the same tests it makes; read-only peeks)
            if real or (core._dirty if core is not None else broker._dirty):  # noqa: SLF001
                after()
            else:
                hints = core._timers if core is not None else broker._timers  # noqa: SLF001
                if hints and (self._broker_timer is None or hints[0][0] < self._broker_timer):
                    after()
            if len(buf) >= FLUSH_EVERY:
                self.flush()
            if self.phase == "drain" and self.quiescent():
                self._finish_drain()
        kernel.processed += processed
        self._instant = (last_t, same)
        if self.phase != "done":
            if same >= per_instant:
                self._zero_time_loop()
            elif kernel.processed >= self.limits.events:
                self._over_budget("events")
            elif self._deadline is not None and time.monotonic() > self._deadline:
                self._over_budget("wall")
            elif self._memory.over():
                self._over_budget("memory")
        return self.phase != "done"

    # ------------------------------------------------------------------ budgets

    def _over_budget(self, which: str) -> None:
        """Stop the run because one of its budgets is spent; the outcome is unknown."""
        lim = self.limits
        if which == "events":
            text = (f"the run reached its budget of {lim.events:,} kernel events "
                    "(raise it with --max-events N, or `run: {budget: {events: N}}`)")
        elif which == "messages":
            text = (f"the run published more than its budget of {lim.messages:,} messages "
                    "(raise it with --max-messages N, or `run: {budget: {messages: N}}`)")
        elif which == "memory":
            text = (f"the run's resident memory grew by more than its budget of {format_bytes(lim.memory or 0)} "
                    "(raise it with --max-memory 2GB, or `run: {budget: {memory: 2GB}}`)")
        else:
            text = (f"the run took longer than its wall-time budget of {lim.wall_s or 0:g}s "
                    "(raise it with --max-wall 5m, or `run: {budget: {wall: 5m}}`)")
        self._stop_for_limit(f"budget exceeded: {text}")

    def _stop_for_limit(self, message: str) -> None:
        if self.limit_hit is None:
            self.limit_hit = message
            self.stopped_reason = "budget"
        self.phase = "done"

    def _zero_time_loop(self) -> None:
        """Run a bounded sample of the loop to see who takes part, then stop the run naming them."""
        kernel = self.kernel
        heap = kernel._heap  # noqa: SLF001
        now = kernel.now
        mark = len(self.buffer)
        n = 0
        while heap and heap[0][0] == now and n < LOOP_SAMPLE:
            _t, _prio, _seq, fn, arg = heapq.heappop(heap)
            fn(arg)
            self._after_event()
            n += 1
        kernel.processed += n
        self._stop_for_limit(describe_loop(self.buffer[mark:], now, self.limits.per_instant))

    def run(self) -> RunOutcome:
        """Run to the end as fast as possible and return the outcome."""
        with gc_tuned():
            self.run_until(math.inf)
        return self.finish()

    def stop(self, reason: str = "interrupted") -> None:
        """End the run early (Ctrl-C, or a user's quit)."""
        self.stopped_reason = reason
        self.phase = "done"

    # ------------------------------------------------------------------ hand-made interventions

    def inject_fault(self, action: str, target: str, **params: Any) -> None:
        """Carry out a fault now, by hand; recorded as `user_intervention` so a replay repeats it."""
        spec_data = {"action": action, "target": target, **params}
        fault = _fault_adapter().validate_python(spec_data)
        self.emit(TraceEvent(self.now, "user_intervention", None, None, "user", None, None, 0, None,
                             {"action": "fault", "fault": _jsonable(spec_data)}))
        self.interventions.append((self.now, "fault", spec_data))
        if not self._started:
            self.start()
        self.faults.apply(f"manual-{action}-{len(self.interventions)}", fault)
        self._after_event()

    def redrive(self, dead_letter_channel: str, msg_id: str | None = None) -> int:
        """Send dead letters back to their original channel, by hand."""
        self.emit(TraceEvent(self.now, "user_intervention", msg_id, dead_letter_channel, "user", None, None, 0,
                             None, {"action": "redrive"}))
        self.interventions.append((self.now, "redrive", {"channel": dead_letter_channel, "msg": msg_id}))
        n = self.broker.redrive(self.now, dead_letter_channel, msg_id)
        self._after_event()
        return n

    def schedule_interventions(self, items: Sequence[tuple[int, str, dict[str, Any]]]) -> None:
        """Replay recorded interventions at their virtual times (for `evtool replay`)."""
        for t, kind, data in items:
            self.kernel.at(t, self._replay_intervention, (kind, data), 0)

    def _replay_intervention(self, item: tuple[str, dict[str, Any]]) -> None:
        kind, data = item
        if kind == "fault":
            params = dict(data)
            self.inject_fault(params.pop("action"), params.pop("target"), **params)
        elif kind == "redrive":
            self.redrive(data["channel"], data.get("msg"))

    def flush(self) -> None:
        """Hand buffered trace events to the digest, metrics, checks and listeners."""
        buf = self.buffer
        if not buf:
            return
        batch = list(buf)
        buf.clear()
        # plain tuples, made once: the digest needs them, the metrics read them faster; a compiled build's
        # encoder and metric folds read the events themselves as fast (the same bytes and counts)
        compiled = _digest._encode_rows is not None and _metrics._fold_kinds is not None  # noqa: SLF001
        rows = batch if compiled else as_rows(batch)
        self.digest.update_rows(rows)
        self.metrics.consume(rows)
        self.checks.consume(batch)
        for listener in self.listeners:
            listener(batch)
        if self.phase != "done":
            # Once per batch, not per event: a batch holds at most a few thousand publishes.
            if self.metrics.counts.get("published", 0) > self.limits.messages:
                self._over_budget("messages")
            elif self._deadline is not None and time.monotonic() > self._deadline:
                self._over_budget("wall")
            elif self._memory.over():
                self._over_budget("memory")

    def finish(self) -> RunOutcome:
        """Close the run: final flush, checks evaluated, summary built."""
        if self.phase != "done":
            self.stop("stopped")
        ended: dict[str, Any] = {"drain": self.drain_result, "stopped": self.stopped_reason}
        if self.limit_hit:
            ended["limit"] = self.limit_hit
        self.emit(TraceEvent(self.now, "run_ended", data=ended))
        self.flush()
        self.metrics.sample(self.now, self.view)
        drain = self.drain_result if self.drain_result != "pending" else "stopped"
        results = self.checks.finish(self.now, drain)
        statuses = [r["status"] for r in results]
        if self.stopped_reason == "interrupted":
            outcome = "interrupted"
        elif self.limit_hit is not None:
            outcome = "unknown"  # the run did not finish: nothing it saw decides the checks
        elif "fail" in statuses:
            outcome = "failed"
        elif "unknown" in statuses or drain == "timed_out":
            outcome = "unknown"
        else:
            outcome = "passed"
        summary = self.metrics.summary(self.view)
        summary["drain"] = drain
        return RunOutcome(
            scenario_id=self.scenario.id,
            seed=self.seed,
            virtual_ns=self.now,
            events=self.digest.count,
            digest=self.digest.hexdigest(),
            drain=drain,
            outcome=outcome,
            checks=results,
            summary=summary,
            aborted_by=self.aborted_by,
            limit=self.limit_hit,
        )
