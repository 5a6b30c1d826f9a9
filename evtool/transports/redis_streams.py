"""Redis Streams (redis-py asyncio): streams, consumer groups, pending entries and a claimer.

Mapping (docs/transports.md has the full table):

* ``queue`` -> stream ``<prefix>:<channel>`` with one consumer group ``q``; every instance reads as its own
  consumer (``XREADGROUP ... >``, COUNT = its free prefetch credit);
* ``topic`` and ``log`` -> one stream with a consumer group per scenario consumer group;
* routers: Redis has no exchanges; the runtime routes on the client with the core's routing table;
* acks are ``XACK``: the entry leaves the group's pending entries list (PEL) and stays in the stream;
* Redis never redelivers by itself. For a channel with an ``ack_timeout`` (the application's min-idle-time)
  evtool runs a claimer per group: every so often it lists pending entries idle for at least that long with
  ``XPENDING ... IDLE`` and claims them with ``XCLAIM`` for a live consumer, which increments their delivery
  count. Without one, a crashed consumer's entries stay pending, as in the redis-streams profile;
* a nack is an ``XCLAIM`` by the same consumer after the retry delay (a re-read of its own pending entry,
  counted); a reject, or a claim that would pass ``max_deliveries``, applies the documented dead-letter
  recipe: ``XADD`` to the dead-letter stream, then ``XACK`` (without a target the entry is just acked: dropped).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from evtool.core.message import DeathRecord, Message
from evtool.transports.base import (
    ChannelPlan,
    CreditLoop,
    PublishGate,
    PublishWindow,
    SubSpec,
    Topology,
    TransportError,
    TransportSink,
    TransportUnavailable,
    decode_message,
    encode_message,
    redact_url,
)

BLOCK_MS = 50
UNLIMITED_BATCH = 256
PUBLISH_WINDOW = 4000
QUEUE_GROUP = "q"


class _Reader(CreditLoop):
    """One instance's read loop."""

    __slots__ = ("consumer", "key", "group", "history")

    def __init__(self, spec: SubSpec, consumer: str, key: str, group: str, history: bool = False) -> None:
        super().__init__(spec)
        self.consumer = consumer
        self.key = key
        self.group = group
        self.history = history          # re-read its own pending entries (XREADGROUP 0) before reading >


