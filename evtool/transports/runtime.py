"""The engine on a real broker, in real time.

A run on a real broker is the local `Engine`, handed two other parts
(`core.port`: a `Clock` and a `BrokerPort`) instead of its defaults:

* the clock: `RealtimeKernel` runs the same timed callbacks on the asyncio
  loop at wall-clock instants (``now`` = nanoseconds since the run started);
* the broker: `TransportBroker` has the core broker's synchronous API (the
  producers, consumers and fault timeline call it unchanged) and carries each
  call out on a real broker through a `Transport`, in order, in the background.

`RealtimeRun` builds that engine and drives it on the asyncio loop until the
drain ends.

So processing times, failure rules, retries, idempotency, effects and faults
are the simulation's own code, and the trace is the same vocabulary, recorded
from what the client sees: a delivery is ``delivered`` when it arrives, a
dead letter is ``dead_lettered`` when evtool observes it on the broker (the
death record tells the source, reason and count). Channel statistics are
tallied from those facts, not read from the broker.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from evtool.core.broker import Broker
from evtool.core.delivery import ChannelStats, Delivery
from evtool.core.events import EventSink, TraceEvent
from evtool.core.message import Message
from evtool.core.profiles import Profile
from evtool.core.routing import RouteTable
from evtool.scenario.loader import LoadedScenario
from evtool.sim.engine import FLUSH_EVERY, Engine, Listener, gc_tuned
from evtool.transports.base import SubSpec, Topology, Transport
from evtool.transports.publishing import Publishing
from evtool.transports.realtime_kernel import RealtimeKernel
from evtool.transports.tally import Sub as _Sub
from evtool.transports.tally import Tally as _Tally

__all__ = ["RealtimeKernel", "RealtimeRun", "TransportBroker"]

if TYPE_CHECKING:
    from collections.abc import Callable

    from evtool.core.channel_config import ChannelConfig
    from evtool.sim.engine import RunOutcome

POLL_S = 0.005
"""How often the run loop looks for the end of the drain (seconds)."""


class TransportBroker(Publishing):
    """The core broker's synchronous API, carried out on a real broker (see the module docstring).

    It is also the `TransportSink` the adapter reports to. It is given what it needs, not the engine:
    the clock its trace events are stamped with, the sink they go to, and `dispatch`, which hands a
    delivery to the consumer instance subscribed (`core.port.BrokerPort`, with `pushes_deliveries`).
    """

    pushes_deliveries = True

    def __init__(self, clock: Any, emit: EventSink, dispatch: Callable[[Delivery], None], transport: Transport,
                 topology: Topology, profile: Profile) -> None:
        self.clock = clock
        self.emit = emit
        self.dispatch = dispatch
        # the profile's rules, as the core holds a channel to them: a config the core refuses under this
        # profile is refused here too (the adapter declares the channels on the broker, before the run)
        self._rules = Broker(profile, lambda _ev: None)
        self.transport = transport
        self.topology = topology
        self.requeue_position = profile.requeue_position
        # the scenario's patterns run on this broker (the engine builds them; their channels are declared)
        self.runs_patterns = topology.patterns
        self.routes_on_broker = bool(getattr(transport, "routes_on_broker", False))
        # the broker takes a delivery back by itself when its lease runs out (see _lease_expired)
        self.leases_on_broker = bool(getattr(transport, "leases_on_broker", False))
        self.stale_ack = profile.stale_ack
        self.former: dict[int, tuple[_Sub, Any, Message, int]] = {}   # deliveries whose lease ran out
        # an adapter that can queue an ack without a task of its own (True when it did)
        self._ack_now: Callable[[Any], bool] | None = getattr(transport, "ack_now", None)
        # likewise a publish the broker cannot refuse (Redis XADD): queued without a task, True when it was
        self._publish_now: Callable[[str, Message], Any] | None = getattr(transport, "publish_now", None)
        self.unanswered = 0         # publishes issued through publish_now whose answer has not come
        self.subs: dict[int, _Sub] = {}
        self.closed_subs: list[int] = []   # the core's API: the real broker closes and the client recovers
        self._next_sub = 1
        self._next_tag = 1
        self.inflight: dict[int, tuple[_Sub, Any, Message]] = {}
        self.attempts: dict[tuple[Any, str], int] = {}
        self.tallies: dict[tuple[str, str | None], _Tally] = {}
        self.published: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.problems: list[str] = []
        self.routers: dict[str, RouteTable] = {}
        for name, plan in topology.channels.items():
            if plan.kind == "router":
                rt = RouteTable(plan.router_type or "direct")
                for target, pattern in plan.bindings:
                    rt.bind(target, pattern)
                self.routers[name] = rt
            else:
                for g in plan.subscriptions():
                    if g not in plan.late:
                        self.tallies[(name, g)] = _Tally()
        # the subscriptions that exist on the broker (as the runtime orders it): a late group joins when its
        # first consumer subscribes, and from then on counts what is published (decision 2)
        self.created: set[tuple[str, str | None]] = set(self.tallies)
        # channels whose broker removes messages without telling any client (NATS MaxAge / DiscardOld, Redis
        # MAXLEN): the messages published there, so that those found missing can be recorded (see read_empty)
        silent = getattr(transport, "silent_removal", None)
        self.silent: dict[str, str] = {}
        for name, plan in topology.channels.items():
            why = silent(plan) if silent is not None and plan.delivers else None
            if why is not None:
                self.silent[name] = why
        self.kept_msgs: dict[str, Message] = {}
        # dead letters waiting in each dead-letter queue (message, the channel it died in), for a redrive
        self.dead_letters: dict[str, dict[str, tuple[Message, str]]] = {}
        self.settled_at = 0.0
        # per (channel, group): when each subscription's last empty read began; cleared by a delivery
        self.empty_reads: dict[tuple[str, str | None], dict[int, float]] = {}

    # ------------------------------------------------------------------ plumbing

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        self.settled_at = asyncio.get_running_loop().time()
        if not task.cancelled() and task.exception() is not None:
            self.problem(f"{type(task.exception()).__name__}: {task.exception()}")

    def _emit(self, kind: str, msg: Message | None, channel: str | None, actor: str | None = None,
              instance: int | None = None, attempt: int = 0, data: dict[str, Any] | None = None) -> None:
        now = self.clock.now
        if msg is None:
            self.emit(TraceEvent(now, kind, None, channel, actor, instance, None, attempt, None, data))
        else:
            self.emit(TraceEvent(now, kind, msg.id, channel, actor, instance, msg.key, attempt, msg.tag, data))

    def _key(self, channel: str, group: str | None) -> tuple[str, str | None]:
        plan = self.topology.channels[channel]
        return (channel, None) if plan.kind in ("queue", "grouped_queue") else (channel, group)

    def _tally(self, key: tuple[str, str | None]) -> _Tally:
        t = self.tallies.get(key)
        if t is None:
            t = self.tallies[key] = _Tally()
        return t

    # ------------------------------------------------------------------ channels

    def declare(self, name: str, config: ChannelConfig) -> None:
        """Hold a channel of the run to the profile's rules (the adapter has declared it on the broker)."""
        if name not in self.topology.channels:
            raise ValueError(f"channel {name!r} is not part of the run's topology on the broker")
        self._rules.declare(name, config)

    def bind(self, router: str, target: str, pattern: str = "") -> None:
        """Routers are bound on the broker by the adapter (or routed here, `_arrive`); checked like the core."""
        self._rules.bind(router, target, pattern)

    # ------------------------------------------------------------------ publishing

    def publish(self, now: int, channel: str, msg: Message, delay_ns: int = 0) -> bool:
        """Publish through the transport; the trace says where the message goes, as the core would."""
        plan = self.topology.channels.get(channel)
        if plan is None:
            raise KeyError(f"unknown channel {channel!r}")
        self.published[channel] += 1
        if channel in self.silent:
            self.kept_msgs[msg.id] = msg
        if plan.kind != "log":
            self._emit("published", msg, channel, msg.producer)
        leaves = self._arrive(channel, msg, via=None)
        if self.routes_on_broker or plan.kind != "router":
            self._send(channel, msg, leaves)
        else:
            # one publish per target, issued now: each is ordered against a late subscription as the trace
            # counted it (see PublishGate)
            for leaf in leaves:
                self._send(leaf, msg, [leaf])
        return True

    def _groups(self, channel: str, plan: Any) -> list[str]:
        """The groups of a topic or log that exist now (a late group only once subscribed)."""
        return [g for g in plan.groups if (channel, g) in self.created]

    def _arrive(self, channel: str, msg: Message, via: str | None) -> list[str]:
        """Trace and tally the arrival of `msg` in `channel`; the leaf channels it ends in."""
        plan = self.topology.channels[channel]
        if plan.kind == "router":
            targets = self.routers[channel].targets(msg.key)
            if not targets:
                self._emit("unroutable", msg, channel)
                return []
            out: list[str] = []
            for t in targets:
                self._emit("routed", msg, t, data={"router": channel})
                out.extend(self._arrive(t, msg, "routed"))
            return out
        if plan.kind == "log":
            # the partition the adapter's partitioner picks (Kafka: murmur2 of the key), else one stream
            part = getattr(self.transport, "partition_of", None)
            data: dict[str, Any] = {"partition": part(channel, msg) if part is not None else 0}
            if via is None:
                self._emit("published", msg, channel, msg.producer, data=data)
            else:
                self._emit("enqueued", msg, channel, data={**data, "reason": via})
            for g in self._groups(channel, plan):
                t = self._tally((channel, g))
                t.enqueued += 1
                t.ready[msg.id] += 1
            return [channel]
        if plan.kind == "topic":
            groups = self._groups(channel, plan)
            for g in groups:
                t = self._tally((channel, g))
                t.enqueued += 1
                t.ready[msg.id] += 1
                self._emit("enqueued", msg, channel, data={"reason": "topic" if via in (None, "routed") else via,
                                                           "group": g})
            if not groups:
                self._emit("unroutable", msg, channel, data={"reason": "no_subscriptions"})
            return [channel]
        t = self._tally((channel, None))
        t.enqueued += 1
        t.ready[msg.id] += 1
        if via is not None and via != "routed":
            self._emit("enqueued", msg, channel, data={"reason": via})
        return [channel]

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, now: int, channel: str, consumer: str, instance: int, *, group: str | None = None,
                  prefetch: int | None = None, dispatch: str = "unordered", session_timeout_ns: int | None = None,
                  start_from: str = "committed") -> int:
        """Attach a consumer instance; the real subscription is made in the background."""
        plan = self.topology.channels.get(channel)
        if plan is None or plan.kind == "router":
            raise ValueError(f"cannot subscribe to {channel!r}")
        sid = self._next_sub
        self._next_sub += 1
        g = None if plan.kind in ("queue", "grouped_queue") else (group or consumer)
        sub = _Sub(sid, channel, g, consumer, instance)
        self.subs[sid] = sub
        if (channel, g) not in self.created:
            # a late group is created now: it counts what is published from here on (the adapter creates
            # it on the broker after the publishes issued so far and before any issued later)
            self.created.add((channel, g))
            self._tally((channel, g))
        self._spawn(self.transport.subscribe(SubSpec(sid, channel, g, consumer, instance, prefetch or 0,
                                                     "latest" if g in plan.late else "earliest")))
        return sid

    def unsubscribe(self, now: int, sub: int, *, reason: str) -> None:
        """Detach: the transport closes the subscription; unacked deliveries go back as the broker says."""
        s = self.subs.get(sub)
        if s is None or not s.alive:
            return
        s.alive = False
        immediate = bool(getattr(self.transport, "returns_on_close", True))
        t = self._tally(s.key)
        for tag in [tg for tg, rec in self.inflight.items() if rec[0] is s]:
            _s, _h, msg = self.inflight.pop(tag)
            if immediate:
                t.ready[msg.id] += 1
                self._emit("returned", msg, s.channel, s.consumer, s.instance, self.attempts.get((s.key, msg.id), 0),
                           {"reason": reason, "position": self.requeue_position})
            else:
                t.limbo[msg.id] += 1
        self._spawn(self.transport.unsubscribe(sub, reason))

    # ------------------------------------------------------------------ the sink the adapter reports to

    def deliver(self, sid: int, msg: Message, count: int, redelivered: bool, handle: Any) -> None:
        """A delivery arrived: trace it and hand it to the consumer instance."""
        s = self.subs.get(sid)
        if s is None or not s.alive:
            return  # the subscription is closing; the broker takes the delivery back
        key = s.key
        self.empty_reads.pop(key, None)
        ak = (key, msg.id)
        # A delivery the broker calls first (not redelivered, counter at most 1) is a new stored copy, even
        # when an earlier copy had the same message id (NATS without Nats-Msg-Id, Redis XADD twice): it is
        # `delivered` attempt 1, as the core traces it, not a redelivery of the earlier copy.
        att = 1 if not redelivered and count <= 1 else self.attempts.get(ak, 0) + 1
        if att > 1 and self.leases_on_broker:
            self._lease_expired(key, msg, handle)
        self.attempts[ak] = att
        self._tally(key).take(msg.id)
        tag = self._next_tag
        self._next_tag += 1
        self.inflight[tag] = (s, handle, msg)
        data: dict[str, Any] | None = None
        if att > 1 or count:
            data = {"count": count}
        if s.group is not None:
            data = {**(data or {}), "group": s.group}
        self._emit("delivered" if att == 1 else "redelivered", msg, s.channel, s.consumer, s.instance, att, data)
        self.dispatch(Delivery(tag, sid, msg, att, s.channel, None, None, None, count, redelivered or att > 1))

    def _lease_expired(self, key: tuple[str, str | None], msg: Message, handle: Any,
                       observed: str = "redelivered") -> None:
        """A redelivery of a copy this run still holds unsettled: its lease ran out on the broker (NATS AckWait,
        SQS visibility timeout, the Redis claimer's min-idle-time), which handed it out again. Traced as the
        core traces the expiry (``lease_expired``, then ``returned`` with reason lease_expired), at the time
        the redelivery shows it (``data.observed: redelivered``). The old delivery's late ack then follows the
        profile's ``stale_ack``, as in the core (`_stale_ack`)."""
        copy = getattr(self.transport, "copy_id", None)
        mine = copy(handle) if copy is not None and handle is not None else None
        for tag, (s, h, m) in self.inflight.items():
            if s.key != key or m.id != msg.id or (mine is not None and copy(h) != mine):
                continue
            del self.inflight[tag]
            att = self.attempts.get((key, msg.id), 0)
            if self.stale_ack == "settles":
                self.former[tag] = (s, h, m, att)   # its ack still settles the message (see _stale_ack)
            else:
                self._forget(h)
                if self.stale_ack == "ignored":
                    self.former[tag] = (s, None, m, att)
            self._emit("lease_expired", m, s.channel, s.consumer, s.instance, att, {"observed": observed})
            self._tally(key).ready[msg.id] += 1
            self._emit("returned", m, s.channel, s.consumer, s.instance, att,
                       {"reason": "lease_expired", "position": self.requeue_position})
            return

    def dead(self, channel: str, group: str | None, msg: Message, reason: str, target: str | None,
             count: int = 1, observed: str | None = None) -> None:
        """A message left `channel` on the broker: dead-lettered, expired or dropped (`observed`: how evtool
        knows, when not from the broker's own report). A delivery of it the run still holds had its lease run
        out first (SQS moves a message at maxReceiveCount when its last visibility timeout ends): traced so, and
        its late ack follows the profile's ``stale_ack``."""
        key = self._key(channel, group)
        if self.leases_on_broker and reason == "max_deliveries":
            self._lease_expired(key, msg, None, observed="dead_lettered")
        t = self._tally(key)
        t.take(msg.id)
        data: dict[str, Any] = {"reason": reason}
        if observed is not None:
            data["observed"] = observed
        if group is not None:
            data["group"] = group
        attempt = self.attempts.get((key, msg.id), 0)
        if reason == "expired":
            self._emit("expired", msg, channel, attempt=attempt, data=data)
        if target is None:
            if reason == "expired":
                t.expired += 1
            else:
                t.dropped += 1
                self._emit("dropped", msg, channel, attempt=attempt, data=data)
            return
        t.dead_lettered += 1
        self._emit("dead_lettered", msg, channel, attempt=attempt, data={**data, "target": target, "count": count})
        tplan = self.topology.channels.get(target)
        if tplan is not None:
            self._arrive(target, msg, "dead_letter")
            if tplan.kind in ("queue", "grouped_queue"):
                self.dead_letters.setdefault(target, {})[msg.id] = (msg, channel)

    def kept(self, channel: str, group: str | None, msg: Message, count: int) -> None:
        """A message hit its delivery limit and stays on the broker (NATS MaxDeliver advisory)."""
        key = self._key(channel, group)
        t = self._tally(key)
        t.take(msg.id)
        t.kept += 1
        data: dict[str, Any] = {"count": count}
        if group is not None:
            data["group"] = group
        self._emit("max_deliveries_reached", msg, channel, attempt=self.attempts.get((key, msg.id), 0), data=data)

    def handed_out(self, channel: str, group: str | None, msg: Message) -> None:
        """The broker shows `msg` handed to a consumer of `group` (a Redis group's last-delivered-id has passed
        its entry) before the delivery reached the client: the copy leaves the ready count for the in-flight one
        now, as on the broker, and the delivery takes it when it arrives. Nothing when the delivery arrived
        already."""
        key = self._key(channel, group)
        if (key, msg.id) not in self.attempts:
            self._tally(key).handed_out(msg.id)

    def read_empty(self, sid: int, started: float) -> None:
        """A read of subscription `sid` that began at loop time `started` found nothing to deliver.

        On a channel whose broker removes messages silently (`Transport.silent_removal`), a copy the trace
        still counts as ready is then gone: nothing of this run was under way on the broker when the read
        began (every publish answered, every settlement sent), so the broker would have handed it out. It
        is recorded as the core records that removal (``expired`` for a stream's MaxAge, ``dropped`` with
        reason ``overflow`` for a discard or trim of the oldest), with ``data.observed: missing``, at the
        time it was found missing rather than when the broker removed it.
        """
        s = self.subs.get(sid)
        busy = getattr(self.transport, "busy", None)   # also publishes queued without a task (Redis)
        if (s is None or not s.alive or s.channel not in self.silent or self.tasks or self.unanswered
                or (busy is not None and busy())
                or started < max(self.settled_at, getattr(self.transport, "answered_at", 0.0))):
            return
        # every live instance must have found nothing since the last delivery (another's read may hold it)
        empties = self.empty_reads.setdefault(s.key, {})
        empties[sid] = started
        since = max(self.settled_at, getattr(self.transport, "answered_at", 0.0))
        if any(x.alive and x.key == s.key and empties.get(x.sid, -1.0) < since for x in self.subs.values()):
            return
        t = self.tallies.get(s.key)
        if t is None or not t.ready or t.delayed or t.limbo:
            return
        if any(rec[0].key == s.key for rec in self.inflight.values()):
            return
        plan = self.topology.channels[s.channel]
        reason = "expired" if plan.ttl_ns is not None and (plan.capacity is None
                                                            or plan.overflow == "reject_publish") else "overflow"
        for mid, n in list(t.ready.items()):
            msg = self.kept_msgs.get(mid)
            for _ in range(n):
                if msg is None:
                    t.take(mid)
                    continue
                self.dead(s.channel, s.group, msg, reason, None, 0, observed="missing")

    def fact(self, kind: str, channel: str | None, data: dict[str, Any], actor: str | None = None,
             instance: int | None = None) -> None:
        """A fact the adapter observed on the broker, in the trace vocabulary (Kafka: partition_assigned,
        partition_revoked, rebalanced, committed)."""
        self._emit(kind, None, channel, actor, instance, data=data)

    def problem(self, text: str) -> None:
        """Record a broker-side problem; the run outcome lists them."""
        if len(self.problems) < 50:
            self.problems.append(text)

    # ------------------------------------------------------------------ settlement

    def _pop(self, tag: int) -> tuple[_Sub, Any, Message] | None:
        rec = self.inflight.pop(tag, None)
        if rec is None and tag in self.former:
            h = self.former.pop(tag)[1]     # a nack or reject of a lease that ran out: refused, credit back
            if h is not None:
                self._forget(h)
        return rec

    def _forget(self, handle: Any) -> None:
        forget = getattr(self.transport, "forget", None)
        if forget is not None:
            forget(handle)

    def _stale_ack(self, tag: int) -> bool:
        """The ack of a delivery whose lease ran out (the message was redelivered), as the profile's
        ``stale_ack`` says: ``settles`` (NATS: "the ack from the first consumer will be considered"; Redis: XACK
        names the group and the entry id) acks the message on the broker with the old handle and takes the
        newer delivery back from its holder (whose own ack is then refused); ``ignored`` (SQS: an old receipt
        handle deletes nothing) changes nothing; refused otherwise, or when the message is settled already."""
        rec = self.former.pop(tag, None)
        if rec is None:
            return False
        s, h, m, att = rec
        if h is None:
            return True
        newer = next((t for t, (s2, _h2, m2) in self.inflight.items() if s2.key == s.key and m2.id == m.id), None)
        if newer is None:
            self._forget(h)
            return False
        self._forget(self.inflight.pop(newer)[1])
        self._tally(s.key).acked += 1
        data: dict[str, Any] = {"stale_tag": True, "latest_attempt": self.attempts.get((s.key, m.id), 0)}
        if s.group is not None:
            data["group"] = s.group
        self._emit("acked", m, s.channel, s.consumer, s.instance, att, data)
        if self._ack_now is None or not self._ack_now(h):
            self._spawn(self.transport.ack(h))
        return True

    def ack(self, now: int, tag: int) -> bool:
        """Acknowledge a delivery."""
        rec = self.inflight.pop(tag, None)
        if rec is None:
            return self._stale_ack(tag)
        s, handle, msg = rec
        self._tally(s.key).acked += 1
        self._emit("acked", msg, s.channel, s.consumer, s.instance, self.attempts.get((s.key, msg.id), 0),
                   {"group": s.group} if s.group is not None else None)
        if self._ack_now is None or not self._ack_now(handle):
            self._spawn(self.transport.ack(handle))
        return True

    def nack(self, now: int, tag: int, *, requeue: bool = True, delay_ns: int = 0) -> bool:
        """Return a delivery (now, or after `delay_ns`), or without requeue reject it."""
        rec = self._pop(tag)
        if rec is None:
            return False
        s, handle, msg = rec
        att = self.attempts.get((s.key, msg.id), 0)
        self._emit("nacked", msg, s.channel, s.consumer, s.instance, att, {"requeue": requeue, "delay": delay_ns})
        t = self._tally(s.key)
        if not requeue:
            t.limbo[msg.id] += 1
            self._spawn(self.transport.reject(handle))
            return True
        if delay_ns > 0:
            t.delayed[msg.id] += 1
            self._emit("delayed", msg, s.channel, s.consumer, s.instance, att, {"delay": delay_ns, "reason": "nack"})
        else:
            t.ready[msg.id] += 1
            self._emit("returned", msg, s.channel, s.consumer, s.instance, att,
                       {"reason": "nack", "position": self.requeue_position})
        self._spawn(self.transport.nack(handle, delay_ns))
        return True

    def reject(self, now: int, tag: int) -> bool:
        """Reject without requeue: the broker dead-letters or drops it (observed later)."""
        rec = self._pop(tag)
        if rec is None:
            return False
        s, handle, msg = rec
        self._emit("rejected", msg, s.channel, s.consumer, s.instance, self.attempts.get((s.key, msg.id), 0))
        self._tally(s.key).limbo[msg.id] += 1
        self._spawn(self.transport.reject(handle))
        return True

    # ------------------------------------------------------------------ what the engine also calls

    def extend_lease(self, now: int, tag: int, ns: int) -> bool:
        """Not carried out on real brokers (no scenario field asks for it)."""
        return False

    def commit(self, now: int, sub: int, partition: int, offset: int) -> bool:
        """On the real brokers an ack is the commit; nothing more to do."""
        return True

    def commit_processed(self, now: int, sub: int) -> dict[int, int]:
        """On the real brokers an ack is the commit; nothing more to do."""
        return {}

    def pump(self, now: int) -> list[Delivery]:
        """Deliveries arrive from the broker on their own; nothing to pump."""
        return []

    def next_timer(self) -> int | None:
        """The broker owns its timers."""
        return None

    def fire_timers(self, now: int) -> None:
        """The broker owns its timers."""

    def restart(self, now: int) -> None:
        """A real broker is not restarted: the fault timeline has closed every consumer's channel, and the
        subscriptions still open (a pattern's inboxes) are closed here, as the core's restart closes every
        subscription: that is what clients see of a restart (a pattern reopens its inboxes when the broker is
        back); durable state is the broker's own."""
        for sid, s in list(self.subs.items()):
            if s.alive:
                self.unsubscribe(now, sid, reason="channel_closed")
        self._emit("broker_restarted", None, None, data={"lost": 0, "simulated": "connections_closed"})

    def set_available(self, now: int, available: bool) -> None:
        """Availability is the real broker's."""

    def redrive(self, now: int, dead_letter_channel: str, msg_id: str | None = None) -> int:
        """Send the dead letters waiting in `dead_letter_channel` back to the channel they died in (all, or
        the one with `msg_id`), as the core does; returns how many. Traced now (``redriven``, then the
        arrival in the source channel, as a publish is traced before the broker's confirm); the adapter takes
        each one from the dead-letter queue and publishes it to its source in the background."""
        plan = self.topology.channels.get(dead_letter_channel)
        if plan is None or plan.kind not in ("queue", "grouped_queue"):
            raise ValueError(f"redrive needs a queue channel; {dead_letter_channel!r} is "
                             f"{plan.kind if plan is not None else 'unknown'}")
        carry = getattr(self.transport, "redrive", None)
        if carry is None:
            self.problem(f"redrive is not supported on {getattr(self.transport, 'name', 'this broker')}")
            return 0
        t = self._tally((dead_letter_channel, None))
        waiting = self.dead_letters.get(dead_letter_channel, {})
        moves: list[tuple[Message, str]] = []
        for mid, (msg, source) in list(waiting.items()):
            if (msg_id is not None and mid != msg_id) or t.ready[mid] <= 0 or source not in self.topology.channels:
                continue
            del waiting[mid]
            t.take(mid)
            t.redriven += 1
            self._emit("redriven", msg, dead_letter_channel, data={"to": source})
            self._arrive(source, msg, "redrive")
            moves.append((msg, source))
        if moves:
            self._spawn(self._redrive(dead_letter_channel, moves))
        return len(moves)

    async def _redrive(self, dead_letter_channel: str, moves: list[tuple[Message, str]]) -> None:
        missing = await self.transport.redrive(dead_letter_channel, moves)  # type: ignore[attr-defined]
        for mid in missing:
            self.problem(f"redrive: {mid} was not found in {dead_letter_channel} on the broker")

    def claim(self, now: int, sub: int, min_idle_ns: int, count: int | None = None) -> list[Delivery]:
        """Claims are made by the Redis adapter's claimer, not by the engine."""
        return []

    def subscriber(self, sub: int) -> _Sub | None:
        """The subscription `sub` while it is open (a pattern's inbox reopens one that is not)."""
        s = self.subs.get(sub)
        return s if s is not None and s.alive else None

    def channels(self) -> list[str]:
        """Declared channel names."""
        return list(self.topology.channels)

    def stats(self, channel: str) -> ChannelStats:
        """Counts for `channel`, tallied from the trace (a topic or log sums its groups)."""
        parts = [t for k, t in self.tallies.items() if k[0] == channel]
        inflight = Counter(rec[0].key[0] for rec in self.inflight.values())
        ready = sum(sum(t.ready.values()) for t in parts)
        delayed = sum(sum(t.delayed.values()) for t in parts)
        limbo = sum(sum(t.limbo.values()) for t in parts)
        in_flight = inflight[channel] + limbo
        return ChannelStats(
            published=self.published[channel], enqueued=sum(t.enqueued for t in parts), ready=ready,
            in_flight=in_flight, delayed=delayed, acked=sum(t.acked for t in parts),
            dead_lettered=sum(t.dead_lettered for t in parts), expired=sum(t.expired for t in parts),
            dropped=sum(t.dropped for t in parts), kept=sum(t.kept for t in parts),
            redriven=sum(t.redriven for t in parts), rejected_publishes=self.refused[channel], depth=ready + in_flight + delayed,
            ready_peak=None if getattr(self.topology.channels.get(channel), "kind", None) == "log"
            else max([ready, *(t.ready.peak for t in parts)]))

    def restart_peaks(self) -> None:
        """Start a new interval for `ChannelStats.ready_peak` (each tally's peak is its ready count now)."""
        for t in self.tallies.values():
            t.ready.restart_peak()

    def log_group_state(self, channel: str, group: str) -> dict[str, Any]:
        """A log group as the views read it, from the trace: lag = records not yet handed out, in flight =
        handed out and not settled (positions and owners are the broker's, not tracked here)."""
        key = (channel, group)
        if key not in self.created:
            raise KeyError(f"no consumer group {group!r} on log {channel!r}")
        t = self._tally(key)
        in_flight = sum(1 for rec in self.inflight.values() if rec[0].key == key) + sum(t.limbo.values())
        members = [f"{s.consumer}#{s.instance}" for s in self.subs.values() if s.key == key and s.alive]
        return {"position": [], "committed": [], "owner": [], "members": members,
                "lag": sum(t.ready.values()) + sum(t.delayed.values()), "in_flight": in_flight,
                "strategy": "broker"}

    def subscription_stats(self, channel: str) -> dict[str, ChannelStats]:
        """Per-channel counts (groups are not split out on real brokers)."""
        return {channel: self.stats(channel)}

    def idle(self) -> bool:
        """Nothing in flight, delayed, between client and broker, or ready where a live consumer reads."""
        if self.inflight or self.tasks or self.unanswered:
            return False
        busy = getattr(self.transport, "busy", None)   # records the broker will hand out again (Kafka)
        if busy is not None and busy():
            return False
        live = {s.key for s in self.subs.values() if s.alive}
        for key, t in self.tallies.items():
            if t.delayed or t.limbo:
                return False
            if key in live and t.ready:
                return False
        return True


