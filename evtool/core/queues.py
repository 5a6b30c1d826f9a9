"""Subscription queues: the ready structures of the per-message delivery state machine.

A `QueueState` holds the message copies of one subscription: the single
queue of a ``queue`` channel, or one group's queue on a ``topic``. The broker
(`evtool.core.broker`) moves `Entry` objects between its states and emits the
trace; this module only keeps the ready order:

* new messages go to the tail;
* a returned message goes to the head, back to its original position, or to
  the tail (``requeue_position``). The original position is kept with a heap
  of returned entries ordered by their first position, merged with the tail
  deque on every pop, so the cost is O(log r) for r returned messages.

`GroupedQueueState` keeps one deque per group key; a group with a message in
flight delivers nothing more until none of its messages is in flight (SQS FIFO
message groups), and a returned message goes back to the head of its group.
One pop takes one message of a group; with `group_batch` (Profile.group_receive
= batch, sqs-fifo) the broker then takes more of the same group for the same
subscriber (`pop_next_of`), as one ReceiveMessage returns several messages of a
group.
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush
from typing import Any

from evtool.core.message import Message

# entry states
READY, IN_FLIGHT, DELAYED, ACKED, DEAD, EXPIRED, DROPPED, KEPT, REDRIVEN = range(9)
LIVE_STATES = frozenset({READY, IN_FLIGHT, DELAYED})
"""States in which an entry is still in the broker (not settled, dead-lettered, expired, dropped ...)."""
STATE_NAMES = ("ready", "in_flight", "delayed", "acked", "dead_lettered", "expired", "dropped", "kept",
               "redriven")


class Entry:
    """One message copy in one subscription queue, and its place in the state machine."""

    __slots__ = ("msg", "qs", "pos", "attempt", "count", "state", "tag", "sub", "expires_at", "deadline",
                 "group", "delivered_at", "former")

    def __init__(self, msg: Message, qs: QueueState, expires_at: int | None, group: str | None) -> None:
        self.msg = msg
        self.qs = qs
        self.pos = 0                 # ready order; set on push
        self.attempt = 0             # deliveries so far
        self.count = 0               # the profile's counter
        self.state = READY
        self.tag = 0                 # current delivery tag (0 = none)
        self.sub: Any = None         # current subscriber
        self.expires_at = expires_at
        self.deadline: int | None = None  # current lease deadline
        self.group = group           # grouped queues: the group key
        self.delivered_at = 0
        self.former: list[int] | None = None  # tags of earlier deliveries (profiles whose stale acks count)

    def __repr__(self) -> str:
        return f"Entry({self.msg.id!r}, state={STATE_NAMES[self.state]}, attempt={self.attempt})"


class Subscriber:
    """A consumer instance attached to a subscription queue or a log group."""

    __slots__ = ("id", "consumer", "instance", "channel", "group", "prefetch", "in_flight", "qs", "log_group",
                 "dispatch", "alive", "session_timeout_ns", "start_from")

    def __init__(self, id: int, consumer: str, instance: int, channel: str, group: str | None, prefetch: int,
                 dispatch: str, session_timeout_ns: int | None, start_from: str) -> None:
        self.id = id
        self.consumer = consumer
        self.instance = instance
        self.channel = channel
        self.group = group
        self.prefetch = prefetch      # 0 = unlimited
        self.in_flight = 0
        self.qs: QueueState | None = None
        self.log_group: Any = None
        self.dispatch = dispatch
        self.alive = True
        self.session_timeout_ns = session_timeout_ns
        self.start_from = start_from


class QueueState:
    """Ready order, delayed heap, leases and counters of one subscription queue."""

    __slots__ = ("grouped", "group_batch", "channel", "group", "ready", "returned", "delayed", "leases", "late_leases", "subs",
                 "dispatch_subs", "rr", "next_pos", "ready_n", "in_flight", "delayed_n", "enqueued", "acked",
                 "dead", "expired", "dropped", "kept", "redriven", "requeue_position", "ack_timeout_ns",
                 "max_deliveries", "ttl_ns", "ttl_seen", "capacity", "overflow", "dead_letter",
                 "counts_deliver", "count_returns", "at_limit", "hint", "durable", "exclusive_sub",
                 "group_key", "delay_seq", "rejected", "lease_action", "nack_position", "stored", "expiry",
                 "expiry_seq", "expire_anywhere", "capacity_stored", "overflow_dead_letters", "reject_lease",
                 "reject_stays", "reject_over", "reject_resume", "reject_blocked", "ready_peak", "expiry_none")

    def __init__(self, channel: str, group: str | None) -> None:
        # fields, not class attributes: a compiled build reads them without a lookup by name
        self.grouped = False             # a GroupedQueueState
        self.group_batch = False         # grouped queues only: one receive may take several messages of a group
        self.channel = channel
        self.group = group               # topic group name (None for a queue channel)
        self.ready: deque[Entry] = deque()
        self.returned: list[tuple[int, Entry]] = []   # requeue_position=original
        self.delayed: list[tuple[int, int, Entry, bool]] = []  # (due, seq, entry, was_returned)
        self.leases: deque[tuple[int, int, Entry]] = deque()  # (deadline, tag, entry), deadline order
        self.late_leases: list[tuple[int, int, Entry]] = []    # extended leases, out of order
        self.subs: list[Any] = []
        self.dispatch_subs: list[Any] = []
        self.rr = 0
        self.next_pos = 0
        self.ready_n = 0
        # the most ready at any moment since the engine's last gauge sample (`Broker.restart_peaks`): a
        # sampled depth alone misses a queue that goes over its bound between two samples
        self.ready_peak = 0
        self.in_flight = 0
        self.delayed_n = 0
        self.enqueued = 0
        self.acked = 0
        self.dead = 0
        self.expired = 0
        self.dropped = 0
        self.kept = 0
        self.redriven = 0
        self.hint: int | None = None
        self.delay_seq = 0
        self.exclusive_sub: int | None = None
        self.rejected = 0
        self.lease_action = "return_message"
        # settings, filled in by the broker from the channel config and the profile
        self.requeue_position = "tail"
        self.nack_position = "tail"
        self.ack_timeout_ns: int | None = None
        self.max_deliveries: int | None = None
        self.ttl_ns: int | None = None
        self.ttl_seen = False
        self.capacity: int | None = None
        self.overflow = "drop_head"
        self.dead_letter: str | None = None
        self.counts_deliver = True
        self.count_returns: frozenset[str] = frozenset()
        self.at_limit = "dead_letter"
        self.durable = True
        self.group_key: str | None = None
        # profile behaviours (see evtool.core.profiles): capacity counting, DiscardOld, MaxAge, SQS reject
        self.stored: deque[Entry] = deque()      # capacity_counts=stored: entries in arrival order
        self.expiry: list[tuple[int, int, Entry]] = []  # message_expiry=anywhere: (expires_at, seq, entry)
        self.expiry_seq = 0
        self.expire_anywhere = False
        self.expiry_none = False  # message_expiry=none (Redis streams): a ttl has no effect
        self.capacity_stored = False
        self.overflow_dead_letters = False
        self.reject_lease = False
        self.reject_stays = False
        self.reject_over = 0             # reject_publish accepts this many over capacity (3.10 quorum)
        self.reject_resume: int | None = None  # reject_publish: refuse until held <= this (3.10 quorum: 80%)
        self.reject_blocked = False      # over capacity since the last time it fell to reject_resume

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channel!r}, group={self.group!r}, ready={self.ready_n})"

    # -- ready order -------------------------------------------------------
    def push(self, e: Entry) -> None:
        """Append a new (or re-enqueued) entry at the tail."""
        e.pos = self.next_pos
        self.next_pos += 1
        self.ready.append(e)
        self.ready_n += 1
        if self.ready_n > self.ready_peak:
            self.ready_peak = self.ready_n

    def requeue(self, e: Entry, position: str) -> None:
        """Put a returned entry back: head, original position or tail."""
        if position == "head":
            self.ready.appendleft(e)
        elif position == "original":
            heappush(self.returned, (e.pos, e))
        else:
            e.pos = self.next_pos
            self.next_pos += 1
            self.ready.append(e)
        self.ready_n += 1
        if self.ready_n > self.ready_peak:
            self.ready_peak = self.ready_n

    def pop(self) -> Entry | None:
        """Take the head entry, or None."""
        ret = self.returned
        if ret:
            r = self.ready
            if not r or ret[0][0] < r[0].pos:
                self.ready_n -= 1
                return heappop(ret)[1]
        if self.ready:
            self.ready_n -= 1
            return self.ready.popleft()
        return None

    def peek(self) -> Entry | None:
        """The head entry without taking it."""
        ret = self.returned
        r = self.ready
        if ret and (not r or ret[0][0] < r[0].pos):
            return ret[0][1]
        return r[0] if r else None

    def take_oldest(self) -> Entry | None:
        """Remove the oldest ready entry (overflow drop_head); same as `pop` for a plain queue."""
        return self.pop()

    def release(self, e: Entry) -> None:
        """The entry left the in-flight state for good (grouped queues unlock its group)."""

    def remove(self, e: Entry) -> None:
        """Take a ready entry out of the ready order wherever it is (rare: O(n)).

        Used when a message leaves the queue without being delivered: a late ack
        settles it, JetStream DiscardOld or MaxAge deletes it.
        """
        for i, (_, x) in enumerate(self.returned):
            if x is e:
                self.returned[i] = self.returned[-1]
                self.returned.pop()
                heapify(self.returned)
                self.ready_n -= 1
                return
        self.ready.remove(e)
        self.ready_n -= 1

    def drain_ready(self) -> list[Entry]:
        """Remove and return every ready entry, in delivery order."""
        out: list[Entry] = []
        while True:
            e = self.pop()
            if e is None:
                return out
            out.append(e)

    def has_ready(self) -> bool:
        """Whether a pop could return an entry now."""
        return self.ready_n > 0


class GroupedQueueState(QueueState):
    """A queue whose groups deliver in order, and only while none of their messages is in flight."""

    __slots__ = ("groups", "locked", "avail", "avail_set")

    def __init__(self, channel: str, group: str | None) -> None:
        super().__init__(channel, group)
        self.grouped = True
        self.groups: dict[str, deque[Entry]] = {}
        # group -> its entry in flight (the group's lock); a list of them after a batch receive (group_batch)
        self.locked: dict[str, Any] = {}
        self.avail: deque[str] = deque()   # groups with a ready head and nothing in flight
        self.avail_set: set[str] = set()

    def _unlock(self, g: str, e: Entry) -> None:
        """`e` is no longer in flight: it stops holding its group's lock (the lock ends with its last holder)."""
        held = self.locked.get(g)
        if held is e:
            del self.locked[g]
        elif held.__class__ is list:
            for i, x in enumerate(held):
                if x is e:
                    del held[i]
                    if not held:
                        del self.locked[g]
                    return

    def _offer(self, g: str, front: bool = False) -> None:
        if g not in self.locked and g not in self.avail_set and self.groups.get(g):
            self.avail_set.add(g)
            if front:
                self.avail.appendleft(g)
            else:
                self.avail.append(g)

    def push(self, e: Entry) -> None:
        """Append at the tail of the entry's group."""
        e.pos = self.next_pos
        self.next_pos += 1
        g = e.group or ""
        dq = self.groups.get(g)
        if dq is None:
            dq = self.groups[g] = deque()
        dq.append(e)
        self.ready_n += 1
        if self.ready_n > self.ready_peak:
            self.ready_peak = self.ready_n
        self._offer(g)

    def requeue(self, e: Entry, position: str) -> None:
        """A returned entry goes back to its place in its group (order within a group is promised).

        That is the head when it was the group's one message in flight; after a batch receive its batch-mates
        may come back in any order, so each goes back before the later ones it was sent with.
        """
        g = e.group or ""
        dq = self.groups.get(g)
        if dq is None:
            dq = self.groups[g] = deque()
        if not dq or dq[0].pos > e.pos:
            dq.appendleft(e)
        else:
            i = 1
            while i < len(dq) and dq[i].pos < e.pos:
                i += 1
            dq.insert(i, e)
        self.ready_n += 1
        if self.ready_n > self.ready_peak:
            self.ready_peak = self.ready_n
        self._unlock(g, e)
        self._offer(g, front=True)

    def pop(self) -> Entry | None:
        """The head of the next available group; that group is locked until `release` or `requeue`."""
        avail = self.avail
        while avail:
            g = avail.popleft()
            self.avail_set.discard(g)
            dq = self.groups.get(g)
            if not dq:
                continue
            e = dq.popleft()
            if not dq:
                del self.groups[g]
            self.locked[g] = e
            self.ready_n -= 1
            return e
        return None

    def pop_next_of(self, g: str) -> Entry | None:
        """The next ready entry of group `g`, whose lock the caller already holds (a batch receive)."""
        dq = self.groups.get(g)
        if not dq:
            return None
        e = dq.popleft()
        if not dq:
            del self.groups[g]
        held = self.locked[g]
        if held.__class__ is list:
            held.append(e)
        else:
            self.locked[g] = [held, e]
        self.ready_n -= 1
        return e

    def peek(self) -> Entry | None:
        """The head of the next available group."""
        for g in self.avail:
            dq = self.groups.get(g)
            if dq:
                return dq[0]
        return None

    def remove(self, e: Entry) -> None:
        """Take a ready entry out of its group, wherever it is in the group."""
        g = e.group or ""
        dq = self.groups[g]
        dq.remove(e)
        if not dq:
            del self.groups[g]
            if g in self.avail_set:
                self.avail_set.discard(g)
                self.avail.remove(g)
        self.ready_n -= 1

    def take_oldest(self) -> Entry | None:
        """Remove the oldest ready entry of any group, without locking it (overflow drop_head)."""
        best: Entry | None = None
        for dq in self.groups.values():
            if dq and (best is None or dq[0].pos < best.pos):
                best = dq[0]
        if best is None:
            return None
        g = best.group or ""
        dq = self.groups[g]
        dq.popleft()
        if not dq:
            del self.groups[g]
        self.ready_n -= 1
        return best

    def release(self, e: Entry) -> None:
        """The entry left the in-flight state for good: once its group has nothing in flight, offer its next."""
        g = e.group or ""
        held = self.locked.get(g)
        if held is e:              # the common case: the group's one message in flight
            del self.locked[g]
            self._offer(g)
        elif held is not None:
            self._unlock(g, e)
            if g not in self.locked:
                self._offer(g)

    def drain_ready(self) -> list[Entry]:
        """Remove and return every ready entry, oldest first; groups stay as locked as they were."""
        out = [e for dq in self.groups.values() for e in dq]
        out.sort(key=lambda e: e.pos)
        self.groups.clear()
        self.avail.clear()
        self.avail_set.clear()
        self.ready_n = 0
        return out

    def has_ready(self) -> bool:
        """Whether some group can deliver now."""
        return bool(self.avail)
