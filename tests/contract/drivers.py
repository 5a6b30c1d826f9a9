"""Two drivers with one script API: the core broker (virtual clock) and a real broker (through its adapter).

A contract test writes one script against `Driver` and runs it on both; the
observations (who got which message, with what counter, what died and why)
must be equal. The core driver advances its virtual clock only when the
script sleeps; the real driver waits for real.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from evtool.core.broker import Broker
from evtool.core.channel_config import QueueConfig, TopicConfig
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.profiles import get_profile
from evtool.transports.base import ChannelPlan, SubSpec, Topology, new_prefix
from evtool.transports.runner import make_transport

TAKE_TIMEOUT_S = 5.0
QUIET_S = 0.4


@dataclass
class Got:
    """One delivery as a script sees it."""

    sid: int
    msg: Message
    count: int
    handle: Any


@dataclass
class Dead:
    """A message that left a channel: dead-lettered (target), dropped or expired (no target), or kept."""

    msg: str
    channel: str
    reason: str
    target: str | None


@dataclass
class Driver:
    """The common part: what scripts read back."""

    log: list[tuple[Any, ...]] = field(default_factory=list)
    dead: list[Dead] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def record(self, *item: Any) -> None:
        """Add one observation to the log scripts compare."""
        self.log.append(item)


class CoreDriver(Driver):
    """The local core with a broker profile, on a virtual clock."""

    def __init__(self, profile: str, **overrides: Any) -> None:
        super().__init__()
        p = get_profile(profile)
        if overrides:
            p = p.with_overrides(**overrides)
        self.events: list[TraceEvent] = []
        self.broker = Broker(p, self._sink)
        self.now = 0
        self.inbox: dict[int, deque[Got]] = {}
        self.names: dict[int, str] = {}
        self.with_target: set[str] = set()

    def _sink(self, ev: TraceEvent) -> None:
        self.events.append(ev)
        if ev.kind == "dead_lettered" and ev.msg is not None:
            self.dead.append(Dead(ev.msg, ev.channel or "", ev.data["reason"], ev.data.get("target")))
        elif ev.kind == "dropped" and ev.msg is not None and ev.channel is not None:
            self.dead.append(Dead(ev.msg, ev.channel, (ev.data or {}).get("reason", ""), None))
        elif ev.kind == "expired" and ev.msg is not None and ev.channel not in self.with_target:
            self.dead.append(Dead(ev.msg, ev.channel or "", "expired", None))
        elif ev.kind == "max_deliveries_reached" and ev.msg is not None:
            self.kept.append(ev.msg)

    async def start(self, plans: list[ChannelPlan]) -> None:
        """Declare the channels."""
        self.with_target = {p.name for p in plans if p.dead_letter}
        # Redis has no lease: there the channel's ack_timeout is the claimer's idle time, and the script
        # claims explicitly on the core
        lease = self.broker.profile.ack_timeout_action != "none"
        for p in plans:
            common = dict(max_deliveries=p.max_deliveries or 0, dead_letter=p.dead_letter, ttl_ns=p.ttl_ns,
                          ack_timeout_ns=p.ack_timeout_ns if lease else None, capacity=p.capacity,
                          overflow="drop_head" if p.overflow != "reject_publish" else "reject_publish")
            self.broker.declare(p.name, TopicConfig(**common) if p.kind == "topic" else QueueConfig(**common))

    async def stop(self) -> None:
        """Nothing to clean up."""

    def _pump(self) -> None:
        for d in self.broker.pump(self.now):
            self.inbox.setdefault(d.sub, deque()).append(Got(d.sub, d.msg, d.count, d.tag))

    def _tick(self) -> None:
        self.now += 1_000_000       # every operation takes 1 ms of virtual time
        self.broker.fire_timers(self.now)
        self._pump()

    async def publish(self, channel: str, mid: str, *, ttl_ns: int | None = None, key: str | None = None) -> None:
        """Publish one message."""
        self.broker.publish(self.now, channel, Message(mid, channel, key, ttl_ns=ttl_ns))
        self._tick()

    async def subscribe(self, channel: str, consumer: str, prefetch: int, group: str | None = None) -> int:
        """Subscribe a consumer instance."""
        sid = self.broker.subscribe(self.now, channel, consumer, 0, group=group, prefetch=prefetch)
        self.inbox[sid] = deque()
        self.names[sid] = consumer
        self._tick()
        return sid

    async def take(self, sid: int) -> Got:
        """The next delivery for `sid` (it must be there already)."""
        self._pump()
        box = self.inbox.get(sid)
        if not box:
            raise AssertionError(f"core: nothing delivered to {self.names.get(sid)}")
        g = box.popleft()
        self.record(self.names[sid], g.msg.id, g.count)
        return g

    async def quiet(self, sid: int) -> None:
        """Assert nothing is delivered to `sid` within QUIET_S (of virtual time)."""
        await self.sleep(int(QUIET_S * 1e9))
        assert not self.inbox.get(sid), f"core: unexpected delivery {self.inbox[sid][0].msg.id}"

    async def ack(self, g: Got) -> None:
        """Ack."""
        assert self.broker.ack(self.now, g.handle)
        self._tick()

    async def nack(self, g: Got, delay_ns: int = 0) -> None:
        """Nack with requeue."""
        assert self.broker.nack(self.now, g.handle, requeue=True, delay_ns=delay_ns)
        self._tick()

    async def reject(self, g: Got) -> None:
        """Reject without requeue."""
        assert self.broker.reject(self.now, g.handle)
        self._tick()

    async def crash(self, sid: int) -> None:
        """The consumer instance's connection drops."""
        self.broker.unsubscribe(self.now, sid, reason="crash")
        self.inbox.pop(sid, None)
        self._tick()

    async def sleep(self, ns: int) -> None:
        """Let `ns` of virtual time pass (timers fire)."""
        end = self.now + ns
        while True:
            t = self.broker.next_timer()
            if t is None or t > end:
                break
            self.now = max(self.now, t)
            self.broker.fire_timers(self.now)
            self._pump()
        self.now = end
        self._pump()

    async def claim(self, sid: int, min_idle_ns: int) -> None:
        """Redis: claim idle pending entries for `sid` (XCLAIM)."""
        for d in self.broker.claim(self.now, sid, min_idle_ns):
            self.inbox.setdefault(sid, deque()).append(Got(d.sub, d.msg, d.count, d.tag))