class RealtimeRun:
    """A scenario's engine on a real broker: the one `Engine`, handed a `RealtimeKernel` and a
    `TransportBroker`, driven on the asyncio loop until the drain ends (see the module docstring)."""

    def __init__(self, loaded: LoadedScenario, transport: Transport, topology: Topology, *,
                 seed: int | None = None, duration_ns: int | None = None,
                 listeners: Sequence[Listener] = (), limits: Any = None) -> None:
        self.kernel = RealtimeKernel()
        self._flushed_events = 0

        def broker(profile: Profile, emit: EventSink, dispatch: Callable[[Delivery], None]) -> TransportBroker:
            return TransportBroker(self.kernel, emit, dispatch, transport, topology, profile)

        self.engine = Engine(loaded, seed=seed, duration_ns=duration_ns, listeners=listeners, clock=self.kernel,
                             broker=broker, limits=limits)
        self.broker: TransportBroker = self.engine.broker

    async def run_async(self) -> RunOutcome:
        """Run in real time until the drain ends (or its maximum passes); the outcome as the engine's.

        The cycle collector is tuned as for a local run (`gc_tuned`): a real run allocates as many
        short-lived objects a message, and with Python's default threshold the collector took about a
        quarter of the client's CPU in the broker benchmark, rescanning the run's long-lived state."""
        kernel, engine = self.kernel, self.engine
        kernel.start(asyncio.get_running_loop())
        with gc_tuned():
            return await self._run_tuned(kernel, engine)

    async def _run_tuned(self, kernel: RealtimeKernel, engine: Engine) -> RunOutcome:
        try:
            engine.start()
            while engine.phase != "done":
                await asyncio.sleep(POLL_S)
                if kernel.errors:
                    self.broker.problem(f"run stopped by an error: {kernel.errors[0]!r}")
                    engine.stop("error")
                    break
                if len(engine.buffer) >= FLUSH_EVERY:
                    self._flushed_events += len(engine.buffer)
                    engine.flush()
                self._check_budget()
                if engine.phase == "load" and self._load_done():
                    # in real time, waiting out the rest of the load phase with nothing left to send would
                    # only cost wall time: the drain starts now (its maximum counts from here)
                    engine.end_load_now()
                if engine.phase == "drain" and engine.quiescent():
                    engine.complete_drain()
        except asyncio.CancelledError:
            # Ctrl-C: end like an interrupted local run (outcome "interrupted"); the caller still cleans up
            engine.stop("interrupted")
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        finally:
            kernel.cancel_all()
        return engine.finish()

    def _check_budget(self) -> None:
        """`run.budget` / --max-messages / --max-wall / --max-events on a real broker: published messages,
        wall time since the start, and trace events (a real run has no kernel events; its trace events stand
        for them), checked every poll; over budget the run stops (outcome unknown) and the caller cleans up."""
        engine = self.engine
        if engine.phase == "done":
            return
        lim = engine.limits
        published = sum(self.broker.published.values())
        if published > lim.messages:
            engine._over_budget("messages")
        elif engine._deadline is not None and time.monotonic() > engine._deadline:
            engine._over_budget("wall")
        elif self.digest_events() > lim.events:
            engine._over_budget("events")

    def digest_events(self) -> int:
        """Trace events so far (flushed and buffered)."""
        return len(self.engine.buffer) + self._flushed_events

    def _load_done(self) -> bool:
        """Every producer has stopped and nothing is left on the timeline (injections, faults, a late
        consumer's start: ending the load before it would leave its messages unread)."""
        engine = self.engine
        now = engine.now
        for p in engine.producers:
            if not p.stopped or any(inj.at > now for inj in p.spec.inject):
                return False
        if any(c.spec.start > now and not c.instances for c in engine.consumers.values()):
            return False
        if any(p.arrivals_pending() for p in engine.patterns):   # a requester's or a projection's timeline
            return False
        for f in engine.scenario.faults:
            if f.enabled and (f.at > now or f.every is not None):
                return False
            # a crashed consumer that restarts later is still to come (what it re-reads is not on the timeline)
            if (f.enabled and f.action == "crash" and getattr(f, "restart_after", None) is not None
                    and any(i.state == "crashed" for i in engine.faults.targets(f.target))):
                return False
        return True

    async def settle(self, timeout_s: float = 5.0) -> None:
        """Wait (bounded) for the background broker operations still running."""
        if self.broker.tasks:
            await asyncio.wait(list(self.broker.tasks), timeout=timeout_s)
