"""Producers: arrival processes that publish messages with keys, sequences and payloads."""

from __future__ import annotations

import math
from heapq import heappush
from typing import Any

from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.scenario import models as m
from evtool.scenario.templates import TemplateRuntimeError, compile_payload
from evtool.sim.context import ActorContext
from evtool.sim.kernel import PRIO_ACTOR, Kernel
from evtool.sim.sampling import KeyPicker

# Plain Python takes the no-op decorators of evtool.core._nocython, not Cython's Shadow module (~4 ms of a
# run's start-up to import); compiled, Cython reads `cython.locals` as it compiles this `import cython`,
# which does nothing at run time.
if not __file__.endswith((".so", ".pyd")):
    from evtool.core import _nocython as cython
else:
    import cython

NS = 1_000_000_000


class ProducerActor:
    """A producer from the scenario, run by the engine."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.Producer, instance: int = 0,
                 first: ProducerActor | None = None) -> None:
        """One instance of producer `name`; instances after the first pass `first`, whose sequences they share.

        Instance 0 keeps the producer's own streams and ids (`NAME-n`), so a scenario without `instances`
        runs exactly as before; instance i > 0 draws from `producer:NAME#i/...` and publishes `NAME#i-n`.
        """
        self.ctx = ctx
        self.name = name
        self.spec = spec
        self.instance = instance
        self._arrive_fn = self._arrive  # the next arrival's callback, bound once (a subclass's, if it has one)
        label = name if instance == 0 else f"{name}#{instance}"
        self._id_prefix = label
        self.arrival_rng = ctx.stream(f"producer:{label}/arrival")
        self.key_rng = ctx.stream(f"producer:{label}/key")
        self.payload_rng = ctx.stream(f"producer:{label}/payload")
        self.keys = KeyPicker(spec.key) if spec.key is not None else None
        self.render = compile_payload(spec.payload)
        self.static_payload = not _has_template(spec.payload)
        self.render_headers = compile_payload(spec.headers) if spec.headers else None
        self.render_routing = compile_payload(spec.routing_key) if spec.routing_key else None
        self.sent = 0
        self.rejected = 0
        # `sequence` numbers the producer's messages, not one instance's: the instances share the counters
        self.seq_by_key: dict[str | None, int] = first.seq_by_key if first is not None else {}
        self.stop_at = min(spec.stop if spec.stop is not None else ctx.load_end(), ctx.load_end())
        self.stopped = False
        self.stage_index = 0
        self.stage_end = 0
        self.burst_left = 0
        # The spec's fields read per message, copied to plain attributes: a pydantic model's attribute
        # read goes through its __getattr__ hook and costs several times a plain one.
        self._to = spec.to
        self._count = spec.count
        self._sequence = spec.sequence
        self._type = spec.message
        self._version = spec.version
        self._tag = spec.tag
        self._payload = spec.payload
        self._ttl = spec.ttl
        # Whether messages carry their id as dedup id (NATS Nats-Msg-Id, SQS MessageDeduplicationId):
        # the producer's own choice, else what the profile's client does by default.
        self._dedup = (spec.dedup_id or ctx.profile.producer_dedup_id) == "message_id"
        self._publish = ctx.publish
        # nothing to draw or render per message: `_arrive` builds it inline (see there); a subclass that
        # publishes its own way (request-reply, projection) keeps its `publish_one`
        self._simple = (type(self).publish_one is ProducerActor.publish_one and self.keys is None and self.static_payload and self.render_headers is None
                        and self.render_routing is None and self._sequence == "none")
        arrival = spec.arrival
        # constant and poisson arrivals keep one rate: skip the stage bookkeeping per message
        self._fixed: tuple[float, str] | None = (
            (arrival.rate, arrival.process) if isinstance(arrival, m.ConstantArrival | m.PoissonArrival) else None)
        # a constant finite rate has one gap, and draws nothing: `_gap` need not be called per message
        self._constant_gap: int | None = None
        if self._fixed is not None and self._fixed[1] != "poisson" and self._fixed[0] > 0 \
                and not math.isinf(self._fixed[0]):
            self._constant_gap = max(1, int(NS / self._fixed[0]))

    def start(self) -> None:
        """Schedule the first arrival and every injected message."""
        ctx = self.ctx
        spec = self.spec
        for inj in spec.inject if self.instance == 0 else ():  # scripted messages are published once
            if inj.at <= ctx.load_end():
                ctx.kernel.at(inj.at, self._inject, inj, PRIO_ACTOR)
        arrival = spec.arrival
        start = spec.start
        if isinstance(arrival, m.OnceArrival):
            ctx.kernel.at(max(start, arrival.at), self._once, None, PRIO_ACTOR)
        elif isinstance(arrival, m.StagesArrival):
            self.stage_end = start + arrival.stages[0].for_
            ctx.kernel.at(start + self._gap(), self._arrive, None, PRIO_ACTOR)
        elif isinstance(arrival, m.BurstArrival):
            ctx.kernel.at(start, self._burst, None, PRIO_ACTOR)
        elif isinstance(arrival, m.ConstantArrival) and math.isinf(arrival.rate):
            ctx.kernel.at(start, self._arrive, None, PRIO_ACTOR)
        else:
            ctx.kernel.at(start + self._gap(), self._arrive, None, PRIO_ACTOR)

    # ------------------------------------------------------------------ arrivals

    def _rate(self) -> tuple[float, str]:
        a = self.spec.arrival
        if isinstance(a, m.StagesArrival):
            now = self.ctx.kernel.now
            stages = a.stages
            while now >= self.stage_end:
                self.stage_index += 1
                if self.stage_index >= len(stages):
                    if not a.repeat:
                        return 0.0, a.shape
                    self.stage_index = 0
                self.stage_end += stages[self.stage_index].for_
            return stages[self.stage_index].rate, a.shape
        return getattr(a, "rate", 0.0), a.process

    def _gap(self) -> int:
        fixed = self._fixed
        if fixed is not None:
            rate, shape = fixed
        else:
            rate, shape = self._rate()
        if rate <= 0:
            return -1
        if math.isinf(rate):
            return 0
        if shape == "poisson":
            return max(1, int(self.arrival_rng.expovariate(rate) * NS))
        return max(1, int(NS / rate))

    def _done(self) -> bool:
        if self.stopped:
            return True
        if self.spec.count is not None and self.sent >= self.spec.count:
            self.stopped = True
        elif self.ctx.kernel.now >= self.stop_at:
            self.stopped = True
        return self.stopped

    @cython.locals(ctx=ActorContext, k=Kernel)
    def _arrive(self, _: Any) -> None:
        if self.stopped:
            return
        ctx = self.ctx
        kernel = ctx.kernel
        if type(kernel) is Kernel:
            k = kernel  # (typed in a compiled build: its fields read directly; a plain assignment costs a pure run nothing)
            now = k.now
        else:
            now = kernel.now
        count = self._count
        if now >= self.stop_at or (count is not None and self.sent >= count):
            self.stopped = True
            return
        if self._simple:
            # `publish_one` for a message with nothing to draw or render (no key, sequence, template,
            # headers or routing key): the same message, without the keyword handling and branches
            n = self.sent = self.sent + 1
            mid = f"{self._id_prefix}-{n}"
            if not self._publish(self._to, Message(mid, self._to, None, None, self._payload, self._type,
                                                   self._version, now, 0, None, mid, self._tag, self.name, None,
                                                   self._ttl, (), mid if self._dedup else None),
                                 producer=self.name):
                self.rejected += 1
        else:
            self.publish_one()
        if count is not None and self.sent >= count:
            self.stopped = True
            return
        gap = self._constant_gap
        if gap is None:
            gap = self._gap()
            if gap < 0:
                self.stopped = True
                return
        if type(kernel) is Kernel:
            # the next arrival is the hottest schedule of a run: `Kernel.at` inlined (gap >= 0, so
            # the time is never in the past; the kernel's own sequence number breaks ties)
            k = kernel
            seq = k._seq + 1  # noqa: SLF001
            k._seq = seq  # noqa: SLF001
            heappush(k._heap, (now + gap, PRIO_ACTOR, seq, self._arrive_fn, None))  # noqa: SLF001
        else:
            kernel.at(now + gap, self._arrive, None, PRIO_ACTOR)

    def _burst(self, _: Any) -> None:
        a = self.spec.arrival
        assert isinstance(a, m.BurstArrival)
        for _i in range(a.size):
            if self._done():
                return
            self.publish_one()
        if not self._done():
            self.ctx.kernel.at(self.ctx.kernel.now + a.every, self._burst, None, PRIO_ACTOR)

    def _once(self, _: Any) -> None:
        for _i in range(self.spec.count or 1):
            self.publish_one()
        self.stopped = True

    def _inject(self, inj: m.Inject) -> None:
        for i in range(inj.count):
            mid = inj.id if inj.id and inj.count == 1 else (f"{inj.id}-{i + 1}" if inj.id else None)
            self.publish_one(payload=dict(inj.payload), tag=inj.tag, key=inj.key, msg_id=mid,
                             headers=dict(inj.headers) or None, ttl=inj.ttl)

    # ------------------------------------------------------------------ publishing

    def publish_one(self, *, payload: Any = None, tag: str | None = None, key: str | None = None,
                    msg_id: str | None = None, headers: dict[str, Any] | None = None,
                    ttl: int | None = None) -> None:
        """Build one message and publish it (`ttl` overrides the producer's per-message TTL)."""
        ctx = self.ctx
        now = ctx.kernel.now
        n = self.sent = self.sent + 1
        if key is None and self.keys is not None:
            key = self.keys.pick(self.key_rng)
        seq = 0
        sequence = self._sequence
        if sequence == "per_key":
            seq = self.seq_by_key.get(key, 0) + 1
            self.seq_by_key[key] = seq
        elif sequence == "global":
            seq = self.seq_by_key.get("\0global", 0) + 1  # a key no message has: the producer-wide counter
            self.seq_by_key["\0global"] = seq
        mid = msg_id or f"{self._id_prefix}-{n}"
        tag = tag or self._tag
        env = None
        if payload is None and self.static_payload:
            payload = self._payload
        elif payload is None:
            env = {"key": key, "seq": seq, "n": n, "now": now, "producer": self.name,
                   "instance": self.instance, "params": ctx.params, "tag": tag, "msg": None}
            try:
                payload = self.render(env, self.payload_rng)
            except TemplateRuntimeError as exc:
                payload = {"error": str(exc)}
        routing = None
        try:
            if headers is None and self.render_headers is not None:
                env = env or {"key": key, "seq": seq, "n": n, "now": now, "producer": self.name,
                              "instance": self.instance, "params": ctx.params, "tag": tag, "msg": None}
                headers = self.render_headers(env, self.payload_rng)
            if self.render_routing is not None:
                env = env or {"key": key, "seq": seq, "n": n, "now": now, "producer": self.name,
                              "instance": self.instance, "params": ctx.params, "tag": tag, "msg": None}
                routing = self.render_routing(env, self.payload_rng)
                routing = routing if type(routing) is str else str(routing)  # bounded: render checks its size
        except TemplateRuntimeError as exc:
            # A producer error, recorded like a handler's: this message is never published.
            ctx.emit(TraceEvent(now, "dropped", mid, self._to, self.name, None, key, 0, tag,
                                {"reason": "template_error", "error": str(exc)}))
            self.rejected += 1
            return
        to = self._to
        msg = Message(mid, to, routing if routing is not None else key, headers, payload, self._type,
                      self._version, now, seq, None, mid, tag, self.name, None,
                      ttl if ttl is not None else self._ttl, (), mid if self._dedup else None)
        if routing is not None and key is not None:
            msg.headers = {**(headers or {}), "key": key}
        if not ctx.publish(to, msg, producer=self.name):
            self.rejected += 1


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False