def _id(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id as a comparable (milliseconds, sequence)."""
    ms, _, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).partition("-")
    return int(ms), int(seq or 0)


class _Batcher:
    """Coalesces the XADDs and XACKs made in one loop iteration into one pipelined round trip.

    Each caller still awaits its own reply; only the socket writes are shared (the cost the profile shows
    is one send() per command).
    """

    def __init__(self, r: Any, on_trim_state: Any = None) -> None:
        self.r = r
        # called as on_trim_state(key, [(entry id, note) of this batch's adds to key], first entry id left or
        # None, {group: last-delivered-id}) for each capped stream the batch added to, before any XADD's
        # future gets its answer (see RedisTransport._trim_state)
        self.on_trim_state = on_trim_state
        self.adds: list[tuple[str, dict[bytes, bytes], int | None, asyncio.Future[Any], Any]] = []
        self.acks: dict[tuple[str, str], list[bytes]] = {}
        self.ack_waiters: list[asyncio.Future[Any]] = []
        self.pending = False

    def _schedule(self) -> None:
        if not self.pending:
            self.pending = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._flush()))

    def xadd(self, key: str, fields: dict[bytes, bytes], maxlen: int | None, note: Any = None) -> asyncio.Future[Any]:
        """Queue an XADD; the future gets the entry id (`note` goes to `on_trim_state` with it)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.adds.append((key, fields, maxlen, fut, note))
        self._schedule()
        return fut

    def xack(self, key: str, group: str, entry_id: bytes) -> asyncio.Future[Any]:
        """Queue an XACK (acks of one group go out as one command)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks.setdefault((key, group), []).append(entry_id)
        self.ack_waiters.append(fut)
        self._schedule()
        return fut

    async def _flush(self) -> None:
        self.pending = False
        adds, self.adds = self.adds, []
        acks, self.acks = self.acks, {}
        waiters, self.ack_waiters = self.ack_waiters, []
        try:
            pipe = self.r.pipeline(transaction=False)
            for key, fields, maxlen, _f, _n in adds:
                # exact trimming (XADD's default): the stream keeps the channel's capacity, no more; `~` would
                # keep up to a whole macro node (100 entries) over it, so a small capacity would never trim
                pipe.xadd(key, fields, maxlen=maxlen, approximate=False)
            for (key, group), ids in acks.items():
                pipe.xack(key, group, *ids)
            # what the trims left, read right after them on the same connection: the stream's first entry and
            # each group's last-delivered-id (an entry trimmed above a group's cursor was never read by it)
            capped = [] if self.on_trim_state is None else list(
                dict.fromkeys(key for key, _fl, maxlen, _f, _n in adds if maxlen is not None))
            for key in capped:
                pipe.xrange(key, min="-", max="+", count=1)
                pipe.xinfo_groups(key)
            replies = await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - every waiter gets the error
            for f in [*(a[3] for a in adds), *waiters]:
                if not f.done():
                    f.set_exception(exc)
            return
        if capped:
            # before the answers: an entry this batch added and trimmed at once is dropped while its publish is
            # still pending, so the run never counts it ready (nor the stream over its capacity)
            states = replies[len(replies) - 2 * len(capped):]
            for i, key in enumerate(capped):
                first, groups = states[2 * i], states[2 * i + 1]
                added = [(reply, a[4]) for a, reply in zip(adds, replies, strict=False) if a[0] == key and reply]
                self.on_trim_state(key, added, first[0][0] if first else None,
                                   {g["name"]: g["last-delivered-id"] for g in groups})
        for (_k, _fl, _m, f, _n), reply in zip(adds, replies, strict=False):
            if not f.done():
                f.set_result(reply)
        for f in waiters:
            if not f.done():
                f.set_result(True)


class RedisTransport:
    """The Redis Streams adapter (see the module docstring)."""

    name = "redis"
    routes_on_broker = False
    returns_on_close = False     # a crashed consumer's entries stay pending until claimed
    leases_on_broker = True      # the claimer's XCLAIM after ack_timeout idle takes an entry from its holder

    def __init__(self, url: str) -> None:
        self.url = url
        self.r: Any = None
        self.sink: TransportSink | None = None
        self.topology: Topology | None = None
        self.keys: list[str] = []
        self.readers: dict[int, _Reader] = {}
        self.claimers: list[asyncio.Task[None]] = []
        self.delayed: set[tuple[str, str, bytes]] = set()
        self.kept_entries: set[tuple[str, str, bytes]] = set()
        # per capped stream key and group: the entries this run added that the group has not read yet, in id
        # order (entry id -> channel, message); see `_trim_state`
        self.capped: dict[str, dict[bytes, dict[bytes, tuple[str, Message]]]] = {}
        # per capped stream key: the newest first entry and last-delivered-id of each group `_trim_state` saw
        # (entries of this run up to a group's were reported handed out)
        self.trim_seen: dict[str, tuple[tuple[int, int], dict[bytes, tuple[int, int]]]] = {}
        self.server_version = ""
        self._window = PublishWindow(PUBLISH_WINDOW)
        self._slow = 0                 # publish() calls under way (see publish)
        self.unanswered = 0          # see busy()
        self.answered_at = 0.0       # loop time of the last XADD answer queued by publish_now
        self._rr = itertools.count()
        self.batch: Any = None
        self.gate = PublishGate()
        self.groups: set[tuple[str, str | None]] = set()
        self._creating: dict[tuple[str, str], asyncio.Future[None]] = {}
        # consumer names of instances whose connection was closed (channel_closed: a broker restart), by
        # (consumer, instance, channel, group): the instance reconnects under the same name (see subscribe)
        self._closed: dict[tuple[str, int, str, str | None], str] = {}

    @staticmethod
    def silent_removal(plan: ChannelPlan) -> str | None:
        """How this stream removes entries without telling any client (None: it does not)."""
        if plan.capacity is not None:
            return "XADD MAXLEN trims the oldest entries, unread ones included, without telling anyone"
        return None

    # ------------------------------------------------------------------ names

    def key(self, channel: str) -> str:
        """The stream key of a scenario channel."""
        assert self.topology is not None
        return f"{self.topology.prefix}:{channel}"

    @staticmethod
    def group_name(group: str | None) -> str:
        """The consumer group name of a subscription (``q`` for a queue's competing consumers)."""
        return QUEUE_GROUP if group is None else f"g:{group}"

    # ------------------------------------------------------------------ connection

    async def connect(self) -> None:
        """Connect and ping (bounded); TransportUnavailable says where and how to start Redis."""
        import redis.asyncio as aredis

        self.r = aredis.from_url(self.url, socket_connect_timeout=3)
        try:
            info = await asyncio.wait_for(self.r.info("server"), timeout=5)
        except Exception as exc:  # noqa: BLE001 - redis-py raises several unrelated types here
            await self.r.aclose()
            raise TransportUnavailable(f"cannot reach Redis at {redact_url(self.url)}: {exc}") from exc
        self.server_version = str(info.get("redis_version", ""))
        self.batch = _Batcher(self.r, self._trim_state)

    async def close(self) -> None:
        """Close the connection pool."""
        if self.r is not None:
            await self.r.aclose()
        self.r = None

    # ------------------------------------------------------------------ topology

    async def declare(self, topology: Topology, sink: TransportSink) -> None:
        """Create each stream and its consumer groups (XGROUP CREATE ... MKSTREAM)."""
        self.topology = topology
        self.sink = sink
        for plan in topology.channels.values():
            if plan.kind == "router":
                continue
            key = self.key(plan.name)
            self.keys.append(key)
            for group in plan.subscriptions():
                if group in plan.late:
                    continue            # created at ``$`` when its first instance subscribes
                await self._create_group(plan.name, group, "0")

    async def _create_group(self, channel: str, group: str | None, start: str) -> None:
        """XGROUP CREATE ... MKSTREAM at `start` (``0`` = every entry, ``$`` = only new ones), and the group's
        claimer (not for a queue nobody consumes)."""
        assert self.topology is not None
        plan = self.topology.channels[channel]
        try:
            await self.r.xgroup_create(self.key(channel), self.group_name(group), id=start, mkstream=True)
        except Exception as exc:  # noqa: BLE001 - declaring again (a kept run) is fine
            if "BUSYGROUP" not in str(exc):
                raise
        self.groups.add((channel, group))
        if not plan.groups and plan.kind in ("queue", "grouped_queue"):
            return
        if plan.ack_timeout_ns is None:
            # Redis never redelivers by itself: without an ack_timeout (the application's min-idle-time for
            # XAUTOCLAIM) a crashed consumer's entries stay pending, as in the redis-streams profile
            # (crash_return never); a claimer with an invented idle time would make the run differ from the core
            return
        task = asyncio.get_running_loop().create_task(self._claimer(channel, group, plan.ack_timeout_ns))
        self.claimers.append(task)

    async def _late_group(self, channel: str, group: str) -> None:
        """Create a late group at ``$`` after the XADDs issued before its subscribe and before any issued
        later (once, however many instances subscribe)."""
        key = (channel, group)
        fut = self._creating.get(key)
        if fut is None:
            fut = self._creating[key] = asyncio.get_running_loop().create_future()
            try:
                await self.gate.barrier(lambda: self._create_group(channel, group, "$"))
                fut.set_result(None)
            except BaseException as exc:
                fut.set_exception(exc)
                raise
        await asyncio.shield(fut)

    # ------------------------------------------------------------------ publishing

    def publish_now(self, channel: str, msg: Message) -> bool | asyncio.Future[Any]:
        """Queue the XADD on the next pipeline without a task of its own (Redis never refuses an XADD, so there
        is no answer to wait for but an error, reported as a problem): True, or for a capped stream the XADD's
        future (its entry is ready once answered); False while a late group is being created (the caller then
        publishes through `publish`, which waits for it)."""
        assert self.topology is not None
        if self._slow or not self.gate.enter_now():
            return False
        capacity = self.topology.channels[channel].capacity
        fut = self.batch.xadd(self.key(channel), {b"m": encode_message(msg)}, capacity,
                              None if capacity is None else (channel, msg))
        self.unanswered += 1
        fut.add_done_callback(self._added)
        # a capped stream's entry counts once the XADD is answered, after what its trims took (`_trim_state`)
        return True if capacity is None else fut

    def _trim_state(self, key: str, added: list[tuple[bytes, tuple[str, Message]]], first: bytes | None,
                    cursors: dict[bytes, bytes]) -> None:
        """What XADD MAXLEN left of `key`: its first entry and each group's last-delivered-id, read on the
        publishing connection right after the trims.

        An entry of this run at or below a group's last-delivered-id has been read by it: "A message is
        pending, and as such stored inside the PEL, when it was delivered to some consumer, normally as a side
        effect of calling XREADGROUP" (https://redis.io/commands/xack/). It is no longer unread, so it is
        reported handed out now (the runtime counts it in flight, not ready), even while the XREADGROUP answer
        is still on its way to the client; before, it counted ready until its delivery arrived, and the depth
        could read the capacity plus one.

        An entry of this run older than the first one left was trimmed. A group whose cursor is below it never
        read it, and never will ("Redis enforces this by removing the oldest entries", and a group reads only
        entries still in the stream: https://redis.io/docs/latest/commands/xtrim/, /xreadgroup/): for that
        group it is lost, recorded ``dropped`` (reason overflow, ``data.observed: trimmed``) now, where the core
        under redis-streams drops it. (A trimmed entry a group has read but not acked stays in its PEL: its
        XACK still settles it; tests/core/test_truth_live.py.)

        Two pipelines may be answered out of order (a busy client): the state is merged with the newest seen
        (the first entry and each cursor only move forward), and each group's unread entries are kept in id
        order. Each group keeps only the entries it has not read, so the work per batch is what changed."""
        if self.sink is None or self.topology is None:
            return
        groups: dict[bytes, str | None] = {}
        for channel, group in self.groups:
            if self.key(channel) == key:
                groups[self.group_name(group).encode()] = group
        per_group = self.capped.setdefault(key, {})
        oldest, marks = self.trim_seen.get(key, ((0, 0), {}))
        if first is not None:
            oldest = max(oldest, _id(first))
        marks = {**marks, **{name: max(_id(c), marks.get(name, (0, 0)))
                             for name, c in cursors.items() if name in groups}}
        self.trim_seen[key] = (oldest, marks)
        if first is None:
            oldest = (2**63, 0)            # an empty stream: every entry of this run is gone
        for name in cursors:               # XINFO GROUPS's order (by name): the trace's order does not vary
            if name not in groups:
                continue
            group = groups[name]
            unread = per_group.get(name)
            if unread is None:
                unread = per_group[name] = {}
            last = next(reversed(unread), None)
            for eid, note in added:
                unread[eid] = note
            if added and last is not None and _id(added[0][0]) < _id(last):
                unread = per_group[name] = dict(sorted(unread.items(), key=lambda kv: _id(kv[0])))
            cursor = marks.get(name, (0, 0))
            for eid in list(unread):
                n = _id(eid)
                if n <= cursor:
                    # read by the group: in its PEL, though the XREADGROUP answer may still be on its way
                    channel, msg = unread.pop(eid)
                    self.sink.handed_out(channel, group, msg)
                elif n < oldest:
                    channel, msg = unread.pop(eid)
                    self.sink.dead(channel, group, msg, "overflow", None, 1, observed="trimmed")
                else:
                    break                  # id order: every later entry is newer, and unread

    def _added(self, fut: asyncio.Future[Any]) -> None:
        self.unanswered -= 1
        self.answered_at = asyncio.get_running_loop().time()   # a read begun later sees the entry (read_empty)
        self.gate.leave()
        if not fut.cancelled() and fut.exception() is not None and self.sink is not None:
            self.sink.problem(f"XADD: {fut.exception()}")

    async def publish(self, channel: str, msg: Message) -> bool:
        """Publish through the gate and the window and await the answer (see `_publish`); while one is under
        way `publish_now` declines, so that a later publish cannot overtake it."""
        self._slow += 1
        try:
            return await self._publish(channel, msg)
        finally:
            self._slow -= 1

    async def _publish(self, channel: str, msg: Message) -> bool:
        """XADD (with MAXLEN when the channel has a capacity)."""
        assert self.topology is not None
        plan = self.topology.channels[channel]
        async with self.gate.publishing(), self._window:
            await self.batch.xadd(self.key(channel), {b"m": encode_message(msg)}, plan.capacity,
                                   None if plan.capacity is None else (channel, msg))
        return True

    # ------------------------------------------------------------------ consuming

    async def subscribe(self, spec: SubSpec) -> None:
        """Start the instance's XREADGROUP loop as consumer ``<consumer>#<instance>.<sid>``."""
        assert self.topology is not None
        if spec.channel not in self.topology.channels:
            raise TransportError(f"unknown channel {spec.channel!r}")
        if spec.group is not None and (spec.channel, spec.group) not in self.groups:
            await self._late_group(spec.channel, spec.group)
        # An instance that reconnects after its connection was closed takes up its old consumer name and
        # first re-reads its own pending entries: "Use > to read messages never delivered to any other
        # consumer, or a specific ID to read from this consumer's pending list"
        # (https://redis.io/docs/latest/commands/XREADGROUP/), how a consumer resumes after a restart. The
        # core returns a closed channel's unacked messages at once.
        old = self._closed.pop((spec.consumer, spec.instance, spec.channel, spec.group), None)
        reader = _Reader(spec, old or f"{spec.consumer}#{spec.instance}.{spec.sid}", self.key(spec.channel),
                         self.group_name(spec.group), history=old is not None)
        self.readers[spec.sid] = reader
        reader.task = asyncio.get_running_loop().create_task(self._loop(reader))

    async def _loop(self, reader: _Reader) -> None:
        sink = self.sink
        assert sink is not None
        pf = reader.spec.prefetch
        if reader.history:
            await self._reread_pending(reader)
        while reader.alive:
            want = UNLIMITED_BATCH if pf == 0 else pf - reader.in_flight
            if want <= 0:
                reader.credit.clear()
                await reader.credit.wait()
                continue
            started = asyncio.get_running_loop().time()
            try:
                got = await self.r.xreadgroup(reader.group, reader.consumer, {reader.key: ">"}, count=want,
                                              block=BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a closed connection ends the loop
                if reader.alive:
                    sink.problem(f"XREADGROUP on {reader.key}: {exc}")
                return
            if not any(entries for _key, entries in got or []):
                empty = getattr(sink, "read_empty", None)
                if empty is not None and reader.alive:
                    empty(reader.spec.sid, started)
                continue
            for _key, entries in got or []:
                for entry_id, fields in entries:
                    if not reader.alive:
                        return          # stays pending: the claimer gives it to someone else later
                    self._deliver(reader, entry_id, fields, 1)

    async def _reread_pending(self, reader: _Reader) -> None:
        """XREADGROUP 0: the entries still pending for this consumer name, each a counted redelivery (the
        read increments the entry's delivery count, checked on Redis 7.0)."""
        try:
            pend = await self.r.xpending_range(reader.key, reader.group, "-", "+", 100_000,
                                               consumername=reader.consumer)
            if not pend:
                return
            counts = {p["message_id"]: int(p["times_delivered"]) for p in pend}
            got = await self.r.xreadgroup(reader.group, reader.consumer, {reader.key: "0"}, count=len(counts))
        except Exception as exc:  # noqa: BLE001 - reported, then the loop reads new entries
            if reader.alive and self.sink is not None:
                self.sink.problem(f"XREADGROUP 0 on {reader.key}: {exc}")
            return
        for _key, entries in got or []:
            for entry_id, fields in entries:
                if reader.alive:
                    self._deliver(reader, entry_id, fields, counts.get(entry_id, 1) + 1)

    def _deliver(self, reader: _Reader, entry_id: bytes, fields: dict[bytes, bytes] | None, count: int) -> None:
        if not fields or b"m" not in fields:
            return                      # the entry was trimmed or deleted: nothing to deliver
        reader.in_flight += 1
        assert self.sink is not None
        self.sink.deliver(reader.spec.sid, decode_message(fields[b"m"]), count, count > 1, (reader, entry_id, count))

    async def unsubscribe(self, sid: int, reason: str) -> None:
        """Stop reading; the consumer's pending entries stay in the PEL until the claimer takes them."""
        reader = self.readers.pop(sid, None)
        if reader is None:
            return
        if reason == "channel_closed":
            spec = reader.spec
            self._closed[(spec.consumer, spec.instance, spec.channel, spec.group)] = reader.consumer
        reader.stop()

    @staticmethod
    def copy_id(handle: Any) -> bytes:
        """The stream entry id (one stored copy)."""
        return bytes(handle[1])

    @staticmethod
    def forget(handle: Any) -> None:
        """The claimer gave the entry to a consumer again (its min-idle-time passed): the old delivery's
        credit comes back, nothing is XACKed for it."""
        handle[0].settled()

    def ack_now(self, handle: Any) -> bool:
        """Queue the XACK on the next pipeline (no task per ack); a failure is reported as a problem."""
        reader, entry_id, _count = handle
        reader.settled()
        self.unanswered += 1
        self.batch.xack(reader.key, reader.group, entry_id).add_done_callback(self._acked)
        return True

    def busy(self) -> bool:
        """Commands queued without a task (`ack_now`, `publish_now`) and not yet answered: the drain waits."""
        return self.unanswered > 0

    def _acked(self, fut: asyncio.Future[Any]) -> None:
        self.unanswered -= 1
        if not fut.cancelled() and fut.exception() is not None and self.sink is not None:
            self.sink.problem(f"XACK: {fut.exception()}")

    async def ack(self, handle: Any) -> None:
        """XACK."""
        reader, entry_id, _count = handle
        reader.settled()
        await self.batch.xack(reader.key, reader.group, entry_id)

    async def nack(self, handle: Any, delay_ns: int) -> None:
        """After the delay, XCLAIM the entry back to the same consumer (counted), or dead-letter at the limit."""
        reader, entry_id, count = handle
        mark = (reader.key, reader.group, entry_id)
        self.delayed.add(mark)
        try:
            if delay_ns > 0:
                reader.settled()
                await asyncio.sleep(delay_ns / 1e9)
                await self._redeliver(reader, entry_id, count)
            else:
                # re-read your own pending entry first (XREADGROUP 0 before >,
                # https://redis.io/docs/latest/commands/xreadgroup/): the credit is given back only after the
                # claim, so the reader cannot take a newer entry in between
                reader.in_flight -= 1
                try:
                    await self._redeliver(reader, entry_id, count)
                finally:
                    reader.credit.set()
        finally:
            self.delayed.discard(mark)

    async def _redeliver(self, reader: _Reader, entry_id: bytes, count: int) -> None:
        assert self.topology is not None
        plan = self.topology.channels[reader.spec.channel]
        if plan.max_deliveries is not None and count >= plan.max_deliveries:
            await self._at_limit(reader.spec.channel, reader.spec.group, reader.key, reader.group, entry_id, count)
            return
        claimed = await self.r.xclaim(reader.key, reader.group, reader.consumer, 0, [entry_id])
        for cid, fields in claimed:
            if reader.alive:
                self._deliver(reader, cid, fields, count + 1)

    async def reject(self, handle: Any) -> None:
        """Redis has no reject: under a profile whose reject_action is stays_pending (redis-streams) the
        entry is simply not XACKed and stays in the PEL until the claimer takes it after the channel's
        ack_timeout (https://redis.io/docs/latest/commands/xclaim/); otherwise the dead-letter recipe:
        XADD to the dead-letter stream (if any), then XACK."""
        reader, entry_id, count = handle
        reader.settled()
        assert self.topology is not None
        if self.topology.channels[reader.spec.channel].reject_action == "stays_pending":
            return
        await self._dead(reader.spec.channel, reader.spec.group, reader.key, reader.group, entry_id, "rejected",
                         count)

    async def _at_limit(self, channel: str, group: str | None, key: str, gname: str, entry_id: bytes,
                        count: int) -> None:
        """The delivery limit, as the profile's ``at_limit`` says (Redis has no limit: evtool's recipe)."""
        assert self.topology is not None and self.sink is not None
        plan = self.topology.channels[channel]
        if plan.at_limit == "keep_with_advisory":
            # left pending and never claimed again: what the core's keep_with_advisory does
            self.kept_entries.add((key, gname, entry_id))
            rows = await self.r.xrange(key, min=entry_id, max=entry_id)
            if rows and b"m" in rows[0][1]:
                self.sink.kept(channel, group, decode_message(rows[0][1][b"m"]), count)
            return
        await self._dead(channel, group, key, gname, entry_id, "max_deliveries", count,
                         drop=plan.at_limit == "drop")

    async def _dead(self, channel: str, group: str | None, key: str, gname: str, entry_id: bytes, reason: str,
                    count: int, drop: bool = False) -> None:
        assert self.topology is not None and self.sink is not None
        rows = await self.r.xrange(key, min=entry_id, max=entry_id)
        target = None if drop else self.topology.channels[channel].dead_letter
        if not rows or b"m" not in rows[0][1]:
            await self.r.xack(key, gname, entry_id)
            return
        msg = decode_message(rows[0][1][b"m"])
        if target is not None and target in self.topology.channels:
            copy = msg.copy(deaths=(DeathRecord(channel, reason, 1, 0, 0, msg.key), *msg.deaths), dedup_id=None)
            await self.publish(target, copy)
            await self.r.xack(key, gname, entry_id)
            self.sink.dead(channel, group, copy, reason, target, 1)
        else:
            await self.r.xack(key, gname, entry_id)
            self.sink.dead(channel, group, msg, reason, None, 1)

    async def redrive(self, channel: str, moves: list[tuple[Message, str]]) -> list[str]:
        """Move dead letters from the dead-letter stream `channel` back to their source: XRANGE finds each
        (no consumer reads a dead-letter queue), XADD puts it on its source, XDEL takes it off the dead-letter
        stream. Returns the ids not found."""
        key = self.key(channel)
        wanted = {msg.id: source for msg, source in moves}
        for entry_id, fields in await self.r.xrange(key, min="-", max="+"):
            if not wanted:
                break
            if b"m" not in fields:
                continue
            msg = decode_message(fields[b"m"])
            source = wanted.pop(msg.id, None)
            if source is None:
                continue
            await self.publish(source, msg)
            await self.r.xdel(key, entry_id)
        return list(wanted)

    async def _claimer(self, channel: str, group: str | None, min_idle_ns: int) -> None:
        """Give entries idle for `min_idle_ns` to a live consumer of the group (XPENDING IDLE + XCLAIM)."""
        key, gname = self.key(channel), self.group_name(group)
        min_idle_ms = max(1, min_idle_ns // 1_000_000)
        period = min(1.0, max(0.02, min_idle_ns / 4e9))
        plan = self.topology.channels[channel] if self.topology else None
        while True:
            await asyncio.sleep(period)
            live = [rd for rd in self.readers.values() if rd.alive and rd.key == key and rd.group == gname]
            if not live:
                continue
            try:
                pending = await self.r.xpending_range(key, gname, min="-", max="+", count=100, idle=min_idle_ms)
            except Exception as exc:  # noqa: BLE001 - reported, the claimer goes on
                if self.sink is not None:
                    self.sink.problem(f"XPENDING on {key}: {exc}")
                continue
            for p in pending:
                entry_id = p["message_id"]
                if (key, gname, entry_id) in self.delayed:
                    continue
                count = int(p["times_delivered"])
                if (key, gname, entry_id) in self.kept_entries:
                    continue
                if plan is not None and plan.max_deliveries is not None and count >= plan.max_deliveries:
                    await self._at_limit(channel, group, key, gname, entry_id, count)
                    continue
                target = live[next(self._rr) % len(live)]
                claimed = await self.r.xclaim(key, gname, target.consumer, min_idle_ms, [entry_id])
                for cid, fields in claimed:
                    if target.alive:
                        self._deliver(target, cid, fields, count + 1)

    # ------------------------------------------------------------------ cleanup

    async def stop_consumers(self) -> None:
        """Stop every read loop and claimer."""
        for sid in list(self.readers):
            await self.unsubscribe(sid, "leave")
        for t in self.claimers:
            t.cancel()
        self.claimers.clear()

    async def cleanup(self) -> None:
        """Stop consuming and delete every stream key declared (their groups go with them)."""
        await self.stop_consumers()
        if self.r is not None and self.keys:
            await self.r.delete(*self.keys)
