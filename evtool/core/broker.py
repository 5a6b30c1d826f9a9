"""The broker facade the engine drives: declare, publish, pump, settle, timers.

Everything is synchronous and pure: the caller hands in the virtual time
``now`` (integer nanoseconds, never decreasing) and receives `Delivery`
objects; every fact goes to the `EventSink` as a `TraceEvent`.

The engine's loop::

    broker = Broker(get_profile("rabbitmq-quorum"), sink)
    broker.declare("orders", QueueConfig(max_deliveries=5, dead_letter="orders.dlq"))
    sub = broker.subscribe(now, "orders", "billing", 1, group=None, prefetch=10)
    broker.publish(now, "orders", Message("m1", key="order.created"))
    for d in broker.pump(now):              # every delivery that can be made now
        ...                                 # later: ack / nack / reject with d.tag
    t = broker.next_timer()                 # earliest lease expiry, delay, TTL at a head, eviction
    broker.fire_timers(t)                   # then pump again

API (all times in ns):

``declare(name, config)``                   a `QueueConfig`, `GroupedQueueConfig`, `TopicConfig`,
                                            `LogConfig` or `RouterConfig`
``bind(router, target, pattern="")``        router -> channel binding (``*``/``#`` for topic routers)
``publish(now, channel, msg, delay_ns=0)``  False when refused (capacity reject_publish, broker
                                            unavailable); duplicates and unroutable messages return True
``subscribe(now, channel, consumer, instance, *, group=None, prefetch=None, dispatch="unordered",
            session_timeout_ns=None, start_from="committed") -> sub id``
``unsubscribe(now, sub, *, reason)``        leave | crash | channel_closed
``pump(now) -> list[Delivery]``
``ack(now, tag)`` / ``nack(now, tag, *, requeue=True, delay_ns=0)`` / ``reject(now, tag)`` -> bool
                                            (False for an unknown tag. An ack with the tag of an earlier
                                            delivery of a redelivered message follows `Profile.stale_ack`:
                                            it settles the message (NATS, Redis), is accepted and
                                            changes nothing (SQS), or is refused (RabbitMQ, Kafka).
                                            Under `Profile.reject_action` lease_expiry (SQS) a reject
                                            leaves the message in flight until its lease ends.)
``extend_lease(now, tag, ns) -> bool``      SQS ChangeMessageVisibility / NATS +WPI
``claim(now, sub, min_idle_ns, count=None)``  Redis XAUTOCLAIM: take over idle pending deliveries
``commit(now, sub, partition, offset)``     logs; ``commit_processed(now, sub)`` commits every
                                            partition up to its contiguous run of acked records
``next_timer()`` / ``fire_timers(now)``
``restart(now)``                            keep durable state only; every subscription is closed
``set_available(now, available)``           while unavailable: publishes refused, nothing delivered,
                                            settlements ignored
``redrive(now, dead_letter_channel, msg_id=None) -> int``
``stats(channel)`` / ``subscription_stats(channel)`` / ``log_group_state(channel, group)`` / ``idle()``

Trace conventions: a producer publish emits ``published`` at the channel
(for a log with ``data.partition`` and ``data.offset``); a router emits
``routed`` per target; ``enqueued`` marks any other arrival (a topic
subscription's copy, a routed log append, a dead letter, a redrive, a delay
that elapsed). A first delivery emits ``delivered``, later ones
``redelivered``; ``attempt`` is the delivery number (1, 2, ...) and
``data.count`` carries the profile's counter when it differs.

Where things are: this module holds the API (declare, publish and routing, subscribe, pump, restart,
redrive, stats); `Broker` is assembled from `BrokerState` (brokerstate.py: shared state, emitters, timers),
`QueueDelivery` (queue_delivery.py: the queue state machine) and `LogGroups` (loggroups.py: log consumer
groups; records and group bookkeeping in logs.py).

Performance: the hot path (publish to a queue, pump, ack) does O(1) work per
message with ``__slots__`` objects and deques; leases sit in a per-queue deque
in deadline order (the ack timeout is constant per queue), extended leases in
a small heap; `next_timer` reads a lazy heap with one live hint per queue
or group; `pump` only visits queues and groups marked dirty.
"""

from __future__ import annotations

from heapq import heappop, heappush

