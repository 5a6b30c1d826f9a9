"""Partitioned logs and their consumer groups.

A log never deletes on consume: a consumer group holds, per partition, a
*position* (the next offset to hand out) and a *committed* offset (the next
offset to read after a restart or a rebalance). Acks only mark records as
processed; `LogGroup.processed_watermark` tells how far a commit may go.
Retention (time or count) removes records from the front; offsets stay dense
and monotonic.

Rebalancing (Kafka classic protocol, research §1.2): a join or a leave
rebalances at once; a crashed member keeps its partitions (they stall) until
``session_timeout_ns`` passes, then it is evicted and the group rebalances.
Eager strategies (range, round_robin) revoke every partition first;
cooperative_sticky revokes only the partitions that move. A revoked
partition's position goes back to the committed offset, so records that were
processed but not committed are read again by the next owner (duplicates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evtool.core.assignment import assign, is_cooperative
from evtool.core.message import Message
from evtool.core.queues import Subscriber
from evtool.core.routing import partition_for_key


class Partition:
    """The retained records of one partition: ``msgs[i]`` has offset ``base + i``."""

    __slots__ = ("msgs", "times", "base")

    def __init__(self) -> None:
        self.msgs: list[Message] = []
        self.times: list[int] = []
        self.base = 0

    @property
    def end(self) -> int:
        """The offset the next record will get (Kafka's log end offset)."""
        return self.base + len(self.msgs)

    def trim_front(self, n: int) -> None:
        """Remove the `n` oldest records."""
        if n > 0:
            del self.msgs[:n]
            del self.times[:n]
            self.base += n


class LogChannel:
    """The partitions of one log channel and its consumer groups."""

    __slots__ = ("name", "partitions", "retention_ns", "retention_count", "groups", "rr", "by_key")

    def __init__(self, name: str, partitions: int, retention_ns: int | None,
                 retention_count: int | None, partitioner: str = "key_hash") -> None:
        self.name = name
        self.by_key = partitioner == "key_hash"
        self.partitions = [Partition() for _ in range(partitions)]
        self.retention_ns = retention_ns
        self.retention_count = retention_count
        self.groups: dict[str, LogGroup] = {}
        self.rr = 0  # keyless messages go round-robin

    def choose_partition(self, key: str | None) -> int:
        """Kafka's keyed partitioner for keys; round-robin for keyless messages."""
        n = len(self.partitions)
        if key is not None and self.by_key:
            return partition_for_key(key, n)
        p = self.rr % n
        self.rr += 1
        return p

    def append(self, now: int, msg: Message) -> tuple[int, int]:
        """Append `msg`; returns (partition, offset)."""
        p = self.choose_partition(msg.key)
        part = self.partitions[p]
        offset = part.end
        part.msgs.append(msg)
        part.times.append(now)
        self.trim(now, p)
        return p, offset

    def trim(self, now: int, p: int) -> int:
        """Apply retention to partition `p`; returns how many records were removed."""
        part = self.partitions[p]
        n = 0
        if self.retention_count is not None and len(part.msgs) > self.retention_count:
            n = len(part.msgs) - self.retention_count
        if self.retention_ns is not None:
            limit = now - self.retention_ns
            times = part.times
            while n < len(times) and times[n] < limit:
                n += 1
        part.trim_front(n)
        return n

    def record(self, p: int, offset: int) -> Message | None:
        """The message at `offset` in partition `p`, or None if trimmed or not yet written."""
        part = self.partitions[p]
        i = offset - part.base
        return part.msgs[i] if 0 <= i < len(part.msgs) else None

    def retained(self) -> int:
        """Records currently retained in all partitions."""
        return sum(len(p.msgs) for p in self.partitions)


class LogDelivery:
    """A delivered, not yet acked record: which group, member, partition and offset."""

    __slots__ = ("group", "sub", "partition", "offset", "generation", "msg", "attempt")

    def __init__(self, group: LogGroup, sub: Subscriber, partition: int, offset: int, generation: int,
                 msg: Message, attempt: int) -> None:
        self.group = group
        self.sub = sub
        self.partition = partition
        self.offset = offset
        self.generation = generation
        self.msg = msg
        self.attempt = attempt


Emit = Callable[[int, str, dict[str, Any]], None]


class LogGroup:
    """One consumer group on a log: members, assignment, positions, commits, evictions."""

    __slots__ = ("log", "name", "strategy", "members", "crashed", "assignment", "owner", "position",
                 "committed", "initial", "processed", "paused_until", "pgen", "delivered_max", "attempts",
                 "hint", "in_flight", "acked", "session_timeout_ns")

    def __init__(self, log: LogChannel, name: str, strategy: str, start_from: str,
                 session_timeout_ns: int) -> None:
        n = len(log.partitions)
        self.log = log
        self.name = name
        self.strategy = strategy
        self.session_timeout_ns = session_timeout_ns
        self.members: dict[int, Subscriber] = {}     # sub id -> member (alive or crashed, not yet evicted)
        self.crashed: dict[int, int] = {}            # sub id -> eviction time
        self.assignment: dict[int, list[int]] = {}
        self.owner: list[int | None] = [None] * n
        # with no commit, a partition is (re)read from where the group first started
        self.initial = [p.base if start_from == "earliest" else p.end for p in log.partitions]
        self.position = list(self.initial)
        self.committed: list[int | None] = [None] * n
        self.processed: list[set[int]] = [set() for _ in range(n)]
        self.paused_until = [0] * n
        self.pgen = [0] * n                          # bumped on every revoke: old tags go stale
        self.delivered_max = [-1] * n                # highest offset ever handed out (redelivery detection)
        self.attempts: list[dict[int, int]] = [{} for _ in range(n)]  # offset -> deliveries, if > 1
        self.hint: int | None = None
        self.in_flight = 0
        self.acked = 0

    def __repr__(self) -> str:
        return f"LogGroup({self.log.name!r}, {self.name!r}, members={sorted(self.members)})"

    def reset_position(self, p: int) -> None:
        """Go back to the committed offset (or the group's start) and drop processed marks."""
        c = self.committed[p]
        base = self.log.partitions[p].base
        self.position[p] = max(c if c is not None else self.initial[p], base)
        self.processed[p].clear()

    def lag(self) -> int:
        """Records not yet handed out, over all partitions."""
        return sum(max(0, part.end - max(self.position[i], part.base))
                   for i, part in enumerate(self.log.partitions))

    def held_by_crashed(self) -> int:
        """Records past the committed offset that a crashed, not yet evicted member was handed and never
        processed. Its partitions stall until the session timeout evicts it; then the rebalance hands them,
        from the committed offset, to a live member (Kafka `session.timeout.ms`)."""
        if not self.crashed:
            return 0
        n = 0
        base_of = self.log.partitions
        for p, owner in enumerate(self.owner):
            if owner is None or owner not in self.crashed:
                continue
            c = self.committed[p]
            start = max(c if c is not None else self.initial[p], base_of[p].base)
            pos = self.position[p]
            if pos > start:
                done = self.processed[p]
                n += pos - start - (sum(1 for o in done if start <= o < pos) if done else 0)
        return n

    def rebalance(self, now: int, reason: str, emit: Emit, names: Callable[[int], str]) -> None:
        """Reassign partitions among the current members and emit revoke/assign/rebalanced facts."""
        old = self.assignment
        new = assign(self.strategy, list(self.members), len(self.owner), old)
        coop = is_cooperative(self.strategy)
        for m, ps in sorted(old.items()):
            keep = set(new.get(m, ())) if coop else set()
            for p in ps:
                if p not in keep:
                    self.pgen[p] += 1
                    self.owner[p] = None
                    self.reset_position(p)
                    emit(now, "partition_revoked", {"group": self.name, "partition": p, "member": names(m)})
        for m, ps in sorted(new.items()):
            had = set(old.get(m, ())) if coop else set()
            for p in ps:
                self.owner[p] = m
                if p not in had:
                    emit(now, "partition_assigned", {"group": self.name, "partition": p, "member": names(m)})
        self.assignment = new
        emit(now, "rebalanced", {"group": self.name, "reason": reason, "strategy": self.strategy,
                                 "assignment": {names(m): list(ps) for m, ps in sorted(new.items())}})

    def processed_watermark(self, p: int) -> int:
        """The offset a commit may move to: the end of the contiguous run of processed records."""
        c = self.committed[p]
        off = max(c if c is not None else self.initial[p], self.log.partitions[p].base)
        done = self.processed[p]
        while off in done:
            off += 1
        return off

    def next_due(self) -> int | None:
        """The earliest eviction or end of a paused partition."""
        t: int | None = min(self.crashed.values()) if self.crashed else None
        for u in self.paused_until:
            if u and (t is None or u < t):
                t = u
        return t
