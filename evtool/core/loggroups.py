"""Consumer groups on partitioned logs, as the broker drives them.

The records and a group's bookkeeping (positions, committed offsets,
assignment, rebalancing) are in logs.py; this part of `Broker` joins and
removes members, evicts crashed ones after their session timeout, hands out
records within each member's prefetch, settles them (an ack marks a record
processed; a nack seeks back or skips it), commits offsets, and reports a
group's state and lag. A mixin of `Broker`; see broker.py for the API.
"""

from __future__ import annotations

from typing import Any

from evtool.core.brokerstate import BrokerState, Channel, _new
from evtool.core.channel_config import LogConfig
from evtool.core.delivery import ChannelStats, Delivery
from evtool.core.events import TraceEvent
from evtool.core.logs import LogDelivery, LogGroup
from evtool.core.queues import Subscriber


class LogGroups(BrokerState):
    """Members, deliveries, settlements and commits of log consumer groups."""

    # ----------------------------------------------------------- members
    def _join_group(self, now: int, ch: Channel, sub: Subscriber) -> None:
        """`sub` joins its consumer group on log `ch` (default: the consumer name); the group rebalances."""
        log = ch.log
        assert log is not None
        p = self.profile
        gname = sub.group or sub.consumer
        sub.group = gname
        g = log.groups.get(gname)
        if g is None:
            cfg = ch.cfg
            assert isinstance(cfg, LogConfig)
            start = p.log_start if sub.start_from == "committed" else sub.start_from
            g = LogGroup(log, gname, cfg.assignment or p.assignment, start,
                         cfg.session_timeout_ns if cfg.session_timeout_ns is not None else p.session_timeout_ns)
            log.groups[gname] = g
        sub.log_group = g
        self._subs[sub.id] = sub
        g.members[sub.id] = sub
        g.rebalance(now, "join", self._group_emitter(g), self._member_name)
        self._dirty[g] = None

    def _leave_group(self, now: int, s: Subscriber, reason: str) -> None:
        """A member leaves (rebalance now) or crashes (its partitions stall until the session timeout)."""
        g = s.log_group
        assert g is not None
        self._drop_log_inflight(s)
        if reason == "crash":
            due = now + (s.session_timeout_ns if s.session_timeout_ns is not None else g.session_timeout_ns)
            g.crashed[s.id] = due
            self._hint(g, due)
        else:
            g.members.pop(s.id, None)
            g.rebalance(now, reason, self._group_emitter(g), self._member_name)
            del self._subs[s.id]
        self._dirty[g] = None

    def _member_name(self, sid: int) -> str:
        s = self._subs.get(sid)
        return f"{s.consumer}#{s.instance}" if s is not None else f"sub{sid}"

    def _group_emitter(self, g: LogGroup) -> Any:
        channel = g.log.name

        def emit(now: int, kind: str, data: dict[str, Any]) -> None:
            self._emit(now, kind, None, channel, None, None, 0, data)
        return emit

    def _fire_group(self, now: int, g: LogGroup) -> None:
        evicted = sorted(m for m, t in g.crashed.items() if t <= now)
        for m in evicted:
            del g.crashed[m]
            g.members.pop(m, None)
        if evicted:
            g.rebalance(now, "session_timeout", self._group_emitter(g), self._member_name)
            for m in evicted:
                self._subs.pop(m, None)
        for p, u in enumerate(g.paused_until):
            if u and u <= now:
                g.paused_until[p] = 0
        self._dirty[g] = None

    def _pump_log(self, now: int, g: LogGroup, out: list[Delivery]) -> None:
        log = g.log
        parts = log.partitions
        for mid, ps in g.assignment.items():
            sub = g.members.get(mid)
            if sub is None or not sub.alive or not ps:
                continue
            pf = sub.prefetch
            progress = True
            while progress:
                progress = False
                for p in ps:
                    if pf and sub.in_flight >= pf:
                        break
                    if g.paused_until[p] > now:
                        continue
                    part = parts[p]
                    pos = g.position[p]
                    if pos < part.base:
                        self._emit(now, "dropped", None, log.name, None, None, 0,
                                   {"reason": "retention", "group": g.name, "partition": p,
                                    "count": part.base - pos})
                        pos = part.base
                    if pos >= part.base + len(part.msgs):
                        g.position[p] = pos
                        continue
                    msg = part.msgs[pos - part.base]
                    if pos <= g.delivered_max[p]:
                        att = g.attempts[p].get(pos, 1) + 1
                        g.attempts[p][pos] = att
                    else:
                        att = 1
                        g.delivered_max[p] = pos
                    g.position[p] = pos + 1
                    tag = self._next_tag
                    self._next_tag = tag + 1
                    self._log_inflight[tag] = LogDelivery(g, sub, p, pos, g.pgen[p], msg, att)
                    sub.in_flight += 1
                    g.in_flight += 1
                    out.append(Delivery(tag, mid, msg, att, log.name, p, pos, None, 0, att > 1))
                    self._sink(_new(TraceEvent, (now, "delivered" if att == 1 else "redelivered", msg.id, log.name,
                                                 sub.consumer, sub.instance, msg.key, att, msg.tag,
                                                 {"partition": p, "offset": pos, "group": g.name})))
                    progress = True

    # ------------------------------------------------------------ settle
    def _log_ack(self, now: int, tag: int) -> bool:
        ld = self._log_inflight.pop(tag, None)
        if ld is None:
            return False
        g = ld.group
        self._settle_log(ld)
        if ld.generation != g.pgen[ld.partition]:
            return False       # the partition was revoked since: the ack (and any commit) is refused
        g.processed[ld.partition].add(ld.offset)
        g.acked += 1
        self._emit(now, "acked", ld.msg, g.log.name, ld.sub.consumer, ld.sub.instance, ld.attempt,
                   {"partition": ld.partition, "offset": ld.offset, "group": g.name})
        return True

    def _settle_log(self, ld: LogDelivery) -> None:
        ld.sub.in_flight -= 1
        ld.group.in_flight -= 1
        self._dirty[ld.group] = None

    def _log_nack(self, now: int, tag: int, requeue: bool, delay_ns: int) -> bool:
        ld = self._log_inflight.pop(tag, None)
        if ld is None:
            return False
        g = ld.group
        self._settle_log(ld)
        p = ld.partition
        if ld.generation != g.pgen[p]:
            return False
        actor, inst = ld.sub.consumer, ld.sub.instance
        base = {"partition": p, "offset": ld.offset, "group": g.name}
        if requeue:
            self._emit(now, "nacked", ld.msg, g.log.name, actor, inst, ld.attempt,
                       {**base, "requeue": True, "delay": delay_ns})
            if ld.offset < g.position[p]:
                g.position[p] = ld.offset
            if delay_ns > 0:
                g.paused_until[p] = now + delay_ns
                self._hint(g, now + delay_ns)
            self._emit(now, "returned", ld.msg, g.log.name, actor, inst, ld.attempt,
                       {**base, "reason": "nack", "position": "seek"})
            return True
        self._emit(now, "rejected", ld.msg, g.log.name, actor, inst, ld.attempt, {**base, "skipped": True})
        g.processed[p].add(ld.offset)
        cfg = self._channels[g.log.name].cfg
        target = cfg.dead_letter if isinstance(cfg, LogConfig) else None
        if target is not None and target in self._channels:
            msg = ld.msg.with_death(g.log.name, "rejected", now)
            self._emit(now, "dead_lettered", ld.msg, g.log.name, actor, inst, ld.attempt,
                       {**base, "reason": "rejected", "target": target, "count": msg.deaths[0].count})
            self._into(now, self._channels[target], msg, 0, "dead_letter")
        return True

    def _drop_log_inflight(self, s: Subscriber) -> None:
        stale = [t for t, ld in self._log_inflight.items() if ld.sub is s]
        for t in stale:
            self._settle_log(self._log_inflight.pop(t))

    def commit(self, now: int, sub: int, partition: int, offset: int) -> bool:
        """Commit `offset` (the next offset to read) for `partition`; False if `sub` does not own it."""
        s = self._subs.get(sub)
        g = s.log_group if s is not None else None
        if g is None or not s.alive or g.owner[partition] != sub or not self._available:  # type: ignore[union-attr]
            return False
        g.committed[partition] = offset
        done = g.processed[partition]
        if done:
            g.processed[partition] = {o for o in done if o >= offset}
        att = g.attempts[partition]
        if att:
            g.attempts[partition] = {o: n for o, n in att.items() if o >= offset}
        self._emit(now, "committed", None, g.log.name, s.consumer, s.instance, 0,  # type: ignore[union-attr]
                   {"group": g.name, "partition": partition, "offset": offset})
        return True

    def commit_processed(self, now: int, sub: int) -> dict[int, int]:
        """Commit, for each partition `sub` owns, up to its contiguous run of acked records."""
        s = self._subs.get(sub)
        g = s.log_group if s is not None else None
        out: dict[int, int] = {}
        if g is None:
            return out
        for p in g.assignment.get(sub, []):
            w = g.processed_watermark(p)
            if w != g.committed[p] and self.commit(now, sub, p, w):
                out[p] = w
        return out

    def log_group_state(self, channel: str, group: str) -> dict[str, Any]:
        """Positions, commits, owners and lag of one consumer group (for views and tests)."""
        ch = self._channel(channel)
        if ch.log is None or group not in ch.log.groups:
            raise KeyError(f"no consumer group {group!r} on log {channel!r}")
        g = ch.log.groups[group]
        return {"position": list(g.position), "committed": list(g.committed),
                "owner": [self._member_name(o) if o is not None else None for o in g.owner],
                "members": [self._member_name(m) for m in sorted(g.members)], "lag": g.lag(),
                "in_flight": g.in_flight, "strategy": g.strategy}

    # ---------------------------------------------------- restart, stats
    def _restart_log(self, ch: Channel) -> int:
        """A broker restart: a non-durable log loses its records, every group its members and
        uncommitted positions. Returns how many records were lost."""
        log = ch.log
        assert log is not None
        lost = 0
        if not ch.cfg.durable:
            for part in log.partitions:
                lost += len(part.msgs)
                part.trim_front(len(part.msgs))
        for g in log.groups.values():
            g.members.clear()
            g.crashed.clear()
            g.assignment = {}
            g.in_flight = 0
            for p in range(len(g.owner)):
                g.owner[p] = None
                g.pgen[p] += 1
                g.paused_until[p] = 0
                g.reset_position(p)
        return lost

    @staticmethod
    def _log_stats(ch: Channel) -> ChannelStats:
        """A log's counts: ready is the groups' lag, depth the retained records; in flight counts what a
        crashed member still holds until its session timeout (as a queue's lease keeps a crashed
        consumer's messages in flight)."""
        log = ch.log
        assert log is not None
        groups = log.groups.values()
        return ChannelStats(published=ch.published, enqueued=ch.published, ready=sum(g.lag() for g in groups),
                            in_flight=sum(g.in_flight + g.held_by_crashed() for g in groups),
                            acked=sum(g.acked for g in groups), duplicates=ch.duplicates,
                            rejected_publishes=ch.unavailable_rejects, depth=log.retained())

    @staticmethod
    def _log_busy(ch: Channel) -> bool:
        """Whether records past a group's committed offset still wait for a member: not yet handed out
        (lag, whether or not a live member is there to read them), or held by a crashed member until
        its session timeout hands its partitions on. The drain is not complete while they wait."""
        log = ch.log
        assert log is not None
        return any(g.lag() > 0 or g.held_by_crashed() > 0 for g in log.groups.values())
