"""The fault timeline: crashes, pauses, slowdowns, broker restarts, lost and duplicated messages.

Each fault of the scenario starts at `at` (and again `every`), lasts `for`
(or until the end), and hits its `target`. Faults injected by hand in the
dashboard go through the same code and are recorded in the trace with
their virtual time, so a run replays exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.scenario import models as m
from evtool.sim.kernel import PRIO_FAULT
from evtool.sim.sampling import duration_sampler

if TYPE_CHECKING:
    from evtool.sim.consumer import Instance
    from evtool.sim.context import ActorContext


class PublishFault:
    """An active drop, duplicate or delay fault on a channel or producer."""

    __slots__ = ("name", "action", "probability", "delay", "ctx")

    def __init__(self, ctx: ActorContext, name: str, spec: m.DropFault | m.DuplicateFault | m.DelayFault) -> None:
        self.ctx = ctx
        self.name = name
        self.action = spec.action
        self.probability = spec.probability
        self.delay = duration_sampler(spec.latency) if isinstance(spec, m.DelayFault) else None

    def on_publish(self, msg: Message) -> str | int | None:
        """What this fault does to one publish: drop, duplicate, a delay in ns, or nothing."""
        rng = self.ctx.fault_rng
        if self.probability <= 0 or rng.random() >= self.probability:
            return None
        if self.action == "drop":
            return "drop"
        if self.action == "duplicate":
            return "duplicate"
        assert self.delay is not None
        return self.delay(rng)


class FaultTimeline:
    """Schedules the scenario's faults and carries them out."""

    def __init__(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        self.count = 0
        self.poisoned = 0
        self.active: dict[str, Any] = {}

    def start(self) -> None:
        """Schedule every enabled fault."""
        for i, spec in enumerate(self.ctx.scenario.faults):
            if not spec.enabled:
                continue
            name = spec.name or f"{spec.action}-{i}"
            self.ctx.kernel.at(spec.at, self._fire, (name, spec), PRIO_FAULT)

    def _fire(self, item: tuple[str, Any]) -> None:
        name, spec = item
        ctx = self.ctx
        if ctx.done():
            return
        self.apply(name, spec)
        if spec.every is not None and (spec.for_ in (None, "end") or True):
            nxt = ctx.now + spec.every
            if nxt < ctx.load_end():
                ctx.kernel.at(nxt, self._fire, item, PRIO_FAULT)

    # ------------------------------------------------------------------ carrying out

    def targets(self, target: str) -> list[Instance]:
        """The consumer instances a `consumer:NAME[#N]` target names."""
        kind, _, rest = target.partition(":")
        if kind != "consumer":
            return []
        name, _, idx = rest.partition("#")
        consumer = self.ctx.consumers.get(name)
        if consumer is None:
            return []
        if idx:
            i = int(idx)
            return [inst for inst in consumer.instances if inst.index == i]
        return list(consumer.instances)

    def apply(self, name: str, spec: Any) -> None:
        """Start one fault now."""
        ctx = self.ctx
        now = ctx.now
        self.count += 1
        action = spec.action
        ctx.emit(TraceEvent(now, "fault_started", None, None, name, data={"action": action, "target": spec.target}))
        duration = None if spec.for_ in (None, "end") else spec.for_
        if action == "crash":
            for inst in self.targets(spec.target):
                inst.consumer.crash(inst, spec.restart_after)
            if spec.restart_after is not None:
                # the fault lasts while the instances are down, so `during: fault:NAME` has a window
                ctx.kernel.at(now + spec.restart_after, self._end_cb, (name, action), PRIO_FAULT)
            else:
                self._end_now(name, action)
        elif action == "restart":
            for inst in self.targets(spec.target):
                inst.consumer.restart(inst)
            self._end_now(name, action)
        elif action == "pause":
            insts = self.targets(spec.target)
            for inst in insts:
                inst.consumer.pause(inst)
            if duration is not None:
                ctx.kernel.at(now + duration, self._unpause, (name, insts), PRIO_FAULT)
        elif action == "slow":
            insts = self.targets(spec.target)
            factor = spec.latency_factor or 1.0
            extra = duration_sampler(spec.latency) if spec.latency is not None else None
            for inst in insts:
                inst.consumer.slow_down(inst, factor, extra)
            if duration is not None:
                ctx.kernel.at(now + duration, self._unslow, (name, insts), PRIO_FAULT)
        elif action == "scale":
            kind, _, cname = spec.target.partition(":")
            consumer = ctx.consumers.get(cname.partition("#")[0])
            if consumer is not None:
                consumer.scale(spec.instances)
            self._end_now(name, action)
        elif action == "broker_restart":
            self._broker_down(name, spec.downtime)
        elif action in ("drop", "duplicate", "delay"):
            fault = PublishFault(ctx, name, spec)
            kind, _, target = spec.target.partition(":")
            table = ctx.channel_faults if kind == "channel" else ctx.producer_faults
            table.setdefault(target, []).append(fault)
            self.active[name] = (table, target, fault)
            if duration is not None:
                ctx.kernel.at(now + duration, self._remove_publish_fault, name, PRIO_FAULT)
        elif action == "redrive":
            channel = spec.target.partition(":")[2]
            n = ctx.broker.redrive(now, channel, spec.message)
            ctx.emit(TraceEvent(now, "fault_ended", None, None, name, data={"action": action, "redriven": n}))
        elif action == "poison":
            channel = spec.target.partition(":")[2]
            self.poisoned += 1
            mid = f"{name}-{self.poisoned}"
            msg = Message(mid, channel, spec.key, None, dict(spec.payload), "Poison", 1, now, 0, None, mid,
                          spec.tag, name)
            ctx.publish(channel, msg, producer=name)
            self._end_now(name, action)

    def _end_cb(self, item: tuple[str, str]) -> None:
        self._end_now(*item)

    def _end_now(self, name: str, action: str) -> None:
        self.ctx.emit(TraceEvent(self.ctx.now, "fault_ended", None, None, name, data={"action": action}))

    def _unpause(self, item: tuple[str, list[Instance]]) -> None:
        name, insts = item
        for inst in insts:
            inst.consumer.resume(inst)
        self._end_now(name, "pause")

    def _unslow(self, item: tuple[str, list[Instance]]) -> None:
        name, insts = item
        for inst in insts:
            inst.consumer.speed_up(inst)
        self._end_now(name, "slow")

    def _remove_publish_fault(self, name: str) -> None:
        entry = self.active.pop(name, None)
        if entry is None:
            return
        table, target, fault = entry
        faults = table.get(target, [])
        if fault in faults:
            faults.remove(fault)
        if not faults:
            table.pop(target, None)
        self._end_now(name, fault.action)

    def _broker_down(self, name: str, downtime: int) -> None:
        ctx = self.ctx
        # Every connection drops: instances lose their subscriptions, then the broker keeps durable state only.
        live = [inst for c in ctx.consumers.values() for inst in c.instances if inst.sub is not None]
        for inst in live:
            inst.consumer.drop_connection(inst, "channel_closed")
        ctx.broker.restart(ctx.now)
        ctx.set_broker_up(False)
        ctx.kernel.at(ctx.now + downtime, self._broker_up, (name, live), PRIO_FAULT)

    def _broker_up(self, item: tuple[str, list[Instance]]) -> None:
        name, insts = item
        ctx = self.ctx
        ctx.set_broker_up(True)
        for inst in insts:
            if inst.state in ("running", "paused") and inst.sub is None:
                inst.consumer.reconnect(inst)
        for pat in ctx.patterns():
            reconnect = getattr(pat, "reconnect", None)
            if reconnect is not None:
                reconnect()
        self._end_now(name, "broker_restart")


def fault_words(spec: Mapping[str, Any]) -> list[str]:
    """A fault spec (hand-injected or placed by `evtool explore`) as phrases for a reader:
    `pause consumer:billing#1`, then `for 1s`, `restart after 2s`, `down 5s`, `×3 slower`."""
    from evtool.core.textsafe import visible

    words = [" ".join(visible(spec[k]) for k in ("action", "target") if spec.get(k) is not None)]
    for key, label in (("for", "for"), ("restart_after", "restart after"), ("downtime", "down")):
        if key in spec:
            words.append(f"{label} {visible(spec[key])}")
    if "latency_factor" in spec:
        words.append(f"×{spec['latency_factor']:g} slower")
    return words
