"""What every part of the broker shares: channels, subscribers, the trace sink and the timer heap.

`Broker` (broker.py) is assembled from this state and two parts that each
own one delivery state machine: `QueueDelivery` (queue_delivery.py: leases,
returns, dead letters, claims) and `LogGroups` (loggroups.py: consumer
groups on partitioned logs, rebalancing, commits). They are mixins over one
object, so the hot path stays plain attribute access and method calls.

Timers: each queue state or log group has at most one live hint in a lazy
heap; `next_timer` checks a hint against the object's real due time (`_due`)
before trusting it, and `fire_timers` hands due objects to `_fire_queue` or
`_fire_group`.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any

from evtool.core.channel_config import ChannelConfig
from evtool.core.events import EventSink, TraceEvent
from evtool.core.logs import LogChannel, LogDelivery, LogGroup
from evtool.core.message import Message
from evtool.core.profiles import Profile
from evtool.core.queues import LIVE_STATES, Entry, QueueState, Subscriber
from evtool.core.routing import RouteTable

if TYPE_CHECKING:
    from evtool.core.delivery import Delivery

_new = tuple.__new__
# how deep dead letters may chain (DLQ of a DLQ ...) before a cycle is assumed and the message dropped
MAX_DEAD_LETTER_DEPTH = 8


class Channel:
    """A declared channel: its config and the kind-specific state."""

    __slots__ = ("name", "kind", "cfg", "qs", "topic_states", "log", "router", "published", "duplicates",
                 "unavailable_rejects", "dedup_window", "dedup_seen", "dedup_order", "content_dedup", "history")

    def __init__(self, name: str, cfg: ChannelConfig, dedup_window: int | None) -> None:
        self.name = name
        self.kind = cfg.kind
        self.cfg = cfg
        self.qs: QueueState | None = None
        self.topic_states: dict[str, QueueState] = {}
        self.log: LogChannel | None = None
        self.router: RouteTable | None = None
        self.published = 0
        self.duplicates = 0
        self.unavailable_rejects = 0
        self.dedup_window = dedup_window
        self.dedup_seen: dict[str, int] = {}          # dedup id -> end of its window
        self.dedup_order: deque[tuple[int, str]] = deque()
        self.content_dedup = False                    # SQS FIFO ContentBasedDeduplication
        # a topic's arrivals (time, message), for a subscription created with start_from earliest: a NATS
        # Limits stream and a Redis stream keep them (decision 2; validation allows earliest only there)
        self.history: list[tuple[int, Message]] = []


class BrokerState:
    """The state the broker's parts share, the trace emitters and the timer heap."""

    if TYPE_CHECKING:
        # provided by the parts Broker is assembled from
        def _fire_queue(self, now: int, qs: QueueState) -> None: ...
        def _fire_group(self, now: int, g: LogGroup) -> None: ...
        def _into(self, now: int, ch: Channel, msg: Message, delay_ns: int, via: str | None) -> bool: ...
        def _log_ack(self, now: int, tag: int) -> bool: ...
        def _log_nack(self, now: int, tag: int, requeue: bool, delay_ns: int) -> bool: ...
        def _pump_queue(self, now: int, qs: QueueState, out: list[Delivery]) -> None: ...
        def unsubscribe(self, now: int, sub: int, *, reason: str) -> None: ...

    def __init__(self, profile: Profile, sink: EventSink) -> None:
        self.profile = profile
        self._sink = sink
        self._channels: dict[str, Channel] = {}
        self._subs: dict[int, Subscriber] = {}
        self._next_sub = 1
        self._next_tag = 1
        self._inflight: dict[int, Entry] = {}
        self._log_inflight: dict[int, LogDelivery] = {}
        self._dirty: dict[Any, None] = {}     # insertion-ordered set: deterministic pump order
        self._timers: list[tuple[int, int, Any]] = []
        self._timer_seq = 0
        self._available = True
        self._dl_depth = 0
        # tags of earlier deliveries of messages still in the broker: tag -> (entry, subscriber, attempt);
        # kept only when the profile gives stale acks an effect (stale_ack settles or ignored)
        self._former: dict[int, tuple[Entry, Subscriber, int]] = {}
        # subscribers whose channel the broker closed (RabbitMQ consumer_timeout), for the engine to reopen
        # as a client does; the engine empties it
        self.closed_subs: list[int] = []
        self._track_former = profile.stale_ack != "refused"
        self._stale_settles = profile.stale_ack == "settles"
        # deliveries made while publishing to a capacity-limited queue (delivered as each message
        # arrives, as a broker does); the next pump() returns them first
        self._early: list[Delivery] = []
        self._pumping = False

    def _channel(self, name: str) -> Channel:
        ch = self._channels.get(name)
        if ch is None:
            raise KeyError(f"unknown channel {name!r}; declared: {', '.join(self._channels) or '(none)'}")
        return ch

    def channels(self) -> list[str]:
        """Declared channel names, in declaration order."""
        return list(self._channels)

    # ------------------------------------------------------------ emission
    def _emit(self, now: int, kind: str, msg: Message | None = None, channel: str | None = None,
              actor: str | None = None, instance: int | None = None, attempt: int = 0,
              data: dict[str, Any] | None = None) -> None:
        if msg is None:
            self._sink(_new(TraceEvent, (now, kind, None, channel, actor, instance, None, attempt, None, data)))
        else:
            self._sink(_new(TraceEvent, (now, kind, msg.id, channel, actor, instance, msg.key, attempt, msg.tag,
                                         data)))

    def _emit_entry(self, now: int, kind: str, e: Entry, data: dict[str, Any] | None = None) -> None:
        sub = e.sub
        m = e.msg
        if e.qs.group is not None:
            data = {"group": e.qs.group, **data} if data else {"group": e.qs.group}
        self._sink(_new(TraceEvent, (now, kind, m.id, e.qs.channel, sub.consumer if sub else None,
                                     sub.instance if sub else None, m.key, e.attempt, m.tag, data)))

    # ------------------------------------------------------------- timers
    def _hint(self, obj: Any, t: int) -> None:
        h = obj.hint
        if h is None or t < h:
            obj.hint = t
            self._timer_seq += 1
            heappush(self._timers, (t, self._timer_seq, obj))

    def _hint_head(self, qs: QueueState) -> None:
        h = qs.peek()
        if h is not None and h.expires_at is not None:
            self._hint(qs, h.expires_at)

    def _due(self, obj: Any) -> int | None:
        if type(obj) is LogGroup:
            return obj.next_due()
        qs: QueueState = obj
        t: int | None = None
        leases = qs.leases
        while leases:
            dl, tag, e = leases[0]
            if e.tag == tag and e.deadline == dl:
                t = dl
                break
            leases.popleft()
        late = qs.late_leases
        while late:
            dl, tag, e = late[0]
            if e.tag == tag and e.deadline == dl:
                if t is None or dl < t:
                    t = dl
                break
            heappop(late)
        if qs.delayed:
            d = qs.delayed[0][0]
            if t is None or d < t:
                t = d
        if qs.ttl_seen:
            h = qs.peek()
            if h is not None and h.expires_at is not None and (t is None or h.expires_at < t):
                t = h.expires_at
        exp = qs.expiry
        while exp:
            if exp[0][2].state in LIVE_STATES:
                if t is None or exp[0][0] < t:
                    t = exp[0][0]
                break
            heappop(exp)
        return t

    def next_timer(self) -> int | None:
        """The earliest time something is due: a lease expiry, a delay, a TTL at a head, an eviction."""
        timers = self._timers
        while timers:
            t, _, obj = timers[0]
            if obj.hint != t:
                heappop(timers)       # superseded by an earlier hint for the same object
                continue
            real = self._due(obj)
            if real == t:
                return t
            heappop(timers)
            obj.hint = None
            if real is not None:
                self._hint(obj, real)
        return None

    def fire_timers(self, now: int) -> None:
        """Process everything due at or before `now`."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            t, _, obj = heappop(timers)
            if obj.hint != t:
                continue
            obj.hint = None
            if type(obj) is LogGroup:
                self._fire_group(now, obj)
            else:
                self._fire_queue(now, obj)
            real = self._due(obj)
            if real is not None:
                self._hint(obj, real)

    @staticmethod
    def _states(ch: Channel) -> list[QueueState]:
        if ch.qs is not None:
            return [ch.qs]
        return list(ch.topic_states.values())
