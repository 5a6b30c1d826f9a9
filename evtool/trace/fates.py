"""Message fates: what ended each message's life in a channel, read from the trace.

A *copy* is one message id in one channel (one per topic subscription, one
per publish of the same id). A copy enters (`published` into a queue or log,
`routed` into a queue, `enqueued` into a topic subscription, a dead-letter
channel or back by a redrive) and then either reaches a fate or stays
pending. The ledger folds the trace and sorts every copy into one of:

* **handled**: acked after a handler finished (`handled`), or acked by a
  pattern's inbox (which handles a message as it acks it);
* **dead-lettered** / **parked** (a loss when `count_dead_letters_as_handled`
  is off);
* **expired** by the TTL the channel declares;
* **dropped by a declared policy**: `on_exhausted: drop`, or the delivery
  limit the channel declares (`max_deliveries`);
* **redriven** (a dead letter sent back: the copy in the original channel is
  judged there);
* **lost**, with the reason; or
* **pending**: no fate in the trace (yet).

An ack alone is not a fate. An ack that hands a message over to a
republished copy (`retry_scheduled` with `mode: republish`, then `acked` at
the same instant by the same consumer) leaves the message pending until the
copy reaches a fate; an ack made before the handler ran (`ack: auto`) is a
handling only once `handled` follows.

Memory stays bounded by the copies in flight: a settled copy is forgotten at
the next batch (refinements of a fate, such as `expired` followed by
`dead_lettered`, come at the same instant).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m

HANDLED = "handled"
DEAD = "dead-lettered"
PARKED = "parked"
EXPIRED = "expired by the declared TTL"
DROPPED_ON_EXHAUSTED = "dropped by the declared on_exhausted: drop"
DROPPED_AT_LIMIT = "dropped at the declared delivery limit"
REDRIVEN = "redriven"
DUPLICATE_OF_HANDLED = "a republished copy dropped as a duplicate of a handled copy"

# Loss reasons (what the result says, grouped with their counts).
LOST_DUPLICATE = "swallowed as a duplicate after a republish hand-off (no copy of it was handled)"
LOST_KEPT = "kept by the broker at its delivery limit, where no consumer sees it (not handled)"
LOST_AUTO_ACK = "acked before its handler ran (ack: auto) and never handled"


def _lost_dropped(reason: str | None) -> str:
    explain = {
        "overflow": "dropped by overflow",
        "fault": "dropped on the way by a fault",
        "broker_restart": "dropped by a broker restart (not durable)",
        "subscription_deleted": "dropped with its subscription",
        "dead_letter_cycle": "dropped: dead-letter cycle",
        "rejected": "rejected with no dead-letter channel: discarded",
        "max_deliveries": "dropped at a delivery limit the scenario did not declare",
        "expired": "expired with no dead-letter channel",
    }
    return explain.get(reason or "", f"dropped ({reason})")


class _Copies:
    """What the ledger knows about the copies of one message id in one channel."""

    __slots__ = ("open", "handover", "unjustified", "credit", "handled", "arrival", "closed", "handoff")

    def __init__(self) -> None:
        self.open = 0                                  # copies in the channel without a fate
        self.handover = 0                              # acked as a republish hand-off, copy not yet in
        self.unjustified: dict[str, int] | None = None  # acks by a consumer not (yet) followed by `handled`
        self.credit: dict[str, int] | None = None       # `handled` not (yet) followed by its ack
        self.handled = False                           # some copy was handled
        self.arrival: tuple[int, bool] | None = None   # (t, was a republished continuation) of the last arrival
        self.closed: tuple[int, str] | None = None     # (t, fate) of the last copy closed
        self.handoff: tuple[int, str | None] | None = None  # (t, consumer) of a republish retry awaiting its ack

    def settled(self) -> bool:
        return not (self.open or self.handover or self.unjustified or self.credit or self.handoff)


def _bump(d: dict[str, int] | None, k: str, by: int) -> dict[str, int] | None:
    """Add `by` to ``d[k]``, dropping zero entries; returns the dict (None when empty)."""
    if d is None:
        d = {}
    n = d.get(k, 0) + by
    if n:
        d[k] = n
    else:
        d.pop(k, None)
    return d or None


class FateLedger:
    """Folds trace batches into the fate of every message copy in a set of channels."""

    def __init__(self, scenario: m.Scenario, channels: set[str], *, group: str | None = None,
                 count_dead_letters_as_handled: bool = True) -> None:
        self.channels = channels
        chans = scenario.channels
        # Queues and logs take a publish directly; a topic's copies arrive as `enqueued`.
        self.direct = {n for n in channels
                       if isinstance(chans.get(n), m.QueueChannel | m.GroupedQueueChannel | m.LogChannel)}
        self.grouped = {n for n in channels if isinstance(chans.get(n), m.TopicChannel | m.LogChannel)}
        self.logs = {n for n in channels if isinstance(chans.get(n), m.LogChannel)}
        self.ttl_declared = {n for n in channels if getattr(chans.get(n), "ttl", None) is not None}
        self.limit_declared = {n for n in channels
                               if getattr(chans.get(n), "max_deliveries", None) not in (None, "unlimited")}
        # Consumers ack only after `handled` (or, with ack: auto, before it): their ack alone is no handling.
        self.consumers = set(scenario.consumers)
        self.group_of = {n: c.group or n for n, c in scenario.consumers.items()}
        self.group = group
        self.dead_is_handled = count_dead_letters_as_handled
        self.copies: dict[tuple[str, str], _Copies] = {}
        self.entered = 0
        self.rejected = 0
        self.fates: Counter[str] = Counter()
        self.losses: dict[str, list[str]] = {}
        self._settled: list[tuple[str, str]] = []

    # ------------------------------------------------------------------ folding

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        """Fold a batch in.

        The common life (a publish into a queue or log, `handled`, then its ack) is folded inline
        and forgotten at once; everything else goes through the handlers below. Indexes, not
        field names: ev[0] t, ev[1] kind, ev[2] msg, ev[3] channel, ev[4] actor.
        """
        if not batch:
            return
        if self._settled:
            self._reap(batch[0][0])
        chans = self.channels
        direct = self.direct
        consumers = self.consumers
        copies = self.copies
        group = self.group
        handlers = _HANDLERS
        for ev in batch:
            ch = ev[3]
            if ch not in chans:
                continue
            mid = ev[2]
            if mid is None:
                continue
            if group is not None and not self._in_group(ev):
                continue
            kind = ev[1]
            if kind == "published" or kind == "routed":
                if ch not in direct:
                    continue
                k = (mid, ch)
                if k not in copies:
                    st = copies[k] = _Copies()
                    st.open = 1
                    st.arrival = (ev[0], False)
                    self.entered += 1
                    continue
            elif kind == "handled":
                actor = ev[4]
                st = copies.get((mid, ch))  # type: ignore[assignment]
                if st is not None and actor in consumers and st.credit is None and st.unjustified is None:
                    st.credit = {actor: 1}
                    st.handled = True
                    continue
            elif kind == "acked":
                actor = ev[4]
                st = copies.get((mid, ch))  # type: ignore[assignment]
                if st is not None and st.open == 1 and not st.handover and st.handoff is None \
                        and st.unjustified is None and (st.credit == {actor: 1} or (
                            st.credit is None and actor not in consumers)):
                    del copies[(mid, ch)]
                    self.fates[HANDLED] += 1
                    continue
            handler = handlers.get(kind)
            if handler is not None:
                handler(self, ev)

    def _in_group(self, ev: TraceEvent) -> bool:
        if ev.channel not in self.grouped:
            return True
        g = ev.data.get("group") if ev.data is not None else None
        if g is None and ev.actor in self.group_of:
            g = self.group_of[ev.actor]
        if g is None:
            # what arrives in a log is read by every group; on a topic, what never reached a subscription
            return ev.channel in self.logs or ev.kind in ("published", "dropped", "publish_rejected",
                                                          "duplicate_dropped", "unroutable")
        return g == self.group

    def _reap(self, before: int) -> None:
        keep = []
        copies = self.copies
        for k in self._settled:
            st = copies.get(k)
            if st is None:
                continue
            if not st.settled():
                continue
            if st.closed is not None and st.closed[0] >= before:
                keep.append(k)
            else:
                del copies[k]
        self._settled = keep

    def _state(self, ev: TraceEvent) -> _Copies:
        k = (ev.msg, ev.channel)
        st = self.copies.get(k)  # type: ignore[arg-type]
        if st is None:
            st = self.copies[k] = _Copies()  # type: ignore[index]
        return st

    def _close(self, ev: TraceEvent, st: _Copies, fate: str, loss: str | None = None) -> None:
        """One copy of `ev.msg` reached `fate` (a loss when `loss` is given)."""
        st.closed = (ev.t, fate if loss is None else "lost:" + loss)
        if loss is None:
            self.fates[fate] += 1
            if fate == HANDLED:
                st.handled = True
        else:
            self.losses.setdefault(ev.msg or "", []).append(loss)
        if st.settled():
            if st.closed[1] in _REFINABLE:
                self._settled.append((ev.msg, ev.channel))  # type: ignore[arg-type]  # kept for this instant
            else:
                self.copies.pop((ev.msg, ev.channel), None)  # type: ignore[arg-type]

    def _refine(self, ev: TraceEvent, st: _Copies, fate: str, loss: str | None = None) -> None:
        """The copy closed at this instant reached a more precise fate (expired, then dead-lettered)."""
        assert st.closed is not None
        old = st.closed[1]
        if old.startswith("lost:"):
            reasons = self.losses.get(ev.msg or "", [])
            if old[5:] in reasons:
                reasons.remove(old[5:])
            if not reasons:
                self.losses.pop(ev.msg or "", None)
        else:
            self.fates[old] -= 1
        self._close(ev, st, fate, loss)

    def _dead(self, kind: str) -> tuple[str, str | None]:
        fate = PARKED if kind == "parked" else DEAD
        if self.dead_is_handled:
            return fate, None
        return fate, f"{fate} (count_dead_letters_as_handled: false)"

    # ------------------------------------------------------------------ event kinds

    def _arrived(self, ev: TraceEvent) -> None:
        kind = ev.kind
        if kind == "enqueued":
            # delay_elapsed: a delayed copy became ready; routed: a log reports `routed`, then `enqueued`
            if ev.data is not None and ev.data.get("reason") in ("delay_elapsed", "routed"):
                return
        elif ev.channel not in self.direct:
            return          # a publish to a topic: its copies arrive as `enqueued`
        st = self._state(ev)
        if st.handover:
            # the republished copy continues the message handed over by the ack
            st.handover -= 1
            st.arrival = (ev.t, True)
        else:
            self.entered += 1
            st.arrival = (ev.t, False)
        st.open += 1

    def _publish_rejected(self, ev: TraceEvent) -> None:
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        reason = ev.data.get("reason") if ev.data is not None else None
        if st is not None and ev.channel in self.direct and st.arrival is not None and st.arrival[0] == ev.t \
                and st.open:
            # the broker counted the publish, then refused it (capacity): it never entered
            st.open -= 1
            continuation = st.arrival[1]
            st.arrival = None
            if continuation:
                self._close(ev, st, "", f"refused when republished ({reason})")
            else:
                self.entered -= 1
                self.rejected += 1
                if st.settled():
                    self._settled.append((ev.msg, ev.channel))  # type: ignore[arg-type]
            return
        if st is not None and st.handover:
            st.handover -= 1
            self._close(ev, st, "", f"refused when republished ({reason})")
            return
        self.rejected += 1   # refused at the door: the producer was told, so it never entered

    def _retry_scheduled(self, ev: TraceEvent) -> None:
        # Only a copy still open can be handed over (a requester's timeout retry republishes a request
        # that was already consumed: nothing of it is open here).
        if ev.data is not None and ev.data.get("mode") == "republish":
            st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
            if st is not None and st.open:
                st.handoff = (ev.t, ev.actor)

    def _acked(self, ev: TraceEvent) -> None:
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        if st is None:
            return
        actor = ev.actor or ""
        if not st.open:
            # another group's ack of a log record already accounted for: settle its bookkeeping only
            if st.credit and actor in st.credit:
                st.credit = _bump(st.credit, actor, -1)
                if st.settled():
                    self._settled.append((ev.msg, ev.channel))  # type: ignore[arg-type]
            return
        st.open -= 1
        if st.handoff is not None and st.handoff == (ev.t, ev.actor):
            # the hand-off to a republished copy: not a fate; the copy must reach one
            st.handoff = None
            st.handover += 1
            return
        if actor not in self.consumers:
            self._close(ev, st, HANDLED)
        elif st.credit and actor in st.credit:
            st.credit = _bump(st.credit, actor, -1)
            self._close(ev, st, HANDLED)
        else:
            st.unjustified = _bump(st.unjustified, actor, 1)
            st.closed = (ev.t, "acked")

    def _handled(self, ev: TraceEvent) -> None:
        if ev.actor not in self.consumers:
            return
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        if st is None:
            return
        actor = ev.actor or ""
        st.handled = True
        if st.unjustified and actor in st.unjustified:
            # ack: auto acked first; the handler has now finished
            st.unjustified = _bump(st.unjustified, actor, -1)
            self._close(ev, st, HANDLED)
        else:
            st.credit = _bump(st.credit, actor, 1)

    def _app_fate(self, ev: TraceEvent, st: _Copies, fate: str, loss: str | None) -> bool:
        """A consumer acked, then reported what it did with the message (drop or its own dead letter)."""
        actor = ev.actor or ""
        if st.unjustified and actor in st.unjustified:
            st.unjustified = _bump(st.unjustified, actor, -1)
            self._close(ev, st, fate, loss)
            return True
        return False

    def _dropped(self, ev: TraceEvent) -> None:
        reason = ev.data.get("reason") if ev.data is not None else None
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        if reason == "retries_exhausted":
            if st is not None and (self._app_fate(ev, st, DROPPED_ON_EXHAUSTED, None) or st.open and self._take(
                    ev, st, DROPPED_ON_EXHAUSTED, None)):
                return
            return
        if reason == "fault":
            st = self._state(ev)
            if st.handover:
                st.handover -= 1
            else:
                self.entered += 1   # published toward the channel, lost on the way
            self._close(ev, st, "", _lost_dropped(reason))
            return
        if st is None:
            return
        if reason == "max_deliveries" and ev.channel in self.limit_declared:
            self._take(ev, st, DROPPED_AT_LIMIT, None)
        else:
            self._take(ev, st, "", _lost_dropped(reason))

    def _take(self, ev: TraceEvent, st: _Copies, fate: str, loss: str | None) -> bool:
        """Close one open copy; False when none is open."""
        if not st.open:
            return False
        st.open -= 1
        self._close(ev, st, fate, loss)
        return True

    def _dead_lettered(self, ev: TraceEvent) -> None:
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        if st is None:
            return
        fate, loss = self._dead(ev.kind)
        data = ev.data or {}
        if data.get("by") == "application" and self._app_fate(ev, st, fate, loss):
            return
        closed = st.closed
        if closed is not None and closed[0] == ev.t and (
                (closed[1] == EXPIRED and data.get("reason") == "expired")
                or closed[1] == "lost:" + LOST_LOG_REJECT):
            self._refine(ev, st, fate, loss)
            return
        self._take(ev, st, fate, loss)

    def _expired(self, ev: TraceEvent) -> None:
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        if st is None:
            return
        if ev.channel in self.ttl_declared:
            self._take(ev, st, EXPIRED, None)
        else:
            self._take(ev, st, "", "expired with no TTL declared on the channel")

    def _rejected(self, ev: TraceEvent) -> None:
        # On a queue the broker then dead-letters or drops the copy; on a log a reject skips the record.
        if ev.data is not None and ev.data.get("skipped"):
            st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
            if st is not None:
                self._take(ev, st, "", LOST_LOG_REJECT)

    def _kept(self, ev: TraceEvent) -> None:
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        if st is not None:
            self._take(ev, st, "", LOST_KEPT)

    def _duplicate_dropped(self, ev: TraceEvent) -> None:
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        if st is None or not st.handover:
            return   # a re-send that never entered: the copy that did carries the fate
        st.handover -= 1
        if st.handled:
            self._close(ev, st, DUPLICATE_OF_HANDLED)
        else:
            self._close(ev, st, "", LOST_DUPLICATE)

    def _unroutable(self, ev: TraceEvent) -> None:
        st = self._state(ev)
        if st.handover:
            st.handover -= 1
        else:
            self.entered += 1
        self._close(ev, st, "", "unroutable: no binding or subscription took it")

    def _redriven(self, ev: TraceEvent) -> None:
        st = self.copies.get((ev.msg, ev.channel))  # type: ignore[arg-type]
        if st is not None:
            self._take(ev, st, REDRIVEN, None)

    # ------------------------------------------------------------------ reading

    def pending(self, *, final: bool) -> list[str]:
        """Ids with a copy that has no fate yet: in the channel, handed over to a copy not yet in, or
        (until the run is `final`) acked on delivery with its handler still to finish."""
        out = set()
        for (mid, _ch), st in self.copies.items():
            if st.open or st.handover or (st.unjustified and not final):
                out.add(mid)
        return sorted(out)

    def lost(self, *, final: bool) -> dict[str, list[str]]:
        """Ids lost, each with its reasons; `final` (a complete drain) adds the acks on delivery whose
        handler never finished."""
        out = {k: list(v) for k, v in self.losses.items()}
        if final:
            for (mid, _ch), st in self.copies.items():
                if st.unjustified:
                    out.setdefault(mid, []).extend([LOST_AUTO_ACK] * sum(st.unjustified.values()))
        return out


LOST_LOG_REJECT = "rejected on a log with no dead-letter channel: skipped"
_REFINABLE = frozenset({EXPIRED, "lost:" + LOST_LOG_REJECT})
"""Fates a later event at the same instant may make more precise (expired, then dead_lettered)."""

_HANDLERS: dict[str, Any] = {
    "published": FateLedger._arrived,
    "routed": FateLedger._arrived,
    "enqueued": FateLedger._arrived,
    "publish_rejected": FateLedger._publish_rejected,
    "duplicate_dropped": FateLedger._duplicate_dropped,
    "unroutable": FateLedger._unroutable,
    "retry_scheduled": FateLedger._retry_scheduled,
    "handled": FateLedger._handled,
    "acked": FateLedger._acked,
    "rejected": FateLedger._rejected,
    "dead_lettered": FateLedger._dead_lettered,
    "parked": FateLedger._dead_lettered,
    "expired": FateLedger._expired,
    "dropped": FateLedger._dropped,
    "max_deliveries_reached": FateLedger._kept,
    "redriven": FateLedger._redriven,
}
"""The kinds that move a copy; every other kind leaves the fates as they are (see NoLoss)."""