from evtool.core.brokerstate import BrokerState, Channel, _new
from evtool.core.channel_config import (
    ChannelConfig,
    GroupedQueueConfig,
    LogConfig,
    QueueConfig,
    RouterConfig,
    TopicConfig,
)
from evtool.core.delivery import ChannelStats, Delivery
from evtool.core.events import TraceEvent
from evtool.core.loggroups import LogGroups
from evtool.core.logs import LogChannel, LogGroup
from evtool.core.message import Message, content_dedup_id
from evtool.core.profiles import whole_units
from evtool.core.queue_delivery import QueueDelivery
from evtool.core.queues import (
    DELAYED,
    LIVE_STATES,
    READY,
    REDRIVEN,
    Entry,
    GroupedQueueState,
    QueueState,
    Subscriber,
)
from evtool.core.routing import RouteTable

# Plain Python takes the no-op decorators of evtool.core._nocython, not Cython's Shadow module (~4 ms of a
# run's start-up to import); compiled, Cython reads `cython.locals` as it compiles this `import cython`,
# which does nothing at run time.
if not __file__.endswith((".so", ".pyd")):
    from evtool.core import _nocython as cython
else:
    import cython

# single_active changes who receives (RabbitMQ single active consumer); per_partition and per_key are
# kept on the subscriber for the engine, which decides how an instance processes what it receives
DISPATCHES = ("unordered", "per_partition", "per_key", "single_active")
UNSUBSCRIBE_REASONS = ("leave", "crash", "channel_closed")
START_FROM = ("committed", "earliest", "latest")

__all__ = ["DISPATCHES", "START_FROM", "UNSUBSCRIBE_REASONS", "Broker", "Channel"]


