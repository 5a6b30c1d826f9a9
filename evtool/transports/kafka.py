"""Kafka (aiokafka) on any Kafka-protocol broker: topics with partitions, consumer groups, commits.

Mapping (docs/transports.md, section "Kafka and Amazon SQS", has the full table):

* every channel -> topic ``<prefix>.<channel>``. A ``log`` gets the scenario's partitions; a queue or topic
  gets one partition per consumer instance that may read it (a classic consumer group needs a partition
  per member to share the work);
* keyed records: aiokafka's default partitioner (murmur2 of the key, as the Java client) picks the
  partition; the adapter checks each broker answer against evtool's own `partition_for_key` and reports a
  problem on any difference (the trace's ``published`` event carries evtool's partition);
* a log's consumer group -> a Kafka consumer group ``<prefix>.<channel>.<group>``, one aiokafka consumer
  per instance (``enable_auto_commit=False``); the scenario's ``session_timeout`` and ``assignment``
  become session.timeout.ms and the assignor (``cooperative_sticky`` runs as round robin with eager
  revocation: aiokafka has no cooperative protocol). Partition assignments and revocations are traced
  from the rebalance listener, one ``rebalanced`` per group generation;
* commits follow the consumer's ``commit`` block: ``per_message``/``per_batch`` commit the processed
  watermark after each ack, ``periodic`` every ``interval``. A crash stops the member without LeaveGroup,
  so the broker evicts it after the session timeout and the next owner re-reads from the last commit;
* a nack on a log seeks the partition back to the record (everything after it is read again); a reject
  skips it;
* queue channels (and each group of a topic channel) stand for KIP-932 share groups in the ``kafka``
  profile. Kafka brokers without share groups (Tansu here, and aiokafka has no share consumer) get a
  client-side emulation: the group reads with a classic consumer group; a nack holds the record and hands it back after the delay with its
  acquisition count + 1; at the delivery limit the profile's ``at_limit`` applies (``drop``: archived,
  ``dead_letter``: a copy to the channel's dead-letter topic); commits stop at the first unsettled record.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from evtool.core.message import DeathRecord, Message
from evtool.core.profiles import get_profile
from evtool.core.routing import partition_for_key
from evtool.scenario import models as m
from evtool.transports.base import (
    PublishGate,
    SubSpec,
    Topology,
    TransportError,
    TransportSink,
    TransportUnavailable,
    decode_message,
    redact_url,
)
from evtool.transports.kafka_batch import BatchPublisher, answered

NS = 1_000_000_000
DEFAULT_SESSION_NS = 2 * NS
"""session.timeout.ms when the scenario sets none. Apache Kafka's default is 45 s (the ``kafka`` profile keeps it)
and aiokafka's 10 s; Tansu holds every JoinGroup for about half the session timeout (measured: 10 s -> 5 s,
2 s -> 1 s), so a short one keeps each join, and so each run, short. A scenario that crashes a consumer and
cares when its partitions move sets ``session_timeout`` itself."""
FETCH_MS = 100
"""How long one fetch waits for records (ms); also how fast a stopping member notices."""
FETCH_WAIT_MS = 20
"""fetch.max.wait.ms (aiokafka: 500): how long the broker may hold a fetch of an idle partition."""
REBALANCE_SETTLE_S = 1.0
"""How long after a member's assignment of a new generation the group's ``rebalanced`` fact is traced
(the other members' assignments of the same generation arrive within this time)."""
STOP_TIMEOUT_S = 5.0
"""How long one member may take to stop (LeaveGroup, closing its connections)."""
PREJOIN_TIMEOUT_S = 30.0
"""How long the consumer groups may take to form before the run starts."""


def bootstrap(url: str) -> str:
    """``host:port`` of a ``kafka://host:port`` URL (a bare ``host:port`` is accepted too)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 9092}"


@dataclass
class _Member:
    """One consumer instance: its aiokafka consumer and what it holds."""

    spec: SubSpec
    group: _Group
    consumer: Any = None
    task: asyncio.Task[None] | None = None
    committer: asyncio.Task[None] | None = None
    alive: bool = True
    in_flight: int = 0
    owned: set[int] = field(default_factory=set)
    credit: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Group:
    """One Kafka consumer group (a log's group, or a queue's emulated share group)."""

    channel: str
    group: str | None
    group_id: str
    topic: str
    partitions: int
    share: bool                     # a queue, or a topic's group: share-group emulation (logs are plain groups)
    strategy: str = "range"
    commit_mode: str = "per_message"
    commit_interval_ns: int = 5 * NS
    session_ns: int = DEFAULT_SESSION_NS
    owner: dict[int, int] = field(default_factory=dict)          # partition -> sid
    pgen: list[int] = field(default_factory=list)                 # bumped on every revoke: stale handles
    committed: list[int] = field(default_factory=list)
    processed: list[set[int]] = field(default_factory=list)
    next_offset: list[int] = field(default_factory=list)          # next offset to hand out (lag)
    counts: dict[tuple[int, int], int] = field(default_factory=dict)  # (partition, offset) -> acquisitions
    held: set[tuple[int, int]] = field(default_factory=set)      # nacked records waiting for their delay
    generation: int = -1
    reasons: list[str] = field(default_factory=list)   # membership changes since the last generation
    dirty: set[int] = field(default_factory=set)          # partitions with acks not yet committed
    flushing: asyncio.Future[None] | None = None
    in_flight: int = 0
    high: list[int] = field(default_factory=list)                 # 1 + the highest offset ever read
    floored: bool = False         # a late group starting from latest: positioned at the ends of its subscribe
    joining: set[int] = field(default_factory=set)               # members that joined and await an assignment

    def __post_init__(self) -> None:
        n = self.partitions
        self.pgen = [0] * n
        self.committed = [0] * n
        self.processed = [set() for _ in range(n)]
        self.next_offset = [0] * n
        self.high = [0] * n

    def watermark(self, p: int) -> int:
        """The offset a commit may move partition `p` to: the end of the contiguous processed run."""
        off = self.committed[p]
        done = self.processed[p]
        while off in done:
            off += 1
        return off


class KafkaTransport:
    """The Kafka adapter (see the module docstring)."""

    name = "kafka"
    routes_on_broker = False
    returns_on_close = False        # a crashed member's records come back only after the session timeout

    def __init__(self, url: str, loaded: Any = None) -> None:
        self.url = url
        self.bootstrap = bootstrap(url)
        self.scenario: m.Scenario | None = loaded.model if loaded is not None else None
        self.sink: TransportSink | None = None
        self.topology: Topology | None = None
        self.admin: Any = None
        self.producer: Any = None
        self.topics: list[str] = []
        self.parts: dict[str, int] = {}
        self.groups: dict[tuple[str, str | None], _Group] = {}
        self.members: dict[int, _Member] = {}
        self.dead_sids: set[int] = set()
        self.prejoined: dict[tuple[str, str | None, str, int], _Member] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.server_version = ""
        self._rr = itertools.count()
        self.gate = PublishGate()
        self.batcher: BatchPublisher | None = None      # records go out in batches (see kafka_batch)
        self._slow = 0                                  # publish() calls under way (see publish_now)
        self.ends: dict[tuple[str, int], int] = {}      # (channel, partition) -> 1 + last offset produced
        self._flooring: dict[tuple[str, str | None], asyncio.Future[None]] = {}
        at_limit = "dead_letter"
        if self.scenario is not None:
            prof = get_profile(self.scenario.broker.profile)
            settings = dict(self.scenario.broker.settings or {})
            at_limit = str(settings.get("at_limit", prof.at_limit))
        self.at_limit = at_limit

    # ------------------------------------------------------------------ names

    def topic(self, channel: str) -> str:
        """The topic of a scenario channel."""
        assert self.topology is not None
        return f"{self.topology.prefix}.{channel}"

    # ------------------------------------------------------------------ connection

    async def connect(self) -> None:
        """Start the admin client and an idempotent producer (acks=all); TransportUnavailable when the broker
        does not answer."""
        import logging

        from aiokafka import AIOKafkaProducer
        from aiokafka.admin import AIOKafkaAdminClient

        # aiokafka logs "Heartbeat failed ... because it is rebalancing" at WARNING on every rebalance, which
        # Python prints raw to stderr under the run's view; a rebalance is traced as `rebalanced` instead
        logging.getLogger("aiokafka").setLevel(logging.ERROR)
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        try:
            await asyncio.wait_for(self.admin.start(), timeout=8)
            self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=2,
                                             max_batch_size=256 * 1024, enable_idempotence=False)
            await asyncio.wait_for(self.producer.start(), timeout=8)
            self.batcher = BatchPublisher(self.producer, self.topic, self._stored)
        except Exception as exc:  # noqa: BLE001 - aiokafka raises several unrelated types here
            await self.close()
            raise TransportUnavailable(f"cannot reach Kafka at {redact_url(self.url)}: {exc}") from exc
        self.server_version = "kafka protocol"

    async def close(self) -> None:
        """Stop the producer and the admin client."""
        for client in (self.producer, self.admin):
            if client is None:
                continue
            try:
                await asyncio.wait_for(client.stop() if client is self.producer else client.close(), timeout=5)
            except Exception:  # noqa: BLE001, S110 - closing a broken client: nothing more to do
                pass
        self.producer = self.admin = None

    # ------------------------------------------------------------------ topology

    def _instances(self, channel: str) -> int:
        """The most instances any consumer group of `channel` can have (scale faults included)."""
        if self.scenario is None:
            return 1
        per_group: dict[str, int] = {}
        for cname, c in self.scenario.consumers.items():
            if c.from_ != channel:
                continue
            n = int(c.instances)
            for f in self.scenario.faults:
                if f.action == "scale" and f.target == f"consumer:{cname}" and f.instances:
                    n = max(n, int(f.instances))
            g = c.group or cname
            per_group[g] = per_group.get(g, 0) + n
        return max(per_group.values(), default=1)

    def _consumer_spec(self, name: str) -> Any:
        return self.scenario.consumers.get(name) if self.scenario is not None else None

    async def declare(self, topology: Topology, sink: TransportSink) -> None:
        """Create one topic per channel (partitions as above) and the group states."""
        from aiokafka.admin import NewTopic

        self.topology = topology
        self.sink = sink
        new: list[Any] = []
        for plan in topology.channels.values():
            if plan.kind == "router":
                continue
            spec = self.scenario.channels.get(plan.name) if self.scenario is not None else None
            n = int(spec.partitions) if isinstance(spec, m.LogChannel) else self._instances(plan.name)
            topic = self.topic(plan.name)
            self.parts[plan.name] = n
            new.append(NewTopic(topic, num_partitions=n, replication_factor=1))
        if new:
            resp = await self.admin.create_topics(new)
            for topic, code, *_rest in getattr(resp, "topic_errors", ()):
                if code not in (0, 36):   # 36 = TOPIC_ALREADY_EXISTS (a kept run declared again)
                    raise TransportError(f"create topic {topic}: Kafka error code {code}")
            self.topics.extend(t.name for t in new)
        for plan in topology.channels.values():
            if plan.kind == "router":
                continue
            for g in plan.subscriptions():
                self._group(plan.name, g)
        if self.scenario is not None:
            await self._prejoin()

    def _group(self, channel: str, group: str | None) -> _Group:
        key = (channel, group)
        g = self.groups.get(key)
        if g is None:
            assert self.topology is not None
            plan = self.topology.channels[channel]
            g = _Group(channel, group, f"{self.topology.prefix}.{channel}.{group or 'q'}", self.topic(channel),
                       self.parts[channel], share=plan.kind != "log")
            self.groups[key] = g
        return g

    # ------------------------------------------------------------------ publishing

    def partition_of(self, channel: str, msg: Message) -> int:
        """The partition evtool's partitioner (Kafka's murmur2) picks for a keyed message; 0 for no key."""
        n = self.parts.get(channel, 1)
        return partition_for_key(str(msg.key), n) if msg.key is not None else 0

    def publish_now(self, channel: str, msg: Message) -> asyncio.Future[bool] | None:
        """Queue the record on the next batch of its partition without a task of its own (`BatchPublisher`);
        the future settles on the broker's answer for it (False when refused). None while a late group is
        being positioned or a `publish` waits: the caller then uses `publish`, which waits its turn."""
        if self._slow or self.batcher is None or not self.gate.enter_now():
            return None
        fut = self._answer(channel, self.batcher.enqueue(channel, msg))
        fut.add_done_callback(lambda _f: self.gate.leave())
        return fut

    async def publish(self, channel: str, msg: Message) -> bool:
        """Send the record (key = the message key) and wait for the broker's answer."""
        assert self.batcher is not None
        self._slow += 1
        try:
            async with self.gate.publishing():
                return await self._answer(channel, self.batcher.enqueue(channel, msg))
        finally:
            self._slow -= 1

    def _answer(self, channel: str, sent: asyncio.Future[bool]) -> asyncio.Future[bool]:
        """The record's answer as a bool: an error the broker returned is a problem and a refusal (False)."""
        def report(exc: BaseException | None) -> None:
            if self.sink is not None:
                self.sink.problem(f"produce to {self.topic(channel)}: {exc or 'cancelled'}")
        return answered(sent, report)

    def _stored(self, channel: str, msg: Message, partition: int, offset: int) -> None:
        """A record the broker stored: the partition's end moves; a keyed record's partition is checked against
        evtool's partitioner (the one the trace names)."""
        if offset + 1 > self.ends.get((channel, partition), 0):
            self.ends[(channel, partition)] = offset + 1
        if msg.key is not None and partition != self.partition_of(channel, msg) and self.sink is not None:
            self.sink.problem(f"{channel}: key {msg.key!r} went to partition {partition}, evtool's "
                              f"partitioner says {self.partition_of(channel, msg)}")

    # ------------------------------------------------------------------ consuming

    async def subscribe(self, spec: SubSpec) -> None:
        """Take over the member that joined before the run for this instance, or join the group now; then
        start its fetch loop."""
        assert self.topology is not None
        if spec.channel not in self.topology.channels:
            raise TransportError(f"unknown channel {spec.channel!r}")
        member = self.prejoined.pop((spec.channel, spec.group, spec.consumer, spec.instance), None)
        if member is not None:
            member.spec = spec
            g = member.group
            self.members[spec.sid] = member
            for p in sorted(member.owned):
                g.owner[p] = spec.sid
                self._fact("partition_assigned", g.channel, {"group": g.group, "partition": p}, member)
            if not any(k[:2] == (spec.channel, spec.group) for k in self.prejoined):
                # the generation formed before the run: every assignment is known now, nothing to wait for
                self._later(self._rebalanced(g, g.generation, "join", settle_s=0.0))
        else:
            plan = self.topology.channels[spec.channel]
            if spec.group in plan.late:
                await self._floor(spec.channel, spec.group)
            member = await self._join(spec)
            self.members[spec.sid] = member
            member.group.joining.add(spec.sid)
            await member.consumer.start()
        member.task = asyncio.get_running_loop().create_task(self._loop(member))
        if member.group.commit_mode == "periodic":
            member.committer = asyncio.get_running_loop().create_task(self._periodic(member))

    async def _floor(self, channel: str, group: str | None) -> None:
        """A late group starting from the latest record: its start is the end of each partition when it
        subscribes (after the publishes issued before, before any issued later), as a Kafka group with
        auto.offset.reset=latest that joined at once would have it. Tansu holds a join for about half the
        session timeout, so the group is positioned there explicitly when its partitions are assigned,
        instead of at the end of the log at that later moment."""
        key = (channel, group)
        fut = self._flooring.get(key)
        if fut is None:
            fut = self._flooring[key] = asyncio.get_running_loop().create_future()
            g = self._group(channel, group)

            async def mark() -> None:
                for p in range(g.partitions):
                    g.committed[p] = g.next_offset[p] = g.high[p] = self.ends.get((channel, p), 0)
                g.floored = True

            try:
                await self.gate.barrier(mark)
                fut.set_result(None)
            except BaseException as exc:
                fut.set_exception(exc)
                raise
        await asyncio.shield(fut)

    def busy(self) -> bool:
        """Records the broker will hand out again that the run cannot see waiting: a partition read past its
        last commit by a member that crashed or left (the next owner re-reads from the commit), or sought
        back; a rebalance still running (a member that joined and has no assignment yet) or not yet traced.
        The drain waits for them while the group has a live member."""
        if self.tasks:
            return True
        for g in self.groups.values():
            if not any(mb.alive and mb.group is g for mb in self.members.values()):
                continue
            if any(self.members[sid].alive for sid in g.joining if sid in self.members):
                return True
            for p in range(g.partitions):
                if g.next_offset[p] < g.high[p] and (p, g.next_offset[p]) not in g.held:
                    return True
        return False

    async def _join(self, spec: SubSpec) -> _Member:
        """A new member of the group of `spec` (its consumer is created, not started)."""
        from aiokafka import AIOKafkaConsumer
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor
        from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

        g = self._group(spec.channel, spec.group)
        cspec = self._consumer_spec(spec.consumer)
        if cspec is not None:
            if cspec.session_timeout is not None:
                g.session_ns = int(cspec.session_timeout)
            g.strategy = str(getattr(cspec, "assignment", None) or "range")
            commit = getattr(cspec, "commit", None)
            if commit is not None:
                g.commit_mode = commit.mode
                g.commit_interval_ns = int(commit.interval)
        if g.share:
            g.commit_mode = "per_message"
        g.reasons.append("join")
        session_ms = max(1000, g.session_ns // 1_000_000)
        # members learn of a rebalance on their next heartbeat: keep it short so rebalances take little time
        heartbeat_ms = max(100, min(session_ms // 3, 500))
        assignor = RangePartitionAssignor if g.strategy == "range" else RoundRobinPartitionAssignor
        member = _Member(spec, g)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=g.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", session_timeout_ms=session_ms, heartbeat_interval_ms=heartbeat_ms,
            rebalance_timeout_ms=max(session_ms, 5000), max_poll_records=spec.prefetch or 500,
            fetch_max_wait_ms=FETCH_WAIT_MS,
            partition_assignment_strategy=(assignor,), client_id=f"{spec.consumer}#{spec.instance}")
        consumer.subscribe([g.topic], listener=_Listener(self, member))
        member.consumer = consumer
        return member

    async def _prejoin(self) -> None:
        """Join every consumer instance that starts with the run before the run's clock starts.

        Kafka brokers delay a new group's first rebalance (Apache Kafka: group.initial.rebalance.delay.ms,
        3 s; Tansu behaves alike) and every rebalance waits for the members' next heartbeat. A deployed
        service's consumers are running before traffic arrives; joining them here keeps that start-up cost
        out of the run's latencies. The members' assignments are traced when the run takes them over.
        """
        assert self.scenario is not None and self.topology is not None
        fake_sid = itertools.count(-1, -1)
        for cname, c in self.scenario.consumers.items():
            if int(c.start or 0) > 0 or c.from_ not in self.topology.channels:
                continue
            plan = self.topology.channels[c.from_]
            if plan.kind == "router":
                continue
            group = None if plan.kind in ("queue", "grouped_queue") else (c.group or cname)
            prefetch = int(c.prefetch) if isinstance(c.prefetch, int) else 0
            for i in range(int(c.instances)):
                spec = SubSpec(next(fake_sid), c.from_, group, cname, i, prefetch)
                member = await self._join(spec)
                self.prejoined[(c.from_, group, cname, i)] = member
        if not self.prejoined:
            return
        await asyncio.gather(*(mb.consumer.start() for mb in self.prejoined.values()))
        # wait (bounded) until every member holds its share of the partitions of one generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PREJOIN_TIMEOUT_S
        while loop.time() < deadline:
            by_group: dict[tuple[str, str | None], list[_Member]] = {}
            for k, mb in self.prejoined.items():
                by_group.setdefault(k[:2], []).append(mb)
            if all(self._settled_group(self.groups[k], mbs) for k, mbs in by_group.items()):
                return
            await asyncio.sleep(0.05)
        raise TransportError(f"the consumer groups did not form within {PREJOIN_TIMEOUT_S:g} s")

    @staticmethod
    def _settled_group(g: _Group, members: list[_Member]) -> bool:
        """Every member has an assignment of the current generation, and every partition an owner."""
        owned = [p for mb in members for p in mb.owned]
        want = min(len(members), g.partitions)
        holders = sum(1 for mb in members if mb.owned)
        return holders >= want and sorted(owned) == list(range(g.partitions))

    async def _loop(self, member: _Member) -> None:
        sink = self.sink
        assert sink is not None
        pf = member.spec.prefetch
        g = member.group
        while member.alive:
            want = 500 if pf == 0 else pf - member.in_flight
            if want <= 0:
                member.credit.clear()
                await member.credit.wait()
                continue
            try:
                got = await member.consumer.getmany(timeout_ms=FETCH_MS, max_records=want)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported; the member tries again
                if member.alive:
                    sink.problem(f"fetch {g.topic}: {type(exc).__name__}: {exc}")
                await asyncio.sleep(0.1)
                continue
            for tp, records in got.items():
                p = tp.partition
                for rec in records:
                    if not member.alive:
                        return
                    if g.owner.get(p) != member.spec.sid:
                        # fetched before a revoke: the new owner reads it from the last commit
                        break
                    g.next_offset[p] = max(g.next_offset[p], rec.offset + 1)
                    g.high[p] = max(g.high[p], rec.offset + 1)
                    if rec.offset in g.processed[p] or (p, rec.offset) in g.held:
                        continue
                    self._deliver(member, p, rec.offset, rec.value)

    def _deliver(self, member: _Member, p: int, offset: int, value: bytes) -> None:
        g = member.group
        msg = decode_message(value)
        # every read of an offset counts: a re-read after a crash or rebalance is a redelivery (the group's
        # delivery count for share groups; a log has no counter, so the broker-facing count stays 0)
        times = g.counts.get((p, offset), 0) + 1
        g.counts[(p, offset)] = times
        count = times if g.share else 0
        member.in_flight += 1
        g.in_flight += 1
        assert self.sink is not None
        self.sink.deliver(member.spec.sid, msg, count, times > 1,
                          (member, p, offset, g.pgen[p], value, count))

    def _settled(self, member: _Member) -> None:
        member.in_flight -= 1
        member.group.in_flight -= 1
        member.credit.set()

    def ack_now(self, handle: Any) -> bool:
        """`ack` without a task of its own: the commit it asks for runs in the group's one flush task (which
        `busy` waits for)."""
        member, p, offset, gen, _value, _count = handle
        self._settled(member)
        g = member.group
        if gen != g.pgen[p]:
            return True         # revoked meanwhile: the new owner re-reads it from the last commit
        g.processed[p].add(offset)
        if g.commit_mode != "periodic":
            self._commit_later(g, p)
        return True

    async def ack(self, handle: Any) -> None:
        """Mark the record processed; commit the watermark now (per message, with the other acks of this loop
        iteration: one OffsetCommit for all of them) or at the next period."""
        self.ack_now(handle)
        flushing = handle[0].group.flushing
        if flushing is not None:
            await asyncio.shield(flushing)

    def _commit_later(self, g: _Group, p: int) -> None:
        """Mark partition `p` for the group's next commit, starting its flush task if none is queued."""
        g.dirty.add(p)
        if g.flushing is None:
            g.flushing = asyncio.get_running_loop().create_future()

            async def flush() -> None:
                await asyncio.sleep(0)
                fut, g.flushing = g.flushing, None
                parts, g.dirty = sorted(g.dirty), set()
                try:
                    await self._commit(g, parts)
                finally:
                    if fut is not None and not fut.done():
                        fut.set_result(None)

            self._later(flush())

    async def _commit(self, g: _Group, partitions: list[int]) -> None:
        from aiokafka.structs import TopicPartition

        by_member: dict[int, dict[Any, int]] = {}
        for p in partitions:
            wm = g.watermark(p)
            if wm <= g.committed[p]:
                continue
            sid = g.owner.get(p)
            if sid is None or sid not in self.members or not self.members[sid].alive:
                continue
            by_member.setdefault(sid, {})[TopicPartition(g.topic, p)] = wm
        for sid, offs in by_member.items():
            try:
                await self.members[sid].consumer.commit(offs)
            except Exception:  # noqa: BLE001 - a commit during a rebalance fails; the records are read again
                continue
            for tp, wm in offs.items():
                g.committed[tp.partition] = max(g.committed[tp.partition], wm)
                g.processed[tp.partition] = {o for o in g.processed[tp.partition] if o >= wm}
                if self.sink is not None and hasattr(self.sink, "fact"):
                    member = self.members[sid]
                    self.sink.fact("committed", g.channel, {"group": g.group, "partition": tp.partition,
                                                            "offset": wm}, member.spec.consumer,
                                   member.spec.instance)

    async def _periodic(self, member: _Member) -> None:
        g = member.group
        while member.alive:
            await asyncio.sleep(g.commit_interval_ns / NS)
            if member.alive:
                await self._commit(g, sorted(member.owned))

    async def nack(self, handle: Any, delay_ns: int) -> None:
        """Log: seek the partition back to the record after the delay. Queue (share-group emulation): hand
        the record back after the delay with its count + 1, or apply at_limit at the delivery limit."""
        member, p, offset, gen, value, count = handle
        self._settled(member)
        g = member.group
        if delay_ns > 0:
            g.held.add((p, offset))
            try:
                await asyncio.sleep(delay_ns / NS)
            finally:
                g.held.discard((p, offset))
        if gen != g.pgen[p] or not member.alive:
            return              # revoked or crashed meanwhile: the next owner re-reads it
        if not g.share:
            from aiokafka.structs import TopicPartition

            g.processed[p] = {o for o in g.processed[p] if o < offset}
            g.next_offset[p] = min(g.next_offset[p], offset)
            member.consumer.seek(TopicPartition(g.topic, p), offset)
            return
        assert self.topology is not None
        plan = self.topology.channels[g.channel]
        if plan.max_deliveries is not None and count >= plan.max_deliveries:
            await self._dead(g, p, offset, value, "max_deliveries", count,
                             plan.dead_letter if self.at_limit == "dead_letter" else None)
            return
        self._deliver(member, p, offset, value)

    async def reject(self, handle: Any) -> None:
        """Skip the record: dead-letter a copy where the channel has a target, else drop it."""
        member, p, offset, gen, value, count = handle
        self._settled(member)
        g = member.group
        assert self.topology is not None
        target = self.topology.channels[g.channel].dead_letter if g.share else None
        await self._dead(g, p, offset, value, "rejected", count, target)

    async def _dead(self, g: _Group, p: int, offset: int, value: bytes, reason: str, count: int,
                    target: str | None) -> None:
        assert self.sink is not None and self.topology is not None
        msg = decode_message(value)
        if target is not None and target in self.topology.channels:
            copy = msg.copy(deaths=(DeathRecord(g.channel, reason, max(count, 1), 0, 0, msg.key), *msg.deaths))
            await self.publish(target, copy)
            self.sink.dead(g.channel, g.group, copy, reason, target, max(count, 1))
        else:
            self.sink.dead(g.channel, g.group, msg, reason, None, max(count, 1))
        g.processed[p].add(offset)
        await self._commit(g, [p])

    async def unsubscribe(self, sid: int, reason: str) -> None:
        """Leave the group (LeaveGroup: the group rebalances at once), or on a crash stop without leaving
        (the broker evicts the member after its session timeout)."""
        member = self.members.get(sid)
        if member is None or not member.alive:
            return
        member.alive = False
        member.credit.set()
        g = member.group
        g.reasons.append("session_timeout" if reason == "crash" else "leave")
        self.dead_sids.add(sid)
        for t in (member.task, member.committer):
            if t is not None:
                t.cancel()
        consumer = member.consumer
        if reason == "crash":
            async def _no_leave() -> None:
                # a crashed process sends no LeaveGroup: only its missing heartbeats tell the coordinator
                consumer._coordinator.reset_generation()

            consumer._coordinator._maybe_leave_group = _no_leave
        else:
            self._revoke(member, sorted(member.owned))
        try:
            await asyncio.wait_for(consumer.stop(), timeout=STOP_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - reported; the group still rebalances
            if self.sink is not None:
                self.sink.problem(f"stopping {member.spec.consumer}#{member.spec.instance}: {exc}")

    # ------------------------------------------------------------------ rebalances

    def _revoke(self, member: _Member, partitions: list[int]) -> None:
        g = member.group
        for p in partitions:
            member.owned.discard(p)
            if g.owner.get(p) != member.spec.sid:
                continue
            del g.owner[p]
            g.pgen[p] += 1
            # the next owner starts from the last commit: processed-but-uncommitted records come again
            g.processed[p] = set()
            g.next_offset[p] = g.committed[p]
            self._fact("partition_revoked", g.channel, {"group": g.group, "partition": p}, member)

    def revoked(self, member: _Member, partitions: list[int]) -> None:
        """The rebalance listener: `member` gave up `partitions`."""
        self._revoke(member, partitions)

    def assigned(self, member: _Member, partitions: list[int], generation: int) -> None:
        """The rebalance listener: `member` got `partitions` in `generation`."""
        g = member.group
        if not member.alive:
            return
        g.joining.discard(member.spec.sid)
        for p in partitions:
            prev = g.owner.get(p)
            if prev is not None and prev != member.spec.sid and prev in self.dead_sids:
                # the coordinator evicted a crashed member: its partitions were revoked with it
                self._revoke(self.members[prev], [p])
            elif prev is not None and prev != member.spec.sid and self.sink is not None:
                self.sink.problem(f"{g.group_id}: partition {p} assigned to {member.spec.consumer}"
                                  f"#{member.spec.instance} while a live member holds it")
            g.owner[p] = member.spec.sid
            member.owned.add(p)
            if g.floored:
                from aiokafka.structs import TopicPartition

                # a late group's start (see _floor), or the commit made since (the same offset the broker has)
                member.consumer.seek(TopicPartition(g.topic, p), g.committed[p])
            if g.share:
                g.next_offset[p] = max(g.next_offset[p], g.committed[p])
            self._fact("partition_assigned", g.channel, {"group": g.group, "partition": p}, member)
        if generation > g.generation and member.spec.sid < 0:
            g.generation = generation     # formed before the run: traced when the run takes the members over
            g.reasons.clear()
        elif generation > g.generation:
            # one generation may answer several membership changes (a member that joins while the group is
            # rebalancing joins the same generation): the first one started it
            g.generation = generation
            reason = g.reasons[0] if g.reasons else "join"
            g.reasons.clear()
            self._later(self._rebalanced(g, generation, reason))

    async def _rebalanced(self, g: _Group, generation: int, reason: str,
                          settle_s: float = REBALANCE_SETTLE_S) -> None:
        await asyncio.sleep(settle_s)
        if g.share or self.sink is None or not hasattr(self.sink, "fact"):
            return
        assignment = {f"{self.members[sid].spec.consumer}#{self.members[sid].spec.instance}": sorted(
            p for p, o in g.owner.items() if o == sid)
            for sid in sorted(set(g.owner.values())) if sid in self.members}
        self.sink.fact("rebalanced", g.channel, {"group": g.group, "reason": reason, "strategy": g.strategy,
                                                 "generation": generation, "assignment": assignment})

    def _fact(self, kind: str, channel: str, data: dict[str, Any], member: _Member) -> None:
        """Trace `kind` for `member` (not before the run has taken the member over)."""
        if member.group.share:
            return      # a share group has no partitions to speak of (the core's queues have none)
        if member.spec.sid >= 0 and self.sink is not None and hasattr(self.sink, "fact"):
            self.sink.fact(kind, channel, data, member.spec.consumer, member.spec.instance)

    def _later(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ------------------------------------------------------------------ cleanup

    async def stop_consumers(self) -> None:
        """Every member leaves its group (all at once: one by one, each leave would start a rebalance that
        the next one waits for)."""
        await asyncio.gather(*(self.unsubscribe(sid, "leave") for sid in list(self.members)))
        for t in list(self.tasks):
            t.cancel()

    async def cleanup(self) -> None:
        """Stop consuming and delete every topic declared (with the run's groups' offsets)."""
        await self.stop_consumers()
        if self.admin is not None and self.topics:
            try:
                await self.admin.delete_topics(self.topics)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                if self.sink is not None:
                    self.sink.problem(f"delete topics: {exc}")


class _Listener:
    """aiokafka's ConsumerRebalanceListener for one member (duck-typed; aiokafka checks the base class)."""

    def __new__(cls, transport: KafkaTransport, member: _Member) -> Any:
        from aiokafka import ConsumerRebalanceListener

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: Any) -> None:
                transport.revoked(member, sorted(tp.partition for tp in revoked))

            async def on_partitions_assigned(self, assigned: Any) -> None:
                gen = member.consumer._coordinator.generation if member.consumer is not None else 0
                transport.assigned(member, sorted(tp.partition for tp in assigned), gen)

        return Listener()