class _Sink:
    def __init__(self, drv: RealDriver) -> None:
        self.drv = drv

    def deliver(self, sid: int, msg: Message, count: int, redelivered: bool, handle: Any) -> None:
        q = self.drv.inbox.get(sid)
        if q is not None:
            q.put_nowait(Got(sid, msg, count, handle))

    def dead(self, channel: str, group: str | None, msg: Message, reason: str, target: str | None,
             count: int = 1) -> None:
        self.drv.dead.append(Dead(msg.id, channel, reason, target))

    def kept(self, channel: str, group: str | None, msg: Message, count: int) -> None:
        self.drv.kept.append(msg.id)

    def problem(self, text: str) -> None:
        self.drv.problems.append(text)


class RealDriver(Driver):
    """A real broker through its evtool adapter."""

    def __init__(self, transport: str, url: str, *, classic: bool = False) -> None:
        super().__init__()
        if classic:
            from evtool.transports.amqp import RabbitMQTransport

            self.adapter: Any = RabbitMQTransport(url, classic=True)
        else:
            self.adapter = make_transport(transport, url)
        self.inbox: dict[int, asyncio.Queue[Got]] = {}
        self.names: dict[int, str] = {}
        self.problems: list[str] = []
        self._sid = 0

    async def start(self, plans: list[ChannelPlan]) -> None:
        """Connect and declare the channels under a fresh prefix."""
        await asyncio.wait_for(self.adapter.connect(), 10)
        topo = Topology(new_prefix(), {p.name: p for p in plans})
        await asyncio.wait_for(self.adapter.declare(topo, _Sink(self)), 10)

    async def stop(self) -> None:
        """Delete everything declared and disconnect."""
        try:
            await asyncio.wait_for(self.adapter.cleanup(), 15)
        finally:
            await self.adapter.close()
        assert not self.problems, self.problems

    async def publish(self, channel: str, mid: str, *, ttl_ns: int | None = None, key: str | None = None) -> None:
        """Publish one message and wait for the broker's confirm."""
        assert await self.adapter.publish(channel, Message(mid, channel, key, ttl_ns=ttl_ns))

    async def subscribe(self, channel: str, consumer: str, prefetch: int, group: str | None = None) -> int:
        """Subscribe a consumer instance."""
        self._sid += 1
        sid = self._sid
        self.inbox[sid] = asyncio.Queue()
        self.names[sid] = consumer
        await self.adapter.subscribe(SubSpec(sid, channel, group, consumer, 0, prefetch))
        return sid

    async def take(self, sid: int) -> Got:
        """The next delivery for `sid` (waits up to TAKE_TIMEOUT_S)."""
        try:
            g = await asyncio.wait_for(self.inbox[sid].get(), TAKE_TIMEOUT_S)
        except TimeoutError:
            raise AssertionError(f"real: nothing delivered to {self.names[sid]} within {TAKE_TIMEOUT_S}s") from None
        self.record(self.names[sid], g.msg.id, g.count)
        return g

    async def quiet(self, sid: int) -> None:
        """Assert nothing more arrives for `sid` within QUIET_S."""
        await asyncio.sleep(QUIET_S)
        q = self.inbox[sid]
        assert q.empty(), f"real: unexpected delivery {q._queue[0].msg.id}"  # type: ignore[attr-defined]

    async def ack(self, g: Got) -> None:
        """Ack."""
        await self.adapter.ack(g.handle)

    async def nack(self, g: Got, delay_ns: int = 0) -> None:
        """Nack with requeue."""
        await self.adapter.nack(g.handle, delay_ns)

    async def reject(self, g: Got) -> None:
        """Reject without requeue."""
        await self.adapter.reject(g.handle)

    async def crash(self, sid: int) -> None:
        """Close the consumer instance's subscription without acking."""
        await self.adapter.unsubscribe(sid, "crash")
        self.inbox.pop(sid, None)

    async def sleep(self, ns: int) -> None:
        """Wait for real."""
        await asyncio.sleep(ns / 1e9)

    async def claim(self, sid: int, min_idle_ns: int) -> None:
        """The adapter's claimer does it; nothing to do here."""

    async def settle(self, seconds: float = 0.5) -> None:
        """Give the broker time to deliver dead letters and advisories."""
        await asyncio.sleep(seconds)


async def run_both(script: Any, plans: list[ChannelPlan], transport: str, url: str, profile: str, *,
                   classic: bool = False, **overrides: Any) -> tuple[CoreDriver, RealDriver]:
    """Run `script(driver)` on the core with `profile` and on the real broker; both drivers, for comparing."""
    from evtool.core.profiles import get_profile

    at_limit = get_profile(profile).with_overrides(**overrides).at_limit if overrides else get_profile(profile).at_limit
    for p in plans:
        p.at_limit = at_limit       # the adapter follows the profile at the delivery limit, as topology does
    core = CoreDriver(profile, **overrides)
    await core.start(plans)
    await script(core)
    real = RealDriver(transport, url, classic=classic)
    await real.start(plans)
    try:
        await asyncio.wait_for(script(real), 60)
        await real.settle()
    finally:
        await real.stop()
    return core, real


def plan(name: str, kind: str = "queue", **kw: Any) -> ChannelPlan:
    """A channel plan for a contract script (a queue consumed by one group unless `groups` is given)."""
    kw.setdefault("groups", ["c"])
    return ChannelPlan(name, kind, **kw)
