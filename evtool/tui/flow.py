"""What the topology graph draws beyond the snapshot: per-group backlog and lag of a topic, partition
owners and lag of a log, and the recent hops of single messages (messages in motion).

`FlowTracker` is an engine listener (every trace event, on the engine's
thread, under its own lock), like `evtool.tui.sagas.SagaTracker`:

* topic subscriptions: a message is in a group's backlog from its `enqueued
  {group}` until the group settles it (acked, dead-lettered, expired,
  dropped); the lag is the age of the oldest message still in the backlog;
* logs: the head offset of each partition (published), the committed offset
  of each group, and the member that owns the partition (partition_assigned,
  partition_revoked, rebalanced);
* hops: publish (producer → channel), deliver (channel → consumer),
  retry (the channel's retry loop), dead-letter (channel → its DLQ) and
  redrive (DLQ → channel), each with its virtual time, so the graph can move
  a glyph along an edge for a short while after the hop.

No Textual import.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from evtool.core.events import TraceEvent

MAX_BACKLOG = 100_000
"""Messages remembered per topic group (the oldest are forgotten beyond it)."""
MAX_HOPS = 4000

SETTLED = frozenset({"acked", "dead_lettered", "expired", "dropped", "parked"})


@dataclass(frozen=True)
class Hop:
    """One move of one message along an edge of the graph."""

    t: int
    msg: str
    edge: tuple[str, str, str]  # (kind, from, to): ("pub", producer, ch), ("del", ch, consumer), ...
    state: str  # first | retry | dead | redrive


@dataclass(frozen=True)
class GroupFlow:
    """A topic subscription's backlog and lag."""

    backlog: int
    lag_ns: int


@dataclass(frozen=True)
class PartitionFlow:
    """One partition of a log, for one group: its number, owner and lag (messages)."""

    partition: int
    owner: str | None
    lag: int


class FlowTracker:
    """Folds the trace for the topology graph (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backlog: dict[tuple[str, str], OrderedDict[str, int]] = {}
        self._head: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, str, int], int] = {}
        self._owner: dict[tuple[str, str, int], str] = {}
        self.hops: deque[Hop] = deque(maxlen=MAX_HOPS)
        self._last_t = -1
        self.version = 0

    def __call__(self, batch: Sequence[TraceEvent]) -> None:
        """Fold a batch (the engine calls this)."""
        with self._lock:
            for ev in batch:
                if ev.t < self._last_t:  # a replay seeking back: the trace starts again
                    self._reset()
                self._last_t = ev.t
                self._fold(ev)
            self.version += 1

    def _reset(self) -> None:
        self._backlog.clear()
        self._head.clear()
        self._committed.clear()
        self._owner.clear()
        self.hops.clear()

    def _fold(self, ev: TraceEvent) -> None:  # noqa: PLR0912 - one case per kind, flat on purpose
        d = ev.data or {}
        k = ev.kind
        ch = ev.channel
        if ch is None:
            return
        group = d.get("group")
        if group is not None and ev.msg is not None:
            if k == "enqueued":
                q = self._backlog.setdefault((ch, str(group)), OrderedDict())
                q[ev.msg] = ev.t
                if len(q) > MAX_BACKLOG:
                    q.popitem(last=False)
            elif k in SETTLED:
                q = self._backlog.get((ch, str(group)))
                if q is not None:
                    q.pop(ev.msg, None)
        if "partition" in d:
            p = int(d["partition"])
            if k == "published" and "offset" in d:
                self._head[(ch, p)] = max(self._head.get((ch, p), 0), int(d["offset"]) + 1)
            elif k == "committed" and group is not None:
                self._committed[(ch, str(group), p)] = int(d.get("offset", 0))
            elif k == "partition_assigned" and group is not None:
                self._owner[(ch, str(group), p)] = str(d.get("member", "?"))
            elif k == "partition_revoked" and group is not None:
                self._owner.pop((ch, str(group), p), None)
        if k == "rebalanced" and group is not None and isinstance(d.get("assignment"), dict):
            for key in [x for x in self._owner if x[0] == ch and x[1] == str(group)]:
                del self._owner[key]
            for member, parts in d["assignment"].items():
                for p in parts or ():
                    self._owner[(ch, str(group), int(p))] = str(member)
        if ev.msg is None:
            return
        if k == "published" and ev.actor:
            self.hops.append(Hop(ev.t, ev.msg, ("pub", ev.actor, ch), "first"))
        elif k in ("delivered", "redelivered") and ev.actor:
            self.hops.append(Hop(ev.t, ev.msg, ("del", ch, ev.actor), "first" if k == "delivered" else "retry"))
        elif k == "retry_scheduled":
            self.hops.append(Hop(ev.t, ev.msg, ("retry", ch, ch), "retry"))
        elif k == "dead_lettered":
            self.hops.append(Hop(ev.t, ev.msg, ("dlq", ch, str(d.get("target", "?"))), "dead"))
        elif k == "redriven":
            self.hops.append(Hop(ev.t, ev.msg, ("redrive", ch, str(d.get("to") or d.get("target") or "?")),
                                 "redrive"))

    def group(self, channel: str, group: str, now_ns: int) -> GroupFlow | None:
        """A topic group's backlog and lag (None when the group has seen no message yet)."""
        with self._lock:
            q = self._backlog.get((channel, group))
            if q is None:
                return None
            oldest = next(iter(q.values()), None)
            return GroupFlow(len(q), max(0, now_ns - oldest) if oldest is not None else 0)

    def partitions(self, channel: str, group: str, count: int) -> list[PartitionFlow]:
        """Each partition of a log for one group: owner and lag (head offset - committed offset)."""
        with self._lock:
            return [PartitionFlow(p, self._owner.get((channel, group, p)),
                                  max(0, self._head.get((channel, p), 0) - self._committed.get((channel, group, p), 0)))
                    for p in range(count)]

    def recent_hops(self, now_ns: int, window_ns: int) -> list[Hop]:
        """The hops of the last `window_ns` of virtual time (oldest first)."""
        with self._lock:
            out: list[Hop] = []
            for hop in reversed(self.hops):
                if now_ns - hop.t > window_ns:
                    break
                out.append(hop)
            out.reverse()
            return out


def find_flow(listeners: Sequence[object]) -> FlowTracker | None:
    """The flow tracker among an engine's listeners, if one is there."""
    return next((x for x in listeners if isinstance(x, FlowTracker)), None)
