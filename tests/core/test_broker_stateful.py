"""Stateful property tests of the broker (research §1.8.3 invariants).

Random sequences of publish, subscribe, crash, pump, ack, nack, reject,
timer firing and restarts, under every profile, checking after each step:

* conservation: every enqueued copy is in exactly one state (ready, in flight,
  delayed, acked, dead-lettered, expired, dropped, kept, redriven);
* no delivery has a counter above max_deliveries;
* a message is acked at most once per subscription, and never both acked and
  dead-lettered;
* grouped queues: at most one message in flight per group, and a message is
  delivered only after every earlier message of its group is settled.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from evtool.core.broker import Broker
from evtool.core.channel_config import GroupedQueueConfig, LogConfig, QueueConfig
from evtool.core.delivery import Delivery
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.profiles import PROFILES
from evtool.core.queues import IN_FLIGHT

S = 1_000_000_000
# facts after which a message no longer holds its group (publish_rejected: it never entered)
SETTLED = {"acked", "dead_lettered", "dropped", "expired", "max_deliveries_reached", "publish_rejected"}


class QueueMachine(RuleBasedStateMachine):
    """A queue (plain or grouped) with a dead-letter queue, driven at random."""

    FORCE_GROUPED = False

    def __init__(self) -> None:
        super().__init__()
        self.events: list[TraceEvent] = []
        self.now = 0
        self.n = 0
        self.subs: list[int] = []
        self.out: dict[int, Delivery] = {}
        self.retired: list[int] = []          # tags the test settled or lost: late acks replay them
        self.order: dict[str, int] = {}       # msg id -> publish index
        self.limit: int | None = None

    @initialize(profile=st.sampled_from(sorted(PROFILES)), grouped=st.booleans(),
                limit=st.one_of(st.none(), st.integers(1, 4)), ttl=st.one_of(st.none(), st.integers(1, 20)),
                capacity=st.one_of(st.none(), st.integers(1, 6)),
                overflow=st.sampled_from(["reject_publish", "drop_head", "dead_letter"]))
    def setup(self, profile: str, grouped: bool, limit: int | None, ttl: int | None, capacity: int | None,
              overflow: str) -> None:
        p = PROFILES[profile]
        grouped = grouped or self.FORCE_GROUPED
        if not p.counter_increments_on:
            limit = None
        if overflow == "dead_letter" and p.overflow_head == "drop":
            overflow = "drop_head"     # refused at declare: JetStream DiscardOld cannot dead-letter
        self.profile = p
        self.grouped = grouped
        self.broker = Broker(p, self.events.append)
        self.broker.declare("dlq", QueueConfig())
        cls = GroupedQueueConfig if grouped else QueueConfig
        self.broker.declare("q", cls(max_deliveries=limit, dead_letter="dlq", ttl_ns=ttl and ttl * S,
                                     capacity=capacity, overflow=overflow, ack_timeout_ns=10 * S))
        self.limit = limit if limit is not None else p.max_deliveries

    @rule(key=st.sampled_from(["a", "b", "c"]), ttl=st.one_of(st.none(), st.integers(1, 30)))
    def publish(self, key: str, ttl: int | None) -> None:
        mid = f"m{self.n}"
        self.order[mid] = self.n
        self.n += 1
        self.broker.publish(self.now, "q", Message(mid, key=key, ttl_ns=ttl and ttl * S))

    @precondition(lambda self: len(self.subs) < 3)
    @rule(prefetch=st.integers(0, 3))
    def subscribe(self, prefetch: int) -> None:
        self.subs.append(self.broker.subscribe(self.now, "q", "c", len(self.subs), prefetch=prefetch))

    @precondition(lambda self: self.subs)
    @rule(i=st.integers(0, 2), reason=st.sampled_from(["leave", "crash"]))
    def unsubscribe(self, i: int, reason: str) -> None:
        sub = self.subs.pop(i % len(self.subs))
        self.broker.unsubscribe(self.now, sub, reason=reason)
        for tag in [t for t, d in self.out.items() if d.sub == sub]:
            del self.out[tag]
            self.retired.append(tag)

    @rule()
    def pump(self) -> None:
        for d in self.broker.pump(self.now):
            if self.limit is not None:
                assert d.count <= self.limit, (d, self.limit)
            if d.sub in self.subs:     # (a delivery made at publish time to a subscriber gone since)
                self.out[d.tag] = d

    @precondition(lambda self: self.out)
    @rule(i=st.integers(0, 50), action=st.sampled_from(["ack", "nack", "nack_delay", "drop_nack", "reject"]))
    def settle(self, i: int, action: str) -> None:
        tag = sorted(self.out)[i % len(self.out)]
        del self.out[tag]
        self.retired.append(tag)
        b = self.broker
        if action == "ack":
            b.ack(self.now, tag)
        elif action == "nack":
            b.nack(self.now, tag)
        elif action == "nack_delay":
            b.nack(self.now, tag, delay_ns=3 * S)
        elif action == "drop_nack":
            b.nack(self.now, tag, requeue=False)
        else:
            b.reject(self.now, tag)

    @precondition(lambda self: self.retired)
    @rule(i=st.integers(0, 50))
    def late_ack(self, i: int) -> None:
        """An ack with an old tag (a slow handler finishing after its delivery was superseded)."""
        self.broker.ack(self.now, self.retired[i % len(self.retired)])

    @precondition(lambda self: self.out)
    @rule(rounds=st.integers(1, 6))
    def fail_all(self, rounds: int) -> None:
        """A poison handler: nack everything outstanding and pump again, several times."""
        for _ in range(rounds):
            for tag in sorted(self.out):
                self.broker.nack(self.now, tag)
            self.retired.extend(self.out)
            self.out.clear()
            self.pump()

    @rule(dt=st.integers(1, 15))
    def advance(self, dt: int) -> None:
        self.now += dt * S
        t = self.broker.next_timer()
        while t is not None and t <= self.now:
            self.broker.fire_timers(t)
            t = self.broker.next_timer()
        assert t is None or t > self.now
        # a lease expiry under close_channel (RabbitMQ consumer_timeout) closes the subscriber's channel
        self.subs = [s for s in self.subs if self.broker.subscriber(s) is not None]

    @rule()
    def restart(self) -> None:
        self.broker.restart(self.now)
        self.subs.clear()
        self.out.clear()

    @invariant()
    def conserved(self) -> None:
        for ch in ("q", "dlq"):
            st_ = self.broker.stats(ch)
            assert st_.unaccounted == 0, st_
            assert min(st_.ready, st_.in_flight, st_.delayed) >= 0

    @invariant()
    def credit_matches_deliveries(self) -> None:
        """A subscriber's in-flight count is exactly its unsettled deliveries (no credit leaks when a
        late ack, DiscardOld, MaxAge or an SQS reject takes a delivery away)."""
        for sid in self.subs:
            s = self.broker.subscriber(sid)
            assert s is not None
            held = sum(1 for e in self.broker._inflight.values() if e.sub is s)
            assert s.in_flight == held, (sid, s.in_flight, held)

    @invariant()
    def acked_once_never_dead(self) -> None:
        acked: set[str] = set()
        dead: set[str] = set()
        for e in self.events:
            if e.channel != "q":
                continue
            if e.kind == "acked":
                assert e.msg not in acked, f"{e.msg} acked twice"
                acked.add(e.msg)  # type: ignore[arg-type]
            elif e.kind == "dead_lettered":
                dead.add(e.msg)  # type: ignore[arg-type]
        assert not (acked & dead)

    @invariant()
    def group_order(self) -> None:
        if not getattr(self, "grouped", False):
            return
        batch = self.profile.group_receive == "batch"
        inflight = [e for e in self.broker._inflight.values() if e.qs.channel == "q" and e.state == IN_FLIGHT]
        if batch:
            # SQS FIFO: one receive may hold several of a group, all from that one receive
            receives: dict[str, set[tuple[int, int]]] = {}
            for x in inflight:
                receives.setdefault(x.group or "", set()).add((x.sub.id, x.delivered_at))
            assert all(len(r) == 1 for r in receives.values()), receives
        else:
            groups = [x.group for x in inflight]
            assert len(groups) == len(set(groups)), groups
        settled: set[str] = set()
        keys: dict[str, str] = {}
        receive: dict[str, tuple[Any, ...]] = {}
        for e in self.events:
            if e.channel != "q" or e.msg is None:
                continue
            keys[e.msg] = e.key  # type: ignore[assignment]
            if e.kind in SETTLED:
                settled.add(e.msg)
            elif e.kind in ("delivered", "redelivered"):
                receive[e.msg] = (e.t, e.actor, e.instance)
                earlier = [m for m, k in keys.items() if k == e.key and self.order[m] < self.order[e.msg]]
                assert all(m in settled or (batch and receive.get(m) == receive[e.msg]) for m in earlier), \
                    (e.msg, earlier)


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])


class GroupedQueueMachine(QueueMachine):
    """The same machine, always on a grouped queue, so the per-group invariants get more runs."""

    FORCE_GROUPED = True


TestGroupedQueueMachine = GroupedQueueMachine.TestCase
TestGroupedQueueMachine.settings = settings(max_examples=100, stateful_step_count=40, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])


class LogMachine(RuleBasedStateMachine):
    """A 3-partition log with one consumer group: per-partition order and commit safety."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[TraceEvent] = []
        self.broker = Broker(PROFILES["kafka"], self.events.append)
        self.broker.declare("log", LogConfig(partitions=3, session_timeout_ns=5 * S))
        self.now = 0
        self.n = 0
        self.subs: list[int] = []
        self.out: dict[int, Delivery] = {}
        self.acked: dict[tuple[int, int], bool] = {}

    @rule(key=st.sampled_from(["a", "b", "c", "d", None]))
    def publish(self, key: str | None) -> None:
        self.broker.publish(self.now, "log", Message(f"m{self.n}", key=key))
        self.n += 1

    @precondition(lambda self: len(self.subs) < 3)
    @rule()
    def join(self) -> None:
        self.subs.append(self.broker.subscribe(self.now, "log", "c", len(self.subs), group="g", prefetch=4,
                                               start_from="earliest"))

    @precondition(lambda self: self.subs)
    @rule(i=st.integers(0, 2), reason=st.sampled_from(["leave", "crash"]))
    def leave(self, i: int, reason: str) -> None:
        sub = self.subs.pop(i % len(self.subs))
        self.broker.unsubscribe(self.now, sub, reason=reason)
        for tag in [t for t, d in self.out.items() if d.sub == sub]:
            del self.out[tag]

    @rule()
    def pump(self) -> None:
        for d in self.broker.pump(self.now):
            self.out[d.tag] = d

    @precondition(lambda self: self.out)
    @rule(i=st.integers(0, 50), ok=st.booleans())
    def settle(self, i: int, ok: bool) -> None:
        tag = sorted(self.out)[i % len(self.out)]
        d = self.out.pop(tag)
        if ok:
            if self.broker.ack(self.now, tag):
                self.acked[(d.partition, d.offset)] = True  # type: ignore[index]
        else:
            self.broker.nack(self.now, tag)

    @precondition(lambda self: self.subs)
    @rule(i=st.integers(0, 2))
    def commit(self, i: int) -> None:
        self.broker.commit_processed(self.now, self.subs[i % len(self.subs)])

    @rule(dt=st.integers(1, 8))
    def advance(self, dt: int) -> None:
        self.now += dt * S
        t = self.broker.next_timer()
        while t is not None and t <= self.now:
            self.broker.fire_timers(t)
            t = self.broker.next_timer()

    @invariant()
    def first_deliveries_in_partition_order(self) -> None:
        last: dict[int, int] = {}
        for e in self.events:
            if e.kind == "delivered":
                p, off = e.data["partition"], e.data["offset"]  # type: ignore[index]
                assert off > last.get(p, -1), (p, off, last)
                last[p] = off

    @invariant()
    def commits_cover_only_acked_records(self) -> None:
        for e in self.events:
            if e.kind == "committed":
                p, off = e.data["partition"], e.data["offset"]  # type: ignore[index]
                assert all(self.acked.get((p, o)) for o in range(off)), (p, off)

    @invariant()
    def owners_are_members(self) -> None:
        g = self.broker._channels["log"].log.groups.get("g")  # type: ignore[union-attr]
        if g is None:
            return
        owned = [p for ps in g.assignment.values() for p in ps]
        assert len(owned) == len(set(owned))
        for p, o in enumerate(g.owner):
            assert o is None or (o in g.members and p in g.assignment[o])


TestLogMachine = LogMachine.TestCase
TestLogMachine.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])
