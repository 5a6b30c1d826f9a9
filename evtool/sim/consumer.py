"""Consumers: instances that take deliveries, handle them and settle them.

A consumer has `instances`, each with `concurrency` handler slots and a
`prefetch` credit at the broker. A handler takes the processing time, then
either succeeds (effects, emits, reply, ack) or fails (by the first matching
`fail_if` rule). A failure goes through the retry policy, whose decision the
consumer carries out in the policy's mode:

* `redeliver`: nack with a delay; the broker's delivery counter keeps counting;
* `in_place`: the handler retries itself after the delay, holding its slot;
* `republish`: ack, then publish a fresh copy later (the broker's counter resets).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import Any

from evtool.core.delivery import Delivery
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.scenario import models as m
from evtool.scenario.expressions import (
    Expression,
    ExpressionRuntimeError,
    compile_expression,
)
from evtool.scenario.templates import TemplateRuntimeError
from evtool.sim import lean
from evtool.sim.context import ActorContext
from evtool.sim.effects import initial_state
from evtool.sim.hooks import HandlerHooks
from evtool.sim.kernel import PRIO_ACTOR, Kernel
from evtool.sim.plan import Behaviour, Rule, consumer_prefetch, core_retry, message_field

# Plain Python takes the no-op decorators of evtool.core._nocython, not Cython's Shadow module (~4 ms of a
# run's start-up to import); compiled, Cython reads `cython.locals` as it compiles this `import cython`,
# which does nothing at run time.
if not __file__.endswith((".so", ".pyd")):
    from evtool.core import _nocython as cython
else:
    import cython

CRASH_RESTART_NS = 1_000_000_000
"""How long an instance stays down after a `crash: true` rule fires."""

_new = tuple.__new__  # builds a TraceEvent without the named tuple's Python-level __new__ (as the core does)

class Instance:
    """One running copy of a consumer (billing#0)."""

    __slots__ = ("consumer", "index", "sub", "state", "epoch", "buffer", "busy", "processed", "failed",
                 "slow", "extra", "deferred", "inflight", "lanes", "batch", "batch_gen", "batches")

    def __init__(self, consumer: ConsumerActor, index: int) -> None:
        self.consumer = consumer
        self.index = index
        self.sub: int | None = None
        self.state = "running"  # running | crashed | paused | stopped
        self.epoch = 0
        self.buffer: deque[Delivery] = deque()
        self.busy = 0
        self.processed = 0
        self.failed = 0
        self.slow = 1.0
        self.extra: Callable[..., int] | None = None
        self.deferred: list[tuple[Callable[[Any], None], Any]] = []
        self.batch: list[Delivery] = []
        self.batch_gen = 0
        self.batches: deque[list[Delivery]] = deque()
        self.inflight: dict[int, Delivery] = {}
        self.lanes: set[Any] = set()


class ConsumerActor:
    """A consumer from the scenario, run by the engine."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.Consumer) -> None:
        self.ctx = ctx
        self.name = name
        self.spec = spec
        self.group = spec.group or name
        self.rng = ctx.stream(f"consumer:{name}/behaviour")
        self.state = initial_state(spec.state)
        self.default = Behaviour(spec.processing, spec.fail_if, spec.effects, spec.emit)
        self.behaviours = {
            t: Behaviour(h.processing if h.processing is not None else spec.processing,
                         h.fail_if, h.effects, h.emit)
            for t, h in spec.handles.items()
        }
        self.retry = core_retry(spec.retry) if spec.retry is not None else None
        self.idem_key: Expression | None = (compile_expression(spec.idempotency.key)
                                            if spec.idempotency is not None else None)
        self.idem_window = spec.idempotency.window if spec.idempotency is not None else 0
        # `msg.id` and the like are read straight from the message (the common idempotency key); a key
        # that does not read the state is evaluated once per handling, not before and after the effects
        self._idem_field = message_field(self.idem_key) if self.idem_key is not None else None
        self._idem_reads_state = self.idem_key is not None and "state" in self.idem_key.names_used
        self.idem_seen: dict[Any, int] = {}
        # when each key was recorded, in order, as two parallel queues (no tuple per handling)
        self.idem_times: deque[int] = deque()
        self.idem_keys: deque[Any] = deque()
        self.attempts: dict[str, int] = {}
        self.prev_delay: dict[str, int] = {}
        self.instances: list[Instance] = []
        self.auto_ack = spec.ack == "auto"
        # Facts the scenario asks the trace to carry with each handling (checks only read them).
        self.business_key: Expression | None = (compile_expression(spec.business_key)
                                                if spec.business_key is not None else None)
        self.ordering: tuple[Expression, Expression] | None = (
            (compile_expression(spec.ordering.key), compile_expression(spec.ordering.seq))
            if spec.ordering is not None else None)
        self.emitted = 0
        self.handled = 0
        # Log consumers serialise work per partition or per key ("dispatch"); queues never do.
        self.batch_spec = spec.batch
        self.lane_mode = spec.dispatch if isinstance(ctx.scenario.channels.get(spec.from_), m.LogChannel) \
            else "unordered"
        self.concurrency = spec.concurrency
        self._auto_reply = spec.reply == "auto"
        # whether a success needs the names (msg, state, ...) whatever the behaviour, and the behaviours
        # whose effects read them (`inc: handled` does not)
        self._success_env = (self._auto_reply or self.business_key is not None or self.ordering is not None
                             or (self.idem_key is not None and self._idem_field is None))
        self._effects_read = [b for b in (self.default, *self.behaviours.values())
                              if any(eff.reads_names for eff in b.effects)]
        self.plain = False  # decided at start, see _takes_plain_path
        self._core_kernel = False  # decided at start
        self.hooks: HandlerHooks | None = None
        """Explicit extension points around the handler, for a pattern that takes part in this consumer's
        work (the transactional outbox); see `HandlerHooks`."""

    def _takes_plain_path(self) -> bool:
        """Whether every delivery can take the plain path: start, wait, log `handled`, ack.

        That is the common consumer of a queue: no fail_if rules, effects, emits or
        per-type handlers, no idempotency, auto reply, auto ack, batches or lanes, and no
        declared business key or ordering to record. Nothing can fail then,
        so `attempts` stays empty (every attempt is the first) and the generic
        `_handle` / `_settle_ok` / `kernel.at` calls (a third of a lifecycle's calls)
        can be skipped. Decided once at start from the scenario alone (never from which checks
        exist), on the clock the engine was handed (only the virtual one); a subclass of this actor (the
        request-reply responder) always takes the generic path.
        """
        beh = self.default
        return (type(self) is ConsumerActor and type(self.ctx.kernel) is Kernel
                and not self.behaviours and not beh.rules and not beh.effects and not beh.emits
                and self.idem_key is None and not self.auto_ack and self.batch_spec is None
                and self.lane_mode == "unordered" and self.spec.reply != "auto"
                and self.business_key is None and self.ordering is None
                and not isinstance(self.ctx.scenario.channels.get(self.spec.from_), m.LogChannel))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start every instance (at `start`, for a late subscriber)."""
        self._complete_fn = self._complete  # the plain path's completion callback, bound once
        self._ack = self.ctx.broker.ack  # and its settle
        self.plain = self.hooks is None and self._takes_plain_path()  # hooks need the generic path
        if self.plain:
            self.on_delivery = self._start_plain  # type: ignore[method-assign]  # one call a delivery, not two
        self._core_kernel = type(self.ctx.kernel) is Kernel  # the virtual clock: its heap may be pushed directly
        if not self.plain and type(self) is ConsumerActor and lean.eligible(self):
            lean.install(self, CRASH_RESTART_NS)  # fail rules, effects, idempotency: compiled once (sim/lean.py)
        if self.spec.start > 0:
            self.ctx.kernel.at(self.spec.start, self._start_all, None, PRIO_ACTOR)
            return
        self._start_all(None)

    def _start_all(self, _: Any) -> None:
        for i in range(self.spec.instances):
            inst = Instance(self, i)
            self.instances.append(inst)
            self._subscribe(inst)
            self.ctx.emit(TraceEvent(self.ctx.kernel.now, "instance_started", None, self.spec.from_, self.name, i))

    def _subscribe(self, inst: Instance) -> None:
        ctx = self.ctx
        inst.sub = ctx.broker.subscribe(
            ctx.kernel.now, self.spec.from_, self.name, inst.index, group=self.group,
            prefetch=consumer_prefetch(self.spec, ctx.profile),
            dispatch="unordered", session_timeout_ns=self.spec.session_timeout,
            start_from=self.spec.start_from,
        )
        ctx.subscribers[inst.sub] = inst

    def reconnect(self, inst: Instance) -> None:
        """Open a new channel for `inst` and consume again, as a client library's recovery does (after the
        broker closed its channel, or came back from a restart). Work in progress goes on."""
        self._subscribe(inst)

    def drop_connection(self, inst: Instance, reason: str = "channel_closed") -> None:
        """The instance's connection dropped (the broker restarted): work in progress is lost and the
        subscription is gone; the instance keeps its state and `reconnect` brings it back."""
        ctx = self.ctx
        inst.epoch += 1
        ctx.pending_work -= inst.busy
        inst.busy = 0
        inst.buffer.clear()
        inst.inflight.clear()
        inst.lanes.clear()
        if inst.sub is not None:
            ctx.subscribers.pop(inst.sub, None)
            ctx.broker.unsubscribe(ctx.kernel.now, inst.sub, reason=reason)
            inst.sub = None

    def slow_down(self, inst: Instance, factor: float, extra: Callable[..., int] | None) -> None:
        """Stretch `inst`'s processing time by `factor`, plus `extra` (a sampler), until `speed_up`."""
        inst.slow = factor
        inst.extra = extra

    def speed_up(self, inst: Instance) -> None:
        """Back to the normal processing time."""
        inst.slow = 1.0
        inst.extra = None

    def crash(self, inst: Instance, restart_after: int | None, reason: str = "fault") -> None:
        """Crash an instance: in-flight work is lost, unacked messages return as the profile says."""
        if inst.state in ("crashed", "stopped"):
            return
        ctx = self.ctx
        inst.state = "crashed"
        inst.epoch += 1
        inst.buffer.clear()
        inst.deferred.clear()
        inst.inflight.clear()
        inst.lanes.clear()
        inst.batch = []
        inst.batches.clear()
        ctx.pending_work -= inst.busy
        inst.busy = 0
        ctx.emit(TraceEvent(ctx.kernel.now, "instance_crashed", None, self.spec.from_, self.name, inst.index,
                            data={"reason": reason}))
        if inst.sub is not None:
            ctx.subscribers.pop(inst.sub, None)
            ctx.broker.unsubscribe(ctx.kernel.now, inst.sub, reason="crash")
            inst.sub = None
        if restart_after is not None:
            ctx.kernel.at(ctx.kernel.now + restart_after, self._restart_cb, inst, PRIO_ACTOR)

    def _restart_cb(self, inst: Instance) -> None:
        self.restart(inst)

    def restart(self, inst: Instance) -> None:
        """Bring a crashed (or paused) instance back."""
        ctx = self.ctx
        if inst.state == "paused":
            self.resume(inst)
            return
        if inst.state not in ("crashed", "stopped"):
            return
        inst.state = "running"
        self._subscribe(inst)
        ctx.emit(TraceEvent(ctx.kernel.now, "instance_restarted", None, self.spec.from_, self.name, inst.index))

    def pause(self, inst: Instance) -> None:
        """Stop taking work and hold completions (a GC pause, a zombie)."""
        if inst.state != "running":
            return
        inst.state = "paused"
        self.ctx.emit(TraceEvent(self.ctx.kernel.now, "instance_paused", None, self.spec.from_, self.name,
                                    inst.index))

    def resume(self, inst: Instance) -> None:
        """Resume a paused instance: held completions run now."""
        if inst.state != "paused":
            return
        ctx = self.ctx
        inst.state = "running"
        ctx.emit(TraceEvent(ctx.kernel.now, "instance_resumed", None, self.spec.from_, self.name, inst.index))
        held, inst.deferred = inst.deferred, []
        for fn, item in held:
            fn(item)
        self._fill(inst)

    def scale(self, count: int) -> None:
        """Change the number of running instances."""
        ctx = self.ctx
        live = [i for i in self.instances if i.state != "stopped"]
        if count > len(live):
            for _ in range(count - len(live)):
                stopped = next((i for i in self.instances if i.state == "stopped"), None)
                if stopped is None:
                    inst = Instance(self, len(self.instances))
                    self.instances.append(inst)
                else:
                    inst = stopped
                    inst.state = "running"
                self._subscribe(inst)
                ctx.emit(TraceEvent(ctx.kernel.now, "instance_started", None, self.spec.from_, self.name, inst.index))
        elif count < len(live):
            for inst in live[count:]:
                inst.epoch += 1
                ctx.pending_work -= inst.busy
                inst.busy = 0
                inst.buffer.clear()
                inst.inflight.clear()
                inst.state = "stopped"
                if inst.sub is not None:
                    ctx.subscribers.pop(inst.sub, None)
                    ctx.broker.unsubscribe(ctx.kernel.now, inst.sub, reason="leave")
                    inst.sub = None

    # ------------------------------------------------------------------ deliveries

    @cython.locals(inst=Instance, d=Delivery)
    def on_delivery(self, inst: Instance, d: Delivery) -> None:
        """The broker handed `d` to `inst`."""
        if self.plain:  # (a started plain consumer is handed its deliveries by `_start_plain` itself)
            self._start_plain(inst, d)
            return
        if self.auto_ack:
            self.ctx.broker.ack(self.ctx.kernel.now, d.tag)
        if self.batch_spec is not None:
            self._batch_add(inst, d)
            return
        if inst.state == "running" and inst.busy < self.concurrency and (
                self.lane_mode == "unordered" or self._lane(d) not in inst.lanes):
            self._start(inst, d)
        else:
            inst.buffer.append(d)

    # ------------------------------------------------------------------ batches

    def _batch_add(self, inst: Instance, d: Delivery) -> None:
        spec = self.batch_spec
        assert spec is not None
        inst.batch.append(d)
        if len(inst.batch) >= spec.size:
            self._batch_close(inst)
        elif len(inst.batch) == 1:
            ctx = self.ctx
            ctx.kernel.at(ctx.kernel.now + spec.max_wait, self._batch_timeout, (inst, inst.batch_gen, inst.epoch),
                          PRIO_ACTOR)

    def _batch_timeout(self, item: tuple[Instance, int, int]) -> None:
        inst, gen, epoch = item
        if epoch == inst.epoch and gen == inst.batch_gen and inst.batch:
            self._batch_close(inst)

    def _batch_close(self, inst: Instance) -> None:
        batch, inst.batch = inst.batch, []
        inst.batch_gen += 1
        inst.batches.append(batch)
        self._batch_fill(inst)

    def _batch_fill(self, inst: Instance) -> None:
        ctx = self.ctx
        while inst.batches and inst.state == "running" and inst.busy < self.spec.concurrency:
            batch = inst.batches.popleft()
            inst.busy += 1
            ctx.pending_work += 1
            duration = self.default.processing(self.rng)
            if inst.slow != 1.0:
                duration = int(duration * inst.slow)
            ctx.kernel.at(ctx.kernel.now + duration, self._batch_done, (inst, batch, inst.epoch, ctx.kernel.now),
                          PRIO_ACTOR)

    def _batch_done(self, item: tuple[Instance, list[Delivery], int, int]) -> None:
        inst, batch, epoch, started = item
        if epoch != inst.epoch:
            return
        if inst.state == "paused":
            inst.deferred.append((self._batch_done, item))
            return
        ctx = self.ctx
        failed_before = inst.failed
        hooks = self.hooks
        for d in batch:
            if hooks is None:
                self._handle(inst, d, started, in_batch=True)
            else:
                hooks.before_handle(inst, d)
                self._handle(inst, d, started, in_batch=True)
                hooks.after_handle(inst, d)
        ctx.emit(TraceEvent(ctx.kernel.now, "batch_handled", None, self.spec.from_, self.name, inst.index, None, 0,
                            None, {"size": len(batch), "failed": inst.failed - failed_before,
                                   "processing": ctx.kernel.now - started}))
        inst.busy -= 1
        ctx.pending_work -= 1
        self._batch_fill(inst)

    def _lane(self, d: Delivery) -> Any:
        return d.partition if self.lane_mode == "per_partition" else (d.partition, d.msg.key)

    def _behaviour(self, msg: Message) -> Behaviour:
        if self.behaviours:
            return self.behaviours.get(msg.type, self.default)
        return self.default

    @cython.locals(inst=Instance, d=Delivery, ctx=ActorContext, kernel=Kernel)  # plain: the virtual Kernel
    def _start_plain(self, inst: Instance, d: Delivery) -> None:
        # `on_delivery` and `_start` for a plain consumer (see _takes_plain_path), with `kernel.at` inlined: the
        # completion time is never in the past, so only the kernel's sequence number is needed. The engine
        # calls it for `on_delivery` (see `start`); the buffer loops have checked what the first line checks.
        if inst.state != "running" or inst.busy >= self.concurrency:
            inst.buffer.append(d)
            return
        ctx = self.ctx
        inst.busy += 1
        ctx.pending_work += 1
        inst.inflight[d.tag] = d
        duration = self.default.processing(self.rng)
        if inst.slow != 1.0:
            duration = int(duration * inst.slow)
        if inst.extra is not None:
            duration += inst.extra(self.rng)
        kernel = ctx.kernel
        now = kernel.now
        seq = kernel._seq + 1  # noqa: SLF001 - the kernel's own tie-breaker, as `Kernel.at` counts it
        kernel._seq = seq  # noqa: SLF001
        t = now + duration
        if t < now:
            t = now
        heappush(kernel._heap, (t, PRIO_ACTOR, seq, self._complete_fn, (inst, d, inst.epoch, now)))  # noqa: SLF001

    @cython.locals(inst=Instance, d=Delivery, ctx=ActorContext)
    def _start(self, inst: Instance, d: Delivery) -> None:
        if self.plain:
            self._start_plain(inst, d)
            return
        ctx = self.ctx
        inst.busy += 1
        ctx.pending_work += 1
        inst.inflight[d.tag] = d
        if self.lane_mode != "unordered":
            inst.lanes.add(self._lane(d))
        idem = self._idem_field
        if idem is not None:  # `_seen_before` for a key that is a message field, inlined
            seen_at = self.idem_seen.get(idem(d.msg))
            dup = seen_at is not None and ctx.kernel.now - seen_at <= self.idem_window
        else:
            dup = self.idem_key is not None and self._seen_before(d.msg)
        if dup:
            duration = 0  # a dedup-store lookup, not the work: duplicates are cheap to skip
        elif self.behaviours:
            duration = self.behaviours.get(d.msg.type, self.default).processing(self.rng)
        else:
            duration = self.default.processing(self.rng)
        if inst.slow != 1.0:
            duration = int(duration * inst.slow)
        if inst.extra is not None:
            duration += inst.extra(self.rng)
        kernel = ctx.kernel
        now = kernel.now
        if self._core_kernel:
            # `Kernel.at` inlined as in `_start_plain` (keep in step with it)
            seq = kernel._seq + 1  # noqa: SLF001
            kernel._seq = seq  # noqa: SLF001
            t = now + duration
            if t < now:
                t = now
            heappush(kernel._heap, (t, PRIO_ACTOR, seq, self._complete, (inst, d, inst.epoch, now)))  # noqa: SLF001
        else:
            kernel.at(now + duration, self._complete, (inst, d, inst.epoch, now), PRIO_ACTOR)

    def _fill(self, inst: Instance) -> None:
        buf = inst.buffer
        if self.lane_mode == "unordered":
            while buf and inst.state == "running" and inst.busy < self.spec.concurrency:
                self._start(inst, buf.popleft())
            return
        # Start the oldest delivery whose lane (partition or key) is free; order within a lane holds.
        i = 0
        while i < len(buf) and inst.state == "running" and inst.busy < self.spec.concurrency:
            d = buf[i]
            if self._lane(d) in inst.lanes:
                i += 1
                continue
            del buf[i]
            self._start(inst, d)

    def _complete_cb(self, item: tuple[Instance, Delivery, int, int]) -> None:
        self._complete(item)

    @cython.locals(inst=Instance, d=Delivery, msg=Message, ctx=ActorContext, kernel=Kernel, inflight=dict)
    def _complete(self, item: tuple[Instance, Delivery, int, int]) -> None:
        inst, d, epoch, started = item
        if epoch != inst.epoch:
            return  # the instance crashed while this handler ran: its work is lost
        if inst.state == "paused":
            inst.deferred.append((self._complete, item))
            return
        ctx = self.ctx
        if self.plain:
            # `_handle` and `_settle_ok` for a plain consumer (see _takes_plain_path): a success, first attempt
            kernel = ctx.kernel  # (the virtual Kernel: the plain path runs on no other)
            now = kernel.now
            msg = d.msg
            data: dict[str, Any] = {"latency": now - msg.published_at, "processing": now - started}
            if msg.seq:
                data["seq"] = msg.seq
            ctx.emit(_new(TraceEvent, (now, "handled", msg.id, d.channel, self.name, inst.index, msg.key,
                                       d.attempt, msg.tag, data)))
            self.handled += 1
            inst.processed += 1
            if d.sub in ctx.subscribers:
                self._ack(now, d.tag)
            keep_slot = False
        elif self.hooks is None:
            keep_slot = self._handle(inst, d, started)
        else:
            self.hooks.before_handle(inst, d)
            keep_slot = self._handle(inst, d, started)
            self.hooks.after_handle(inst, d)
        if not keep_slot:
            inst.busy -= 1
            ctx.pending_work -= 1
            inflight = inst.inflight  # (a dict: a compiled build pops it without a method lookup)
            inflight.pop(d.tag, None)
            buf = inst.buffer
            if self.lane_mode != "unordered":
                inst.lanes.discard(self._lane(d))
                if buf:
                    self._fill(inst)
            elif buf:
                # `_fill` for an unordered consumer, inlined
                start = self._start_plain if self.plain else self._start
                while buf and inst.state == "running" and inst.busy < self.concurrency:
                    start(inst, buf.popleft())

    # ------------------------------------------------------------------ handling

    def _env(self, msg: Message, attempt: int) -> dict[str, Any]:
        return {"msg": msg, "state": self.state, "key": msg.key, "attempt": attempt, "now": self.ctx.kernel.now,
                "params": self.ctx.params, "tag": msg.tag}

    @cython.locals(inst=Instance, d=Delivery, msg=Message, ctx=ActorContext)
    def _handle(self, inst: Instance, d: Delivery, started: int, in_batch: bool = False) -> bool:
        """Run the handler's outcome; True when the slot stays busy (in-place retry)."""
        ctx = self.ctx
        msg = d.msg
        now = ctx.kernel.now
        attempt = self.attempts.get(msg.id, 0) + 1 if self.attempts else 1
        env: dict[str, Any] | None = None
        # Idempotency: a key seen within the window is acknowledged without effects.
        ikey: Any = None
        if self.idem_key is not None:
            if self._idem_field is not None:
                ikey = self._idem_field(msg)
            else:
                env = self._env(msg, attempt)
                try:
                    ikey = self.idem_key.evaluate(env)
                except ExpressionRuntimeError:
                    ikey = msg.id
            seen_at = self.idem_seen.get(ikey)
            if seen_at is not None and now - seen_at <= self.idem_window:
                ctx.emit(TraceEvent(now, "handled", msg.id, d.channel, self.name, inst.index, msg.key, d.attempt,
                                    msg.tag, {"duplicate": True, "latency": now - msg.published_at}))
                self._settle_ok(inst, d, msg, env, duplicate=True)
                return False
        beh = self.behaviours.get(msg.type, self.default) if self.behaviours else self.default
        failure: Rule | None = None
        error_text: str | None = None
        if beh.rules:
            for rule in beh.rules:
                if rule.when is not None:
                    if env is None:
                        env = self._env(msg, attempt)
                    try:
                        hit = bool(rule.when.evaluate(env))
                    except ExpressionRuntimeError as exc:
                        hit, error_text = True, str(exc)
                else:
                    hit = self.rng.random() < (rule.probability or 0.0)
                if hit:
                    failure = rule
                    break
        if failure is not None:
            if failure.crash:
                ctx.emit(TraceEvent(now, "failed", msg.id, d.channel, self.name, inst.index, msg.key, d.attempt,
                                    msg.tag, {"error": failure.error, "retryable": failure.retryable,
                                              "crash": True}))
                self.crash(inst, CRASH_RESTART_NS, reason=failure.error)
                return True
            return self._fail(inst, d, msg, failure.error, failure.retryable, attempt, error_text,
                              failure.reply_with_error, in_batch)
        # Success.
        if env is None and (self._success_env or beh.emits or (beh.effects and beh in self._effects_read)):
            env = self._env(msg, attempt)
        if beh.effects:
            applied = 0
            state = self.state
            try:
                for eff in beh.effects:
                    inc = eff.const_inc
                    if inc is not None and type(state) is dict:  # `CompiledEffect.apply` of `inc: name`, inlined
                        state[eff.name] = state.get(eff.name, 0) + inc
                    else:
                        eff.apply(state, env)  # type: ignore[arg-type]
                    applied += 1
            except (ExpressionRuntimeError, TypeError, KeyError, ValueError) as exc:
                if applied:
                    self._effects_outlived(inst, d, msg, env, applied, len(beh.effects))  # type: ignore[arg-type]
                return self._fail(inst, d, msg, "EffectError", False, attempt, str(exc), False)
        if self.idem_key is not None:
            if self._idem_reads_state:  # the effects may have changed what the key reads
                try:
                    ikey = self.idem_key.evaluate(env)  # type: ignore[arg-type]
                except ExpressionRuntimeError:
                    ikey = msg.id
            self.idem_seen[ikey] = now
            times = self.idem_times
            times.append(now)
            self.idem_keys.append(ikey)
            if now - times[0] > self.idem_window:
                self._expire_idempotency(now)
        data: dict[str, Any] = {"latency": now - msg.published_at, "processing": now - started}
        if attempt > 1:
            data["attempts"] = attempt
        if msg.seq:
            data["seq"] = msg.seq
        if self.business_key is not None and env is not None:
            data["bkey"] = self._business_key(env)
        if self.ordering is not None and env is not None:
            try:
                data["okey"] = self.ordering[0].evaluate(env)
                data["oseq"] = self.ordering[1].evaluate(env)
            except ExpressionRuntimeError:
                pass
        emits = beh.emits
        if emits:
            try:  # an `emit.when` that cannot be evaluated is a handler error, as a `fail_if` one is
                emits = [e for e in emits if e[2] is None or e[2].evaluate(env)]  # type: ignore[arg-type]
            except ExpressionRuntimeError as exc:
                if beh.effects:
                    self._effects_outlived(inst, d, msg, env, len(beh.effects), len(beh.effects))  # type: ignore[arg-type]
                return self._fail(inst, d, msg, "EmitError", False, attempt, str(exc), False, in_batch)
        ctx.emit(_new(TraceEvent, (now, "handled", msg.id, d.channel, self.name, inst.index, msg.key, d.attempt,
                                   msg.tag, data)))
        self.handled += 1
        inst.processed += 1
        hooks = self.hooks
        for spec, render, _when in emits:
            if hooks is None or not hooks.send_emit(self, spec, render, msg, env):  # type: ignore[arg-type]
                self.emit_message(spec, render, msg, env)  # type: ignore[arg-type]
        self._settle_ok(inst, d, msg, env, duplicate=False)
        return False

    def _effects_outlived(self, inst: Instance, d: Delivery, msg: Message, env: dict[str, Any], applied: int,
                          of: int) -> None:
        """Report effects a handling applied before it failed: they stay applied (`effect_applied`)."""
        data: dict[str, Any] = {"effects": applied, "of": of}
        if self.business_key is not None:
            data["bkey"] = self._business_key(env)
        self.ctx.emit(TraceEvent(self.ctx.kernel.now, "effect_applied", msg.id, d.channel, self.name,
                                    inst.index, msg.key, d.attempt, msg.tag, data))

    def _business_key(self, env: dict[str, Any]) -> Any:
        """The declared business key of the message in `env` (None when it cannot be evaluated)."""
        try:
            return self.business_key.evaluate(env)  # type: ignore[union-attr]
        except ExpressionRuntimeError:
            return None

    @cython.locals(inst=Instance, d=Delivery, msg=Message, ctx=ActorContext)
    def _settle_ok(self, inst: Instance, d: Delivery, msg: Message, env: dict[str, Any] | None,
                   *, duplicate: bool) -> None:
        ctx = self.ctx
        if self.attempts:
            self.attempts.pop(msg.id, None)
        if self.prev_delay:
            self.prev_delay.pop(msg.id, None)
        if self._auto_reply and msg.reply_to:
            ctx.reply(self.name, msg, ok=True, error=None)
        if not self.auto_ack and d.sub in ctx.subscribers:
            ctx.broker.ack(ctx.kernel.now, d.tag)
        if d.partition is not None:
            ctx.log_processed(self, inst, d)

    def emit_message(self, spec: m.Emit, render: Callable[..., Any], msg: Message, env: dict[str, Any]) -> None:
        """Send one `emit:` of the handler straight to its channel (what a consumer does without hooks)."""
        ctx = self.ctx
        self.emitted += 1
        try:
            payload = render({"msg": msg, "key": msg.key, "seq": msg.seq, "n": self.emitted, "now": ctx.kernel.now,
                              "producer": self.name, "instance": 0, "params": ctx.params, "tag": msg.tag},
                             self.rng)
        except (TemplateRuntimeError, ExpressionRuntimeError):
            payload = {}
        out = msg.follow_up(f"{self.name}-{self.emitted}", spec.to, producer=self.name, now=ctx.kernel.now,
                            type=spec.message, payload=payload)
        ctx.emit(TraceEvent(ctx.kernel.now, "emitted", out.id, spec.to, self.name, None, out.key, 0, None,
                            {"causation_id": msg.id}))
        ctx.publish(spec.to, out, producer=self.name)

    @cython.locals(inst=Instance, d=Delivery, msg=Message, ctx=ActorContext)
    def _fail(self, inst: Instance, d: Delivery, msg: Message, error: str, retryable: bool, attempt: int,
              detail: str | None, reply_with_error: bool, in_batch: bool = False) -> bool:
        ctx = self.ctx
        now = ctx.kernel.now
        data: dict[str, Any] = {"error": error, "retryable": retryable}
        if detail:
            data["detail"] = detail
        ctx.emit(_new(TraceEvent, (now, "failed", msg.id, d.channel, self.name, inst.index, msg.key, d.attempt,
                                   msg.tag, data)))
        inst.failed += 1
        broker = ctx.broker
        live = d.sub in ctx.subscribers
        if self.retry is None:
            # No retry policy: reject; the broker dead-letters or drops as the channel says.
            self.attempts.pop(msg.id, None)
            if self.spec.reply == "auto" and msg.reply_to and (reply_with_error or not retryable):
                ctx.reply(self.name, msg, ok=False, error=error)
            if live and not self.auto_ack:
                broker.reject(now, d.tag)
            return False
        decision = self.retry.decide(attempt, error, retryable, self.rng, self.prev_delay.get(msg.id))
        if decision.retry:
            self.attempts[msg.id] = attempt
            self.prev_delay[msg.id] = decision.delay_ns
            ctx.emit(_new(TraceEvent, (now, "retry_scheduled", msg.id, d.channel, self.name, inst.index, msg.key,
                                       d.attempt, msg.tag, {"delay": decision.delay_ns, "mode": decision.mode,
                                                            "attempt": attempt + 1})))
            mode = decision.mode
            if mode == "in_place" and in_batch:
                mode = "redeliver"  # a batch does not hold a slot per message: retry through the broker
            if mode == "in_place":
                duration = self._behaviour(msg).processing(self.rng)
                ctx.kernel.at(now + decision.delay_ns + duration, self._complete_cb, (inst, d, inst.epoch, now),
                              PRIO_ACTOR)
                return True
            if self.auto_ack or not live:
                return False
            if mode == "republish":
                broker.ack(now, d.tag)
                ctx.pending_work += 1
                ctx.kernel.at(now + decision.delay_ns, self._republish, (d.channel, msg), PRIO_ACTOR)
            else:
                broker.nack(now, d.tag, requeue=True, delay_ns=decision.delay_ns)
            return False
        # Exhausted, or not retryable.
        self.attempts.pop(msg.id, None)
        self.prev_delay.pop(msg.id, None)
        if self.spec.reply == "auto" and msg.reply_to:
            ctx.reply(self.name, msg, ok=False, error=error)
        if self.auto_ack or not live:
            return False
        action = decision.on_exhausted
        if action == "drop":
            broker.ack(now, d.tag)
            ctx.emit(TraceEvent(now, "dropped", msg.id, d.channel, self.name, inst.index, msg.key, d.attempt,
                                msg.tag, {"reason": "retries_exhausted", "error": error}))
        elif action == "requeue":
            broker.nack(now, d.tag, requeue=True)
        elif self.spec.dead_letter is not None:
            broker.ack(now, d.tag)
            ctx.dead_letter_by_app(self.name, d, self.spec.dead_letter, error,
                                   "parked" if action == "park" else "dead_lettered")
        else:
            broker.reject(now, d.tag)
        return False

    def _republish(self, item: tuple[str, Message]) -> None:
        channel, msg = item
        ctx = self.ctx
        ctx.pending_work -= 1
        copy = msg.republish(channel, headers={"x-attempt": str(self.attempts.get(msg.id, 0) + 1)})
        ctx.publish(channel, copy, producer=self.name, republish=True)

    def _seen_before(self, msg: Message) -> bool:
        assert self.idem_key is not None
        if self._idem_field is not None:
            key = self._idem_field(msg)
        else:
            try:
                key = self.idem_key.evaluate(self._env(msg, 1))
            except ExpressionRuntimeError:
                return False
        seen_at = self.idem_seen.get(key)
        return seen_at is not None and self.ctx.kernel.now - seen_at <= self.idem_window

    def _expire_idempotency(self, now: int) -> None:
        times, keys = self.idem_times, self.idem_keys
        window = self.idem_window
        seen = self.idem_seen
        while times and now - times[0] > window:
            t = times.popleft()
            k = keys.popleft()
            if seen.get(k) == t:
                del seen[k]

    def in_flight(self) -> int:
        """Handlers running now across instances."""
        return sum(i.busy for i in self.instances)

    def live_instances(self) -> int:
        """Instances that are running or paused."""
        return sum(1 for i in self.instances if i.state in ("running", "paused"))