class Broker(QueueDelivery, LogGroups, BrokerState):
    """The local broker core: channels, subscriptions and the delivery state machine.

    See the module docstring for the API and the trace conventions.
    """

    pushes_deliveries = False
    """The engine pumps deliveries after each event (`core.port.BrokerPort`)."""

    # ------------------------------------------------------------------ setup
    def declare(self, name: str, config: ChannelConfig) -> None:
        """Declare a channel; declaring the same name again with an equal config is a no-op."""
        old = self._channels.get(name)
        if old is not None:
            if old.cfg == config:
                return
            raise ValueError(f"channel {name!r} already declared with a different config")
        p = self.profile
        if isinstance(config, QueueConfig | LogConfig):
            dw = config.dedup_window_ns
            dedup = p.dedup_window_ns if dw is None else (dw or None)
        else:
            dedup = None
        if isinstance(config, QueueConfig) and config.overflow == "dead_letter" and p.overflow_head == "drop":
            how = ("XADD MAXLEN trims silently" if p.broker == "redis"
                   else "JetStream DiscardOld deletes silently" if p.broker == "nats" else "deleted silently")
            raise ValueError(f"channel {name!r}: profile {p.name!r} cannot dead-letter at capacity "
                             f"(overflow_head: drop; {how}); use overflow: drop_head or reject_publish")
        if isinstance(config, QueueConfig) and config.max_deliveries and not p.counter_increments_on:
            raise ValueError(f"channel {name!r}: profile {p.name!r} has no delivery counter "
                             f"({p.counter_name}), so max_deliveries cannot apply")
        if isinstance(config, QueueConfig) and config.content_based_dedup and dedup is None:
            raise ValueError(f"channel {name!r}: content_based_dedup needs a dedup window "
                             f"(profile {p.name!r} has none; set dedup_window)")
        ch = Channel(name, config, dedup)
        ch.content_dedup = isinstance(config, QueueConfig) and config.content_based_dedup
        if isinstance(config, TopicConfig):
            pass  # subscription queues are made on subscribe
        elif isinstance(config, QueueConfig):
            ch.qs = self._make_qs(ch, None)
        elif isinstance(config, LogConfig):
            ch.log = LogChannel(name, config.partitions, config.retention_ns, config.retention_count,
                                config.partitioner)
        elif isinstance(config, RouterConfig):
            ch.router = RouteTable(config.type)
        else:
            raise TypeError(f"unknown channel config {type(config).__name__}")
        self._channels[name] = ch

    def _make_qs(self, ch: Channel, group: str | None) -> QueueState:
        cfg = ch.cfg
        assert isinstance(cfg, QueueConfig)
        p = self.profile
        qs: QueueState = (GroupedQueueState if isinstance(cfg, GroupedQueueConfig) else QueueState)(ch.name, group)
        qs.requeue_position = cfg.requeue_position or p.requeue_position
        at = cfg.ack_timeout_ns
        qs.lease_action = p.ack_timeout_action
        if at is None:
            qs.ack_timeout_ns = p.ack_timeout_ns if p.ack_timeout_action != "none" else None
        else:
            qs.ack_timeout_ns = at or None
            if qs.lease_action == "none":
                qs.lease_action = "return_message"
        if qs.ack_timeout_ns and p.time_unit_ns:  # SQS: a VisibilityTimeout is whole seconds
            qs.ack_timeout_ns = whole_units(qs.ack_timeout_ns, p.time_unit_ns)
        md = cfg.max_deliveries
        qs.max_deliveries = p.max_deliveries if md is None else (md or None)
        qs.nack_position = qs.requeue_position
        if qs.requeue_position == "head_if_limited":
            # RabbitMQ 3.10 quorum queues (checked by tests/contract): a closed channel's messages go
            # back to the head; a nacked one goes to the head only when the queue has a delivery limit.
            qs.requeue_position = "head"
            qs.nack_position = "head" if qs.max_deliveries else "tail"
        # message_expiry none (Redis streams): no entry expires, whatever the channel's or a message's ttl
        qs.expiry_none = p.message_expiry == "none"
        qs.ttl_ns = None if qs.expiry_none else cfg.ttl_ns
        qs.capacity = cfg.capacity
        # a broker that cannot refuse a publish (Redis XADD MAXLEN) stores it and trims the oldest instead
        qs.overflow = ("drop_head" if cfg.overflow == "reject_publish" and p.reject_publish == "head_trimmed"
                       else cfg.overflow)
        qs.dead_letter = cfg.dead_letter
        qs.counts_deliver = "deliver" in p.counter_increments_on
        qs.count_returns = p.counter_increments_on - {"deliver"}
        qs.at_limit = p.at_limit
        qs.durable = cfg.durable
        qs.expire_anywhere = p.message_expiry == "anywhere"
        if qs.grouped:
            qs.group_batch = p.group_receive == "batch"
        qs.capacity_stored = p.capacity_counts == "stored"
        qs.reject_over = p.reject_publish_over
        if p.reject_publish_resume_pct is not None and cfg.capacity is not None:
            qs.reject_resume = cfg.capacity * p.reject_publish_resume_pct // 100
        qs.overflow_dead_letters = p.overflow_head == "dead_letter"
        qs.reject_lease = p.reject_action in ("lease_expiry", "stays_pending")
        qs.reject_stays = p.reject_action == "stays_pending"
        if isinstance(cfg, GroupedQueueConfig):
            qs.group_key = cfg.group_key
        return qs

    def bind(self, router: str, target: str, pattern: str = "") -> None:
        """Bind `target` to `router` with a binding key (ignored by fanout routers)."""
        ch = self._channel(router)
        if ch.router is None:
            raise ValueError(f"{router!r} is a {ch.kind}, not a router")
        self._channel(target)
        ch.router.bind(target, pattern)

    def unbind(self, router: str, target: str, pattern: str = "") -> None:
        """Remove a binding."""
        ch = self._channel(router)
        if ch.router is None:
            raise ValueError(f"{router!r} is a {ch.kind}, not a router")
        ch.router.unbind(target, pattern)

    # ------------------------------------------------------------ publish
    def set_available(self, now: int, available: bool) -> None:
        """Make the broker unavailable (publishes refused, no deliveries, settlements ignored) or back."""
        self._available = available
        if available:
            for ch in self._channels.values():
                for qs in self._states(ch):
                    self._dirty[qs] = None
                if ch.log is not None:
                    for g in ch.log.groups.values():
                        self._dirty[g] = None

    @cython.locals(self=BrokerState, msg=Message, qs=QueueState, e=Entry, ch=Channel, channels=dict)
    def publish(self, now: int, channel: str, msg: Message, delay_ns: int = 0) -> bool:
        """Publish `msg` to `channel` (optionally not before ``now + delay_ns``); False when refused."""
        if delay_ns and self.profile.time_unit_ns:  # SQS DelaySeconds: whole seconds
            delay_ns = whole_units(delay_ns, self.profile.time_unit_ns)
        channels = self._channels  # (a dict: a compiled build reads it without a method lookup)
        ch = channels.get(channel)
        if ch is None:
            raise KeyError(f"unknown channel {channel!r}; declared: {', '.join(self._channels) or '(none)'}")
        if not self._available:
            ch.unavailable_rejects += 1
            self._emit(now, "publish_rejected", msg, channel, msg.producer, None, 0,
                       {"reason": "broker_unavailable"})
            return False
        if ch.dedup_window is not None:
            # Only a message that carries a dedup id (NATS Nats-Msg-Id, SQS MessageDeduplicationId) can be
            # a duplicate; an SQS FIFO queue with ContentBasedDeduplication hashes the body of one without.
            did = msg.dedup_id
            if did is None and ch.content_dedup:
                did = content_dedup_id(msg.payload)
            if did is not None and self._duplicate(now, ch, msg, did):
                return True
        ch.published += 1
        if ch.kind != "log":
            self._sink(_new(TraceEvent, (now, "published", msg.id, channel, msg.producer, None, msg.key, 0,
                                         msg.tag, None)))
        qs = ch.qs
        if (qs is not None and not delay_ns and qs.capacity is None and qs.ttl_ns is None and msg.ttl_ns is None
                and not qs.grouped):
            # The common case of _into -> _enqueue -> QueueState.push, inlined (no TTL, capacity, delay or
            # group: nothing to emit, hint or evict): three calls fewer per message.
            e = Entry(msg, qs, None, None)
            qs.enqueued += 1
            e.pos = qs.next_pos
            qs.next_pos += 1
            qs.ready.append(e)
            qs.ready_n += 1
            if qs.ready_n > qs.ready_peak:
                qs.ready_peak = qs.ready_n
            self._dirty[qs] = None
            return True
        return self._into(now, ch, msg, delay_ns, None)

    def _duplicate(self, now: int, ch: Channel, msg: Message, did: str) -> bool:
        """Whether dedup id `did` was accepted within the channel's window (then `msg` is dropped)."""
        seen = ch.dedup_seen
        order = ch.dedup_order
        while order and order[0][0] <= now:
            _, key = order.popleft()
            if seen.get(key, now + 1) <= now:
                del seen[key]
        end = seen.get(did)
        if end is not None and end > now:
            ch.duplicates += 1
            self._emit(now, "duplicate_dropped", msg, ch.name, msg.producer, None, 0,
                       {"window_ends": end, "dedup_id": did})
            return True
        end = now + (ch.dedup_window or 0)
        seen[did] = end
        order.append((end, did))
        return False

    def _into(self, now: int, ch: Channel, msg: Message, delay_ns: int, via: str | None) -> bool:
        """Put `msg` into channel `ch`. `via` is None for a producer publish, else how it arrived."""
        kind = ch.kind
        if kind == "queue" or kind == "grouped_queue":
            return self._enqueue(now, ch.qs, msg, delay_ns, via)  # type: ignore[arg-type]
        if kind == "topic":
            ch.history.append((now, msg))
            states = list(ch.topic_states.values())
            if not states:
                self._emit(now, "unroutable", msg, ch.name, None, None, 0, {"reason": "no_subscriptions"})
                return True
            ok = True
            for qs in states:
                ok = self._enqueue(now, qs, msg, delay_ns, "topic" if via in (None, "routed") else via) and ok
            return ok
        if kind == "log":
            log = ch.log
            assert log is not None
            p, off = log.append(now, msg)
            data = {"partition": p, "offset": off}
            if via is None:
                self._emit(now, "published", msg, ch.name, msg.producer, None, 0, data)
            else:
                data["reason"] = via
                self._emit(now, "enqueued", msg, ch.name, None, None, 0, data)
            for g in log.groups.values():
                self._dirty[g] = None
            return True
        # router: collect every destination first, so that one publish puts at most one copy in each
        # channel however many bindings or exchange-to-exchange paths reach it
        dests: dict[str, None] = {}
        self._route(now, ch, msg, dests, {ch.name})
        if not dests:
            self._emit(now, "unroutable", msg, ch.name, None, None, 0, None)
            return True
        ok = True
        for t in dests:
            ok = self._into(now, self._channels[t], msg, delay_ns, "routed") and ok
        return ok

    def _route(self, now: int, ch: Channel, msg: Message, dests: dict[str, None], seen: set[str]) -> None:
        """Add the channels router `ch` delivers `msg` to (through routers bound to it, and alternates)."""
        rt = ch.router
        assert rt is not None
        targets = rt.targets(msg.key)
        if not targets:
            alt = ch.cfg.alternate if isinstance(ch.cfg, RouterConfig) else None
            if alt is not None and alt in self._channels and alt not in dests and alt not in seen:
                self._emit(now, "routed", msg, alt, None, None, 0, {"router": ch.name, "alternate": True})
                self._add_destination(now, self._channels[alt], msg, dests, seen)
            return
        for t in targets:
            if t in dests or t in seen:
                continue        # already reached by another path (or a routing cycle)
            self._emit(now, "routed", msg, t, None, None, 0, {"router": ch.name})
            self._add_destination(now, self._channels[t], msg, dests, seen)

    def _add_destination(self, now: int, ch: Channel, msg: Message, dests: dict[str, None],
                         seen: set[str]) -> None:
        if ch.kind == "router":
            seen.add(ch.name)
            self._route(now, ch, msg, dests, seen)
        else:
            dests[ch.name] = None

    def _enqueue(self, now: int, qs: QueueState, msg: Message, delay_ns: int, via: str | None) -> bool:
        ttl = None if qs.expiry_none else msg.ttl_ns
        qttl = qs.ttl_ns
        if qttl is not None and (ttl is None or qttl < ttl):
            ttl = qttl
        cap = qs.capacity
        if cap is not None and qs.reject_blocked and self._held(qs) <= (qs.reject_resume or 0):
            qs.reject_blocked = False   # fell to the low watermark: accepts again (RabbitMQ 3.10 quorum)
        if cap is not None and (qs.reject_blocked or self._at_capacity(
                now, qs, cap + qs.reject_over if qs.overflow == "reject_publish" else cap)):
            if qs.overflow == "reject_publish":
                qs.reject_blocked = qs.reject_resume is not None
                qs.rejected += 1
                self._emit(now, "publish_rejected", msg, qs.channel, msg.producer, None, 0,
                           {"reason": "capacity", "capacity": cap})
                return False
            head = self._oldest(qs)
            if head is not None:
                if qs.overflow == "dead_letter" or (qs.overflow_dead_letters and qs.dead_letter is not None):
                    self._dead_letter(now, head, "overflow")
                else:
                    self._drop(now, head, "overflow")
        group = None
        if qs.grouped:
            group = (msg.header(qs.group_key) if qs.group_key else msg.key) or ""
        e = Entry(msg, qs, None if ttl is None else now + ttl, group)
        qs.enqueued += 1
        if via is not None and via != "routed":
            self._emit_entry(now, "enqueued", e, {"reason": via})
        if cap == 0:
            # nothing may be held: the new message itself overflows
            if qs.overflow == "dead_letter":
                self._dead_letter(now, e, "overflow")
            else:
                self._drop(now, e, "overflow")
            return True
        if cap is not None and qs.capacity_stored:
            qs.stored.append(e)
        if ttl is not None and qs.expire_anywhere:
            qs.expiry_seq += 1
            heappush(qs.expiry, (now + ttl, qs.expiry_seq, e))
            self._hint(qs, now + ttl)
        if delay_ns > 0:
            e.state = DELAYED
            qs.delayed_n += 1
            qs.delay_seq += 1
            due = now + delay_ns
            heappush(qs.delayed, (due, qs.delay_seq, e, False))
            self._hint(qs, due)
            self._emit_entry(now, "delayed", e, {"delay": delay_ns, "reason": "publish"})
            return True
        qs.push(e)
        if qs.reject_resume is not None and qs.overflow == "reject_publish" and self._held(qs) > cap:  # type: ignore[operator]
            qs.reject_blocked = True    # over the limit: refuse until back at the low watermark
        self._dirty[qs] = None
        if ttl is not None and not qs.expire_anywhere:
            qs.ttl_seen = True
            self._hint_head(qs)
        if cap is not None and qs.dispatch_subs and not self._pumping:
            # A broker hands a message to a consumer with credit as it arrives: a burst published
            # at one instant must not fill a capacity-limited queue while consumers sit idle.
            self._pumping = True
            try:
                self._pump_queue(now, qs, self._early)
            finally:
                self._pumping = False
        return True

    def _at_capacity(self, now: int, qs: QueueState, cap: int) -> bool:
        """Whether `qs` holds `cap` messages as the profile counts them (ready, or every stored one)."""
        return self._held(qs) >= cap

    @staticmethod
    def _held(qs: QueueState) -> int:
        """The messages `qs` holds as the profile's capacity counts them (ready, or every stored one)."""
        if qs.capacity_stored:
            return qs.ready_n + qs.in_flight + qs.delayed_n
        return qs.ready_n

    def _oldest(self, qs: QueueState) -> Entry | None:
        """Remove and return the message overflow drops: the oldest ready one (RabbitMQ drop-head) or,
        when capacity counts stored messages, the oldest stored one wherever it is (JetStream DiscardOld)."""
        if not qs.capacity_stored:
            return qs.take_oldest()
        stored = qs.stored
        while stored:
            e = stored.popleft()
            if e.state in LIVE_STATES:
                self._detach(e)
                return e
        return None

    # --------------------------------------------------------- subscribe
    def subscribe(self, now: int, channel: str, consumer: str, instance: int, *, group: str | None = None,
                  prefetch: int | None = None, dispatch: str = "unordered", session_timeout_ns: int | None = None,
                  start_from: str = "committed") -> int:
        """Attach a consumer instance; returns its subscriber id.

        queue / grouped_queue: a competing consumer (`group` is ignored).
        topic: joins subscription `group` (created on first join, sees messages from then on);
        ``group=None`` gets an exclusive subscription deleted when it leaves.
        log: joins consumer group `group` (default: the consumer name) and triggers a rebalance.
        prefetch None = the profile's default; 0 = unlimited; capped by the profile's prefetch_cap.
        dispatch: unordered | per_partition | per_key (round-robin among subscribers; the engine reads
        `Subscriber.dispatch` to decide how the instance processes) | single_active (only the first
        single_active subscriber of the queue receives; the next takes over when it leaves).
        """
        ch = self._channel(channel)
        if dispatch not in DISPATCHES:
            raise ValueError(f"unknown dispatch {dispatch!r}; valid: {', '.join(DISPATCHES)}")
        if start_from not in START_FROM:
            raise ValueError(f"unknown start_from {start_from!r}; valid: {', '.join(START_FROM)}")
        p = self.profile
        pf = p.prefetch if prefetch is None else prefetch
        if pf < 0:
            raise ValueError(f"prefetch must be >= 0, got {pf}")
        if p.prefetch_cap is not None and (pf == 0 or pf > p.prefetch_cap):
            pf = p.prefetch_cap
        sid = self._next_sub
        self._next_sub += 1
        sub = Subscriber(sid, consumer, instance, channel, group, pf, dispatch, session_timeout_ns, start_from)
        if ch.kind == "router":
            raise ValueError(f"cannot subscribe to router {channel!r}; bind a queue to it")
        if ch.kind == "log":
            self._join_group(now, ch, sub)
            return sid
        if ch.kind == "topic":
            key = group if group is not None else f"~{sid}"
            qs = ch.topic_states.get(key)
            if qs is None:
                qs = self._make_qs(ch, group)
                if group is None:
                    qs.exclusive_sub = sid
                    qs.durable = False
                ch.topic_states[key] = qs
                if start_from == "earliest":
                    self._replay(now, ch, qs)
        else:
            qs = ch.qs  # type: ignore[assignment]
        assert qs is not None
        sub.qs = qs
        self._subs[sid] = sub
        qs.subs.append(sub)
        self._refresh_dispatch(qs)
        self._dirty[qs] = None
        return sid

    def _replay(self, now: int, ch: Channel, qs: QueueState) -> None:
        """A new topic subscription that starts from the earliest message gets every arrival so far, in order,
        except those the channel's TTL (a stream's MaxAge) has already removed."""
        ttl = qs.ttl_ns
        for t, msg in ch.history:
            if ttl is None or t + ttl > now:
                self._enqueue(now, qs, msg, 0, "topic")

    @staticmethod
    def _refresh_dispatch(qs: QueueState) -> None:
        active = [s for s in qs.subs if s.dispatch == "single_active"]
        qs.dispatch_subs = active[:1] if active else list(qs.subs)

    def unsubscribe(self, now: int, sub: int, *, reason: str) -> None:
        """Detach a subscriber: leave (graceful), crash, or channel_closed (by the broker).

        Queues: unacked deliveries return at once, or when their leases expire, or
        never (until claimed), as `Profile.crash_return` says; channel_closed always
        returns them at once. Logs: leave rebalances now; crash keeps the member's
        partitions until its session timeout, then evicts it and rebalances.
        """
        if reason not in UNSUBSCRIBE_REASONS:
            raise ValueError(f"unknown reason {reason!r}; valid: {', '.join(UNSUBSCRIBE_REASONS)}")
        s = self._subs.get(sub)
        if s is None:
            return
        s.alive = False
        if s.log_group is not None:
            self._leave_group(now, s, reason)
            return
        del self._subs[sub]
        qs = s.qs
        assert qs is not None
        qs.subs.remove(s)
        self._refresh_dispatch(qs)
        mode = "immediate" if reason == "channel_closed" else self.profile.crash_return
        if mode == "lease" and qs.ack_timeout_ns is None:
            mode = "immediate"
        if qs.exclusive_sub == sub:
            mode = "immediate"
        if mode == "immediate":
            self._return_all(now, s, reason)
        if qs.exclusive_sub == sub:
            self._delete_exclusive(now, qs)
        self._dirty[qs] = None

    # -------------------------------------------------------------- pump
    @cython.locals(self=BrokerState, qs=QueueState)
    def pump(self, now: int) -> list[Delivery]:
        """Every delivery that can be made now, within each subscriber's prefetch credit."""
        out: list[Delivery] = []
        if self._early:
            out, self._early = self._early, out
        if not self._available:
            return out
        rounds = 0
        self._pumping = True
        while self._dirty and rounds < 64:   # dead letters made while pumping are pumped too
            rounds += 1
            dirty = self._dirty
            self._dirty = {}
            for obj in dirty:
                if type(obj) is LogGroup:
                    self._pump_log(now, obj, out)
                    continue
                qs = obj
                if qs.ready_n and qs.dispatch_subs:
                    # (most dirty marks come from acks, which leave nothing ready to deliver)
                    self._pump_queue(now, qs, out)
        self._pumping = False
        return out

    # ---------------------------------------------------------- restart
    def restart(self, now: int) -> None:
        """Restart the broker: durable channels keep their messages (in-flight ones return to ready),
        non-durable ones lose everything; every subscription is closed (subscribe again)."""
        lost = 0
        closed = len(self._subs)
        entries = list(self._inflight.values())
        self._inflight.clear()
        # returning to the head one by one: last first, so the original order survives
        heads = [e for e in reversed(entries) if e.qs.grouped or e.qs.requeue_position == "head"]
        for e in heads + [e for e in entries if not (e.qs.grouped or e.qs.requeue_position == "head")]:
            qs = e.qs
            self._leave_flight(e)
            e.state = READY
            pos = "head" if qs.grouped else qs.requeue_position
            qs.requeue(e, pos)
            self._emit_entry(now, "returned", e, {"reason": "broker_restart", "position": pos, "count": e.count})
        self._log_inflight.clear()
        self._early.clear()
        for s in self._subs.values():
            s.alive = False
            s.in_flight = 0
        self._subs.clear()
        for ch in self._channels.values():
            for qs in list(self._states(ch)):
                qs.leases.clear()
                qs.late_leases.clear()
                qs.subs.clear()
                qs.dispatch_subs = []
                if qs.exclusive_sub is not None:
                    ch.topic_states.pop(f"~{qs.exclusive_sub}", None)
                if not qs.durable:
                    for e in qs.drain_ready():
                        lost += 1
                        self._drop(now, e, "broker_restart")
                    while qs.delayed:
                        e = heappop(qs.delayed)[2]
                        qs.delayed_n -= 1
                        lost += 1
                        self._drop(now, e, "broker_restart")
                self._dirty[qs] = None
            if not ch.cfg.durable:
                ch.dedup_seen.clear()
                ch.dedup_order.clear()
            if ch.log is not None:
                lost += self._restart_log(ch)
        self._emit(now, "broker_restarted", None, None, None, None, 0,
                   {"lost": lost, "closed_subscriptions": closed})

    # ----------------------------------------------------------- redrive
    def redrive(self, now: int, dead_letter_channel: str, msg_id: str | None = None) -> int:
        """Send ready dead letters back to the channel they last died in; returns how many moved."""
        ch = self._channel(dead_letter_channel)
        qs = ch.qs
        if qs is None:
            raise ValueError(f"redrive needs a queue channel; {dead_letter_channel!r} is a {ch.kind}")
        keep: list[Entry] = []
        moved = 0
        for e in qs.drain_ready():
            target = e.msg.deaths[0].channel if e.msg.deaths else None
            if (msg_id is not None and e.msg.id != msg_id) or target not in self._channels:
                keep.append(e)
                continue
            e.state = REDRIVEN
            qs.redriven += 1
            moved += 1
            self._emit_entry(now, "redriven", e, {"to": target})
            self._into(now, self._channels[target], e.msg, 0, "redrive")  # type: ignore[index]
        for e in keep:
            qs.push(e)
        if keep:
            self._dirty[qs] = None
        return moved

    # ------------------------------------------------------------- stats
    @staticmethod
    def _qs_stats(qs: QueueState, published: int = 0, duplicates: int = 0, unavailable: int = 0) -> ChannelStats:
        return ChannelStats(
            published=published, enqueued=qs.enqueued, ready=qs.ready_n, in_flight=qs.in_flight,
            delayed=qs.delayed_n, acked=qs.acked, dead_lettered=qs.dead, expired=qs.expired,
            dropped=qs.dropped, kept=qs.kept, redriven=qs.redriven, duplicates=duplicates,
            rejected_publishes=qs.rejected + unavailable,
            depth=qs.ready_n + qs.in_flight + qs.delayed_n, ready_peak=max(qs.ready_peak, qs.ready_n))

    def stats(self, channel: str) -> ChannelStats:
        """Counts for `channel` (a topic sums its subscriptions; see `ChannelStats`)."""
        ch = self._channel(channel)
        if ch.log is not None:
            return self._log_stats(ch)
        states = self._states(ch)
        if not states:
            return ChannelStats(published=ch.published, duplicates=ch.duplicates,
                                rejected_publishes=ch.unavailable_rejects)
        parts = [self._qs_stats(qs) for qs in states]
        total = {f: sum(getattr(p, f) for p in parts) for f in ChannelStats.__dataclass_fields__
                 if f != "ready_peak"}
        # the groups' peaks need not fall at the same moment: the largest is a lower bound of the sum's
        total["ready_peak"] = max(total["ready"], max(p.ready_peak or 0 for p in parts))
        total["published"] = ch.published
        total["duplicates"] = ch.duplicates
        total["rejected_publishes"] += ch.unavailable_rejects
        return ChannelStats(**total)

    def restart_peaks(self) -> None:
        """Start a new interval for `ChannelStats.ready_peak`: each queue's peak is its ready count now (the
        engine calls it after each gauge sample; nothing the broker decides reads a peak)."""
        for ch in self._channels.values():
            for qs in self._states(ch):
                qs.ready_peak = qs.ready_n

    def subscription_stats(self, channel: str) -> dict[str, ChannelStats]:
        """Per-subscription counts of a topic (key: group name, or ``~<sub id>`` when anonymous)."""
        ch = self._channel(channel)
        if ch.qs is not None:
            return {channel: self._qs_stats(ch.qs, ch.published, ch.duplicates, ch.unavailable_rejects)}
        return {k: self._qs_stats(qs) for k, qs in ch.topic_states.items()}

    def idle(self) -> bool:
        """True when nothing is in flight or delayed anywhere and no subscriber has ready work.

        Ready messages in a queue nobody consumes (a dead-letter queue) do not
        keep the broker busy; whether a work queue whose consumers are gone does
        is the engine's call (it knows the channel's role). A subscription exists
        because a consumer group subscribed: its messages wait for a member even
        when every member is gone, like the records past a log group's committed
        offset (lag, even with no live member, or records a crashed member holds
        until its session timeout evicts it).
        """
        if self._inflight or self._log_inflight:
            return False
        for ch in self._channels.values():
            if ch.log is not None:
                if self._log_busy(ch):
                    return False
                continue
            topic = ch.kind == "topic"
            for qs in self._states(ch):
                if qs.delayed_n or (qs.ready_n and (qs.dispatch_subs or topic)):
                    return False
        return True

    def subscriber(self, sub: int) -> Subscriber | None:
        """The live subscriber with this id, or None once it is gone."""
        return self._subs.get(sub)
