"""The delivery state machine of queues (and of a topic's subscription queues).

A ready entry is delivered under a lease (`_pump_queue`); it ends acked, or
returns (nack, lease expiry, closed channel, crash), or is dead-lettered,
dropped, expired or kept at the delivery limit, as the channel's config and
the broker profile say. Claims (Redis XAUTOCLAIM), lease extensions (SQS
ChangeMessageVisibility) and acks with the tag of an earlier delivery
(`Profile.stale_ack`) live here too. A mixin of `Broker`; see broker.py for
the API and the trace conventions.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any

from evtool.core.brokerstate import MAX_DEAD_LETTER_DEPTH, BrokerState, _new
from evtool.core.delivery import Delivery
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.profiles import whole_units
from evtool.core.queues import (
    ACKED,
    DEAD,
    DELAYED,
    DROPPED,
    EXPIRED,
    IN_FLIGHT,
    KEPT,
    LIVE_STATES,
    READY,
    Entry,
    QueueState,
    Subscriber,
)

# Plain Python takes the no-op decorators of evtool.core._nocython, not Cython's Shadow module (~4 ms of a
# run's start-up to import); compiled, Cython reads `cython.locals` as it compiles this `import cython`,
# which does nothing at run time.
if not __file__.endswith((".so", ".pyd")):
    from evtool.core import _nocython as cython
else:
    import cython


class QueueDelivery(BrokerState):
    """Leases, settlements, returns, dead letters and claims of queue entries."""

    @staticmethod
    def _take_due_leases(now: int, qs: QueueState) -> list[tuple[int, int, Entry]]:
        """Take the live leases due by `now` out of `qs`, ordered by deadline, then delivery tag."""
        leases = qs.leases
        due: list[tuple[int, int, Entry]] = []
        while leases and leases[0][0] <= now:
            dl, tag, e = leases.popleft()
            if e.tag == tag and e.deadline == dl:
                due.append((dl, tag, e))
        late = qs.late_leases
        while late and late[0][0] <= now:
            dl, tag, e = heappop(late)
            if e.tag == tag and e.deadline == dl:
                due.append((dl, tag, e))
        if len(due) > 1:
            due.sort(key=lambda x: (x[0], x[1]))
        return due

    def _fire_queue(self, now: int, qs: QueueState) -> None:
        due = self._take_due_leases(now, qs)
        if len(due) > 1:
            if qs.grouped or qs.requeue_position == "head":
                due.reverse()          # returning to the head one by one: last first keeps the order
        for dl, tag, e in due:
            if e.tag == tag and e.deadline == dl:   # a closed channel may already have returned it
                self._lease_expired(now, e)
        delayed = qs.delayed
        while delayed and delayed[0][0] <= now:
            _, _, e, was_returned = heappop(delayed)
            qs.delayed_n -= 1
            e.state = READY
            if was_returned and qs.grouped:
                qs.requeue(e, "head")
            else:
                qs.push(e)
            self._dirty[qs] = None
            self._emit_entry(now, "enqueued", e, {"reason": "delay_elapsed"})
        if qs.ttl_seen:
            while True:
                h = qs.peek()
                if h is None or h.expires_at is None or h.expires_at > now:
                    break
                qs.pop()
                self._expire(now, h)
        exp = qs.expiry
        while exp and exp[0][0] <= now:
            e = heappop(exp)[2]
            if e.state in LIVE_STATES:
                # JetStream MaxAge: the message goes wherever it is, ready or unacked
                self._detach(e)
                self._expire(now, e)

    def _detach(self, e: Entry) -> None:
        """Take a live entry out of the ready order, the delayed heap or the in-flight table."""
        qs = e.qs
        st = e.state
        if st == READY:
            qs.remove(e)
        elif st == IN_FLIGHT:
            del self._inflight[e.tag]
            self._leave_flight(e)
        elif st == DELAYED:
            for i, item in enumerate(qs.delayed):
                if item[2] is e:
                    qs.delayed[i] = qs.delayed[-1]
                    qs.delayed.pop()
                    heapify(qs.delayed)
                    break
            qs.delayed_n -= 1

    def _return_all(self, now: int, s: Subscriber, reason: str) -> int:
        entries = [e for e in self._inflight.values() if e.sub is s]
        qs = s.qs
        if qs is not None and (qs.grouped or qs.requeue_position == "head"):
            entries.reverse()          # returning to the head one by one: last first keeps the order
        counted = "channel_closed" if reason in ("leave", "channel_closed") else "crash"
        for e in entries:
            del self._inflight[e.tag]
            self._return(now, e, reason, counted)
        return len(entries)

    def _delete_exclusive(self, now: int, qs: QueueState) -> None:
        ch = self._channels[qs.channel]
        ch.topic_states.pop(f"~{qs.exclusive_sub}", None)
        for e in qs.drain_ready():
            self._drop(now, e, "subscription_deleted")
        while qs.delayed:
            e = heappop(qs.delayed)[2]
            qs.delayed_n -= 1
            self._drop(now, e, "subscription_deleted")

    @cython.locals(self=BrokerState, qs=QueueState, e=Entry, sub=Subscriber, msg=Message)
    def _pump_queue(self, now: int, qs: QueueState, out: list[Delivery]) -> None:
        subs = qs.dispatch_subs
        n = len(subs)
        if n == 0 or qs.ready_n == 0:
            return
        i = qs.rr if qs.rr < n else 0
        timeout = qs.ack_timeout_ns
        leases = qs.leases
        inflight = self._inflight
        counts_deliver = qs.counts_deliver
        maxd = qs.max_deliveries
        sink = self._sink
        name = qs.channel
        group = qs.group
        plain = not qs.grouped
        batch = qs.group_batch
        groups = qs.groups if batch else None  # type: ignore[attr-defined]
        follow: str | None = None      # batch receive: the message group the same subscriber takes more of
        ready = qs.ready
        while True:
            sub = subs[i]
            pf = sub.prefetch
            if pf and sub.in_flight >= pf:
                for _ in range(n - 1):
                    i += 1
                    if i == n:
                        i = 0
                    sub = subs[i]
                    pf = sub.prefetch
                    if not pf or sub.in_flight < pf:
                        break
                else:
                    break                  # nobody has credit
            if follow is not None:
                e = qs.pop_next_of(follow)  # type: ignore[attr-defined]
                follow = None
                if e is None:
                    break
            elif plain and not qs.returned:
                if not ready:
                    break
                e = ready.popleft()        # the common case of QueueState.pop, inlined
                qs.ready_n -= 1
            else:
                e = qs.pop()
                if e is None:
                    break
            exp = e.expires_at
            if exp is not None and exp <= now:
                self._expire(now, e)
                continue
            if maxd is not None and counts_deliver and e.count >= maxd:
                self._at_limit(now, e)
                continue
            tag = self._next_tag
            self._next_tag = tag + 1
            att = e.attempt + 1
            e.attempt = att
            if counts_deliver:
                e.count += 1
            e.state = IN_FLIGHT
            e.tag = tag
            e.sub = sub
            e.delivered_at = now
            sub.in_flight += 1
            qs.in_flight += 1
            if timeout is not None:
                dl: int | None = now + timeout
                e.deadline = dl
                leases.append((dl, tag, e))  # type: ignore[arg-type]
                h = qs.hint
                if h is None or dl < h:  # type: ignore[operator]
                    self._hint(qs, dl)  # type: ignore[arg-type]
            else:
                dl = None
            inflight[tag] = e
            msg = e.msg
            out.append(Delivery(tag, sub.id, msg, att, name, None, None, dl, e.count, att > 1))
            if att == 1:
                data = None if group is None else {"group": group}
                sink(_new(TraceEvent, (now, "delivered", msg.id, name, sub.consumer, sub.instance, msg.key, 1,
                                       msg.tag, data)))
            else:
                data = {"count": e.count}
                if group is not None:
                    data["group"] = group
                sink(_new(TraceEvent, (now, "redelivered", msg.id, name, sub.consumer, sub.instance, msg.key,
                                       att, msg.tag, data)))
            if batch and (not pf or sub.in_flight < pf) and groups.get(e.group or ""):  # type: ignore[union-attr]
                # SQS FIFO: one ReceiveMessage returns as many messages of the same group as it can
                follow = e.group or ""
                continue
            i += 1
            if i == n:
                i = 0
        qs.rr = i
        if qs.ttl_seen:
            self._hint_head(qs)

    # ------------------------------------------------------------ settle
    @cython.locals(self=BrokerState, e=Entry, qs=QueueState, sub=Subscriber, m=Message, x=Entry, inflight=dict)
    def ack(self, now: int, tag: int) -> bool:
        """Acknowledge a delivery; False for an unknown tag.

        A stale tag (an earlier delivery of a message redelivered since) follows `Profile.stale_ack`:
        settles (True, the message is acked wherever it is), ignored (True, nothing changes) or
        refused (False).
        """
        if not self._available:
            return False
        inflight = self._inflight  # (a dict: a compiled build pops it without a method lookup)
        e = inflight.pop(tag, None)
        if e is None:
            if self._former and tag in self._former:
                return self._stale_ack(now, tag)
            return self._log_ack(now, tag)
        if e.former:
            self._forget(e)
        qs = e.qs
        e.state = ACKED
        e.tag = 0
        qs.in_flight -= 1
        qs.acked += 1
        sub = e.sub
        sub.in_flight -= 1
        if qs.grouped:
            qs.release(e)
        if qs.ready_n:  # the pump looks only at queues with something ready (most acks leave nothing)
            self._dirty[qs] = None
        m = e.msg
        self._sink(_new(TraceEvent, (now, "acked", m.id, qs.channel, sub.consumer, sub.instance, m.key, e.attempt,
                                     m.tag, None if qs.group is None else {"group": qs.group})))
        leases = qs.leases
        while leases:
            dl, t, x = leases[0]
            if x.tag == t and x.deadline == dl:
                break
            leases.popleft()
        return True

    def nack(self, now: int, tag: int, *, requeue: bool = True, delay_ns: int = 0) -> bool:
        """Negative ack: return the message (now or after `delay_ns`) or, without requeue, reject it.

        On a log, requeue seeks the partition back to this record (head-of-line
        blocking; with a delay the partition pauses); without requeue the record is
        skipped (copied to the log's dead_letter channel if it has one).
        """
        if not self._available:
            return False
        if delay_ns and self.profile.time_unit_ns:  # SQS ChangeMessageVisibility: whole seconds
            delay_ns = whole_units(delay_ns, self.profile.time_unit_ns)
        e = self._inflight.pop(tag, None)
        if e is None:
            return self._log_nack(now, tag, requeue, delay_ns)
        if not requeue and e.qs.reject_lease:
            self._inflight[tag] = e
            return self._reject_by_lease(now, e)
        self._emit_entry(now, "nacked", e, {"requeue": requeue, "delay": delay_ns})
        if requeue:
            self._return(now, e, "nack", "nack", delay_ns)
        else:
            self._leave_flight(e)
            self._dead_letter(now, e, "rejected")
        return True

    def reject(self, now: int, tag: int) -> bool:
        """Reject without requeue: dead-letter (reason rejected) or drop when there is no target.

        Under `Profile.reject_action` lease_expiry (SQS, which has no reject call) nothing happens
        until the delivery's lease ends: the subscriber's credit is freed and the message returns
        like any expired lease, counting a receive.
        """
        if not self._available:
            return False
        e = self._inflight.pop(tag, None)
        if e is None:
            return self._log_nack(now, tag, False, 0)
        if e.qs.reject_lease:
            self._inflight[tag] = e
            return self._reject_by_lease(now, e)
        self._emit_entry(now, "rejected", e)
        self._leave_flight(e)
        self._dead_letter(now, e, "rejected")
        return True

    def _reject_by_lease(self, now: int, e: Entry) -> bool:
        """SQS has no reject: the consumer simply does not delete the message, which stays invisible
        until its visibility timeout ends and is then received again (counting a receive; the redrive
        policy moves it after maxReceiveCount). The consumer's credit is freed now: it may receive more.
        """
        qs = e.qs
        sub = e.sub
        if qs.ack_timeout_ns is None and not qs.reject_stays:
            # no visibility timeout configured: the message is visible again at once (Redis: with no
            # claimer the entry stays pending for good, held below by a released copy of the subscriber)
            del self._inflight[e.tag]
            self._return(now, e, "lease_expired", "lease_expired")
            return True
        if sub.alive:
            # the delivery no longer holds the subscriber's credit; a released copy keeps the names
            # for the trace and is never alive, so the lease expiry returns just this message
            ghost = Subscriber(sub.id, sub.consumer, sub.instance, sub.channel, sub.group, 0, sub.dispatch,
                               None, sub.start_from)
            ghost.alive = False
            ghost.in_flight = 1
            sub.in_flight -= 1
            e.sub = ghost
            self._dirty[qs] = None
        return True

    def _remember(self, e: Entry) -> None:
        """Keep the tag of the delivery that is ending, for a late ack (Profile.stale_ack)."""
        tag = e.tag
        self._former[tag] = (e, e.sub, e.attempt)
        if e.former is None:
            e.former = [tag]
        else:
            e.former.append(tag)

    def _forget(self, e: Entry) -> None:
        former = self._former
        for t in e.former:  # type: ignore[union-attr]
            former.pop(t, None)
        e.former = None

    def _stale_ack(self, now: int, tag: int) -> bool:
        """An ack with the tag of an earlier delivery of a message that is still in the broker.

        NATS (AckWait expired, message redelivered or waiting to be) and Redis (XACK by id after
        XCLAIM) settle the message wherever it is; SQS accepts the old receipt handle and does not
        delete the message.
        """
        e, sub, attempt = self._former[tag]
        if not self._stale_settles:
            return True
        if e.state not in LIVE_STATES:
            return False
        qs = e.qs
        current = e.attempt
        self._detach(e)
        self._forget(e)
        e.state = ACKED
        e.tag = 0
        e.deadline = None
        qs.acked += 1
        if qs.grouped:
            qs.release(e)
        self._dirty[qs] = None
        m = e.msg
        data: dict[str, Any] = {"stale_tag": True, "latest_attempt": current}
        if qs.group is not None:
            data["group"] = qs.group
        self._sink(_new(TraceEvent, (now, "acked", m.id, qs.channel, sub.consumer, sub.instance, m.key, attempt,
                                     m.tag, data)))
        return True

    def extend_lease(self, now: int, tag: int, ns: int) -> bool:
        """Restart a delivery's lease so it ends at ``now + ns`` (SQS ChangeMessageVisibility, NATS +WPI)."""
        e = self._inflight.get(tag)
        if e is None or not self._available:
            return False
        qs = e.qs
        dl = now + ns
        e.deadline = dl
        heappush(qs.late_leases, (dl, tag, e))
        self._hint(qs, dl)
        return True

    def _leave_flight(self, e: Entry) -> None:
        qs = e.qs
        qs.in_flight -= 1
        e.sub.in_flight -= 1
        e.tag = 0
        e.deadline = None
        self._dirty[qs] = None

    def _return(self, now: int, e: Entry, reason: str, counted: str, delay_ns: int = 0) -> None:
        """An in-flight entry (already removed from the tag table) goes back to ready or delayed."""
        qs = e.qs
        if self._track_former:
            self._remember(e)
        self._leave_flight(e)
        if counted in qs.count_returns:
            e.count += 1
        maxd = qs.max_deliveries
        if maxd is not None and not qs.counts_deliver and e.count > maxd:
            self._at_limit(now, e)
            return
        if delay_ns > 0:
            e.state = DELAYED
            qs.delayed_n += 1
            qs.delay_seq += 1
            due = now + delay_ns
            heappush(qs.delayed, (due, qs.delay_seq, e, True))
            self._hint(qs, due)
            self._emit_entry(now, "delayed", e, {"delay": delay_ns, "reason": reason})
            return
        e.state = READY
        pos = "head" if qs.grouped else (qs.nack_position if reason == "nack" else qs.requeue_position)
        qs.requeue(e, pos)
        self._emit_entry(now, "returned", e, {"reason": reason, "position": pos, "count": e.count})
        if qs.ttl_seen:
            self._hint_head(qs)

    def _lease_expired(self, now: int, e: Entry) -> None:
        qs = e.qs
        sub = e.sub
        self._emit_entry(now, "lease_expired", e, {"deadline": e.deadline})
        if qs.lease_action == "close_channel" and sub.alive:
            self._emit(now, "channel_closed", None, qs.channel, sub.consumer, sub.instance, 0,
                       {"reason": "ack_timeout", "sub": sub.id})
            self.unsubscribe(now, sub.id, reason="channel_closed")
            self.closed_subs.append(sub.id)
            return
        del self._inflight[e.tag]
        self._return(now, e, "lease_expired", "lease_expired")

    def _finish(self, e: Entry, state: int) -> None:
        if e.former:
            self._forget(e)
        e.state = state
        qs = e.qs
        if qs.grouped:
            qs.release(e)

    def _at_limit(self, now: int, e: Entry) -> None:
        qs = e.qs
        a = qs.at_limit
        if a == "keep_with_advisory":
            self._finish(e, KEPT)
            qs.kept += 1
            self._emit_entry(now, "max_deliveries_reached", e, {"count": e.count, "limit": qs.max_deliveries})
        elif a == "drop":
            self._drop(now, e, "max_deliveries")
        else:
            self._dead_letter(now, e, "max_deliveries")

    def _drop(self, now: int, e: Entry, reason: str) -> None:
        self._finish(e, DROPPED)
        e.qs.dropped += 1
        self._emit_entry(now, "dropped", e, {"reason": reason})

    def _expire(self, now: int, e: Entry) -> None:
        qs = e.qs
        if qs.expire_anywhere:
            # JetStream MaxAge / SQS retention: deleted silently, never dead-lettered
            self._emit_entry(now, "expired", e, {"reason": "max_age"})
            self._finish(e, EXPIRED)
            qs.expired += 1
            return
        self._emit_entry(now, "expired", e)
        if qs.dead_letter is not None and qs.dead_letter in self._channels:
            self._dead_letter(now, e, "expired")
        else:
            self._finish(e, EXPIRED)
            qs.expired += 1

    def _dead_letter(self, now: int, e: Entry, reason: str) -> None:
        qs = e.qs
        target = qs.dead_letter
        tch = self._channels.get(target) if target is not None else None
        if tch is None or self._dl_depth >= MAX_DEAD_LETTER_DEPTH:
            self._drop(now, e, reason if tch is None else "dead_letter_cycle")
            return
        self._finish(e, DEAD)
        qs.dead += 1
        msg = e.msg.with_death(qs.channel, reason, now)
        self._emit_entry(now, "dead_lettered", e, {"reason": reason, "target": target,
                                                   "count": msg.deaths[0].count})
        self._dl_depth += 1
        try:
            self._into(now, tch, msg, 0, "dead_letter")
        finally:
            self._dl_depth -= 1

    # ----------------------------------------------------------- claims
    def claim(self, now: int, sub: int, min_idle_ns: int, count: int | None = None) -> list[Delivery]:
        """Take over in-flight deliveries of `sub`'s queue idle for at least `min_idle_ns` (XAUTOCLAIM).

        Each claim is a new delivery (new tag) and increments the counter; an
        entry already at the limit goes to the profile's at_limit action instead.
        """
        s = self._subs.get(sub)
        if s is None or s.qs is None or not self._available:
            return []
        qs = s.qs
        cands = [e for e in self._inflight.values() if e.qs is qs and now - e.delivered_at >= min_idle_ns]
        if count is not None:
            cands = cands[:count]
        out: list[Delivery] = []
        for e in cands:
            old = e.sub
            del self._inflight[e.tag]
            maxd = qs.max_deliveries
            if maxd is not None and qs.counts_deliver and e.count >= maxd:
                self._leave_flight(e)
                self._at_limit(now, e)
                continue
            if self._track_former:
                self._remember(e)
            old.in_flight -= 1
            tag = self._next_tag
            self._next_tag = tag + 1
            e.attempt += 1
            if qs.counts_deliver:
                e.count += 1
            e.tag = tag
            e.sub = s
            e.delivered_at = now
            s.in_flight += 1
            dl = None
            if qs.ack_timeout_ns is not None:
                dl = now + qs.ack_timeout_ns
                e.deadline = dl
                heappush(qs.late_leases, (dl, tag, e))
                self._hint(qs, dl)
            self._inflight[tag] = e
            self._emit_entry(now, "claimed", e, {"from": old.consumer, "from_instance": old.instance})
            self._emit_entry(now, "redelivered", e, {"count": e.count})
            out.append(Delivery(tag, sub, e.msg, e.attempt, qs.channel, None, None, dl, e.count, True))
        return out
