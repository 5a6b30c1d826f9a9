"""Folding trace batches into the bounded structures a dashboard shows.

`TraceFold` keeps a ring of recent events, a window of message lifecycles
(the most recently touched messages, each with its first few and latest
events), lanes, pending retries and dead letters. Every structure has a bound,
so a long run never grows the host.

Lanes are split only where ordering matters, and only there is a message
marked when its key's order broke (acknowledged after a later message with
the same key): one lane per partition of a log, one per message group of a
grouped queue (the key, as the engine groups by it), one per key of a queue
whose consumer declares `ordering` or is judged by a `per_key_order` check
(the message key: an `ordering.key` expression is not evaluated here). Those
keyed lanes are the first `KEY_LANES` keys published on the channel, so the
picture stays steady. Any other queue is one lane that shows its messages'
states and promises no order.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.sim.snapshot import (
    DeadLetterView,
    LaneCell,
    LaneView,
    MessageLife,
    RetryView,
)

RECENT_EVENTS = 500
"""Trace events kept in the recent ring (the event log's window)."""
MESSAGE_WINDOW = 5000
"""Messages whose lifecycle the host keeps (the most recently touched)."""
LIFECYCLE_EVENTS = 64
"""Events kept per message lifecycle (the first few and the latest)."""
LANE_CELLS = 120
"""Most recent messages kept per lane."""
KEY_LANES = 8
"""Lanes per grouped queue or ordered queue (its first groups or keys; later ones get no lane)."""
ORDER_KEYS = 20_000
"""Keys whose order the host tracks per lane (least recently used are forgotten)."""
MAX_RETRIES = 5000
MAX_DEAD_LETTERS = 1000
SHOWN_RETRIES = 100
SHOWN_DEAD_LETTERS = 200


# ---------------------------------------------------------------------------- folding the trace

_STATE_OF: dict[str, str] = {
    "published": "ready", "enqueued": "ready", "routed": "ready", "returned": "ready",
    "delivered": "inflight", "redelivered": "inflight", "handled": "inflight", "failed": "inflight",
    "retry_scheduled": "retry", "delayed": "retry",
    "acked": "acked", "dead_lettered": "dead", "parked": "dead", "expired": "expired",
    "dropped": "dropped", "duplicate_dropped": "dropped", "unroutable": "dropped",
}


class _Msg:
    """What the host remembers about one message."""

    __slots__ = ("id", "key", "tag", "channel", "causation", "correlation", "state", "attempts", "events",
                 "truncated", "children", "error")

    def __init__(self, ev: TraceEvent) -> None:
        self.id: str = ev.msg or ""
        self.key = ev.key
        self.tag = ev.tag
        self.channel = ev.channel
        self.causation: str | None = None
        self.correlation: str | None = None
        self.state = "ready"
        self.attempts = 0
        self.events: list[TraceEvent] = []
        self.truncated = False
        self.children: list[str] = []
        self.error: str | None = None


class _Lane:
    """One lane: recent cells by message id, and per-key order tracking."""

    __slots__ = ("name", "channel", "cells", "order", "breaks", "seq", "kind", "part")

    def __init__(self, name: str, channel: str, kind: str = "queue", part: str | None = None) -> None:
        self.name = name
        self.channel = channel
        self.kind = kind
        self.part = part
        # msg -> [key, state, attempt, publish index, broken]
        self.cells: OrderedDict[str, list[Any]] = OrderedDict()
        self.order: OrderedDict[str, int] = OrderedDict()
        self.breaks = 0
        self.seq = 0


class TraceFold:
    """Bounded structures folded from the trace (see the module docstring)."""

    def __init__(self, scenario: m.Scenario, *, recent: int = RECENT_EVENTS, window: int = MESSAGE_WINDOW) -> None:
        self.seq = 0
        self.recent: deque[tuple[int, TraceEvent]] = deque(maxlen=recent)
        self.window = window
        self.msgs: OrderedDict[str, _Msg] = OrderedDict()
        self.retries: dict[str, RetryView] = {}
        self.dead: OrderedDict[str, DeadLetterView] = OrderedDict()
        self.dead_total = 0
        self.logs = {n for n, c in scenario.channels.items() if isinstance(c, m.LogChannel)}
        self.lane_channels = {n for n, c in scenario.channels.items()
                              if not isinstance(c, m.RouterChannel) and getattr(c, "role", "normal") != "dead_letter"}
        # Where ordering matters: a grouped queue's message groups, the keys of a queue read by a
        # consumer that declares `ordering`.
        self.keyed: dict[str, str] = {n: "group" for n, c in scenario.channels.items()
                                      if isinstance(c, m.GroupedQueueChannel)}
        judged = {getattr(e, "consumer", None) for e in scenario.expect if getattr(e, "check", None) == "per_key_order"}
        for name, c in scenario.consumers.items():
            if (c.ordering is not None or name in judged) and c.from_ in self.lane_channels \
                    and c.from_ not in self.logs:
                self.keyed.setdefault(c.from_, "key")
        self.lanes: dict[str, _Lane] = {}
        self._keyed_lanes: dict[str, OrderedDict[str, _Lane]] = {n: OrderedDict() for n in self.keyed}
        for n in scenario.channels:
            if n in self.lane_channels and n not in self.logs and n not in self.keyed:
                self.lanes[n] = _Lane(n, n)
        self.max_attempts: dict[str, int | None] = {}
        for name, c in scenario.consumers.items():
            r = c.retry
            self.max_attempts[name] = None if r is None or r.max_attempts == "forever" else r.max_attempts

    # -- lanes

    def _lane_for(self, ev: TraceEvent) -> _Lane | None:
        ch = ev.channel
        if ch not in self.lane_channels:
            return None
        if ch in self.keyed:
            return self._keyed_lane(ev, ch)  # type: ignore[arg-type]
        if ch not in self.logs:
            return self.lanes.get(ch)  # type: ignore[arg-type]
        part = ev.data.get("partition") if ev.data else None
        if part is not None:
            name = f"{ch}[{part}]"
            lane = self.lanes.get(name)
            if lane is None:
                lane = self.lanes[name] = _Lane(name, ch, "partition", str(part))  # type: ignore[arg-type]
            return lane
        for lane in self.lanes.values():
            if lane.channel == ch and ev.msg in lane.cells:
                return lane
        return None

    def _keyed_lane(self, ev: TraceEvent, ch: str) -> _Lane | None:
        lanes = self._keyed_lanes[ch]
        if ev.kind in ("published", "enqueued", "routed") and ev.key is not None:
            key = str(ev.key)
            lane = lanes.get(key)
            if lane is None:
                if len(lanes) >= KEY_LANES:  # the first few keys keep their lanes: a steady picture
                    return None
                lane = lanes[key] = _Lane(f"{ch}{{{key}}}", ch, self.keyed[ch], key)
            return lane
        key = str(ev.key) if ev.key is not None else None
        lane = lanes.get(key) if key is not None else None
        if lane is not None and ev.msg in lane.cells:
            return lane
        for lane in lanes.values():
            if ev.msg in lane.cells:
                return lane
        return None

    def _lane_event(self, ev: TraceEvent, state: str | None) -> None:
        lane = self._lane_for(ev)
        if lane is None:
            return
        mid = ev.msg
        cells = lane.cells
        cell = cells.get(mid)  # type: ignore[arg-type]
        if cell is None:
            if ev.kind not in ("published", "enqueued", "routed"):
                return
            lane.seq += 1
            cell = cells[mid] = [ev.key, "ready", 0, lane.seq, False]  # type: ignore[index]
            if len(cells) > LANE_CELLS:
                cells.popitem(last=False)
        if state is not None:
            cell[1] = state
        if ev.attempt:
            cell[2] = ev.attempt
        if ev.kind == "acked" and cell[0] is not None and lane.kind != "queue":
            key = cell[0]
            order = lane.order
            best = order.get(key)
            if best is not None and cell[3] < best:
                if not cell[4]:
                    cell[4] = True
                    lane.breaks += 1
            else:
                order[key] = cell[3]
                order.move_to_end(key)
                if len(order) > ORDER_KEYS:
                    order.popitem(last=False)

    # -- the fold

    def fold(self, batch: Sequence[TraceEvent]) -> None:
        """Fold one batch of trace events in (called on the engine's thread)."""
        recent = self.recent
        msgs = self.msgs
        state_of = _STATE_OF
        lanes = self.lane_channels
        seq = self.seq
        for ev in batch:
            seq += 1
            recent.append((seq, ev))
            mid = ev.msg
            if mid is None:
                continue
            kind = ev.kind
            rec = msgs.get(mid)
            if rec is None:
                rec = msgs[mid] = _Msg(ev)
                if len(msgs) > self.window:
                    msgs.popitem(last=False)
            else:
                msgs.move_to_end(mid)
            evs = rec.events
            if len(evs) >= LIFECYCLE_EVENTS:
                del evs[8]  # keep the beginning of the story and the latest events
                rec.truncated = True
            evs.append(ev)
            state = state_of.get(kind)
            if state is not None and not (kind == "enqueued" and ev.data and ev.data.get("reason") == "dead_letter"):
                rec.state = state
            if ev.attempt > rec.attempts:
                rec.attempts = ev.attempt
            if rec.tag is None and ev.tag is not None:
                rec.tag = ev.tag
            if ev.channel in lanes:
                self._lane_event(ev, state)
            if kind in ("delivered", "redelivered", "handled", "dead_lettered", "expired", "dropped", "parked"):
                self.retries.pop(mid, None)
            if kind == "failed":
                rec.error = ev.data.get("error") if ev.data else None
            elif kind == "retry_scheduled":
                self._retry(ev, rec)
            elif kind in ("dead_lettered", "parked"):
                self._dead(ev, rec)
            elif kind == "redriven":
                if self.dead.pop(mid, None) is not None:
                    self.dead_total -= 1
            elif kind == "emitted" and ev.data:
                self._caused(rec, ev.data.get("causation_id"))
            elif kind == "request_sent" and ev.data and ev.data.get("correlation_id"):
                rec.correlation = str(ev.data["correlation_id"])
        self.seq = seq

    def _retry(self, ev: TraceEvent, rec: _Msg) -> None:
        data = ev.data or {}
        delay = int(data.get("delay") or 0)
        consumer = ev.actor or ""
        self.retries[rec.id] = RetryView(
            msg=rec.id, channel=ev.channel or "", consumer=consumer, key=ev.key,
            next_attempt=int(data.get("attempt") or ev.attempt + 1), max_attempts=self.max_attempts.get(consumer),
            due_ns=ev.t + delay, delay_ns=delay, mode=str(data.get("mode") or ""), error=rec.error)
        if len(self.retries) > MAX_RETRIES:
            self.retries.pop(next(iter(self.retries)))

    def _dead(self, ev: TraceEvent, rec: _Msg) -> None:
        data = ev.data or {}
        target = data.get("target")
        if target is None:
            return
        if rec.id not in self.dead:
            self.dead_total += 1
        self.dead[rec.id] = DeadLetterView(
            msg=rec.id, channel=str(target), source=ev.channel or "", reason=str(data.get("reason") or ""),
            error=rec.error or (str(data["error"]) if data.get("error") else None), attempts=ev.attempt, t=ev.t,
            key=ev.key, tag=ev.tag)
        self.dead.move_to_end(rec.id)
        if len(self.dead) > MAX_DEAD_LETTERS:
            self.dead.popitem(last=False)

    def _caused(self, rec: _Msg, causation: Any) -> None:
        if causation is None:
            return
        rec.causation = str(causation)
        parent = self.msgs.get(rec.causation)
        if parent is not None:
            rec.correlation = parent.correlation or parent.id
            if len(parent.children) < 50 and rec.id not in parent.children:
                parent.children.append(rec.id)
        else:
            rec.correlation = rec.causation

    # -- views

    def life(self, msg: str) -> MessageLife | None:
        """One message's lifecycle window, or None when it is not (or no longer) known."""
        rec = self.msgs.get(msg)
        if rec is None:
            return None
        return MessageLife(msg=rec.id, key=rec.key, tag=rec.tag, channel=rec.channel, causation=rec.causation,
                           correlation=rec.correlation or rec.id, state=rec.state, attempts=rec.attempts,
                           events=tuple(rec.events), caused=tuple(rec.children), truncated=rec.truncated)

    def lane_views(self) -> tuple[LaneView, ...]:
        """Every lane, frozen."""
        out = []
        for lane in [*self.lanes.values(), *(x for ls in self._keyed_lanes.values() for x in ls.values())]:
            cells = tuple(LaneCell(mid, c[0], c[1], c[2], c[4]) for mid, c in lane.cells.items())
            out.append(LaneView(lane.name, lane.channel, cells, lane.breaks, lane.kind, lane.part))
        return tuple(out)

    def retry_views(self) -> tuple[RetryView, ...]:
        """Pending retries, soonest first (the first `SHOWN_RETRIES`)."""
        items = sorted(self.retries.values(), key=lambda r: (r.due_ns, r.msg))
        return tuple(items[:SHOWN_RETRIES])

    def dead_views(self) -> tuple[DeadLetterView, ...]:
        """Dead letters, oldest first (the latest `SHOWN_DEAD_LETTERS`)."""
        items = list(self.dead.values())
        return tuple(items[-SHOWN_DEAD_LETTERS:])


# ---------------------------------------------------------------------------- lessons

