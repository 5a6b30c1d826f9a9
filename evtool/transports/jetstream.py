"""NATS JetStream (nats-py): streams, durable pull consumers with AckWait, MaxDeliver and BackOff.

Mapping (docs/transports.md has the full table):

* ``queue`` -> a WorkQueue stream ``<prefix>_<channel>`` on subject ``<prefix>.<channel>`` and one durable
  pull consumer shared by every instance (competing consumers);
* ``topic`` and ``log`` -> a Limits stream and one durable consumer per consumer group;
* routers: NATS has no exchanges; the runtime routes on the client with the core's routing table;
* ``ack_timeout`` -> AckWait (30 s when unset), ``max_deliveries`` -> MaxDeliver, `ChannelPlan.backoff_ns` ->
  BackOff, ``ttl`` -> the stream's MaxAge, ``capacity`` -> MaxMsgs with DiscardNew (reject_publish) or
  DiscardOld, ``dedup_window`` (else the profile's) -> the stream's Duplicates window, and ``Nats-Msg-Id`` =
  the message's ``dedup_id`` when it has one (a PubAck that says duplicate is recorded ``duplicate_dropped``);
* dead letters: JetStream has none. At MaxDeliver the server publishes an advisory and keeps the message;
  evtool listens for ``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`` and records
  ``max_deliveries_reached`` (the profile's ``at_limit: keep_with_advisory``, the same fate as the core). Only
  when the scenario asks for it explicitly (``broker.settings: {at_limit: dead_letter}``, which the core
  applies too) does evtool emulate a dead-letter queue: it reads the message by its stream sequence,
  publishes a copy to the channel's ``dead_letter`` target (the documented recipe) and deletes the original
  from a WorkQueue stream. A reject is ``+TERM`` plus the same copy (the core dead-letters a reject too).

Each instance pulls with its own fetch loop, never holding more unacked messages than its prefetch. A crashed
instance stops pulling and acking: JetStream redelivers its messages when their AckWait ends.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from collections import deque
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
from evtool.transports.topology import DEFAULT_ACK_WAIT_NS

PUBLISH_WINDOW = 4000
FETCH_TIMEOUT_S = 0.05
UNLIMITED_BATCH = 256


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


class _Pull(CreditLoop):
    """One instance's pull loop."""

    __slots__ = ("psub",)

    def __init__(self, spec: SubSpec, psub: Any) -> None:
        super().__init__(spec)
        self.psub = psub


class _Held:
    """One delivery held by an instance: settled by the client, or its AckWait passed (credit comes back)."""

    __slots__ = ("pull", "m", "done")

    def __init__(self, pull: _Pull, m: Any) -> None:
        self.pull = pull
        self.m = m
        self.done = False

    def release(self) -> bool:
        """Give the instance its credit back once; True the first time."""
        if self.done:
            return False
        self.done = True
        self.pull.settled()
        return True


class NatsTransport:
    """The NATS JetStream adapter (see the module docstring)."""

    name = "nats"
    routes_on_broker = False    # the runtime routes routers on the client
    returns_on_close = False    # a crashed consumer's messages come back after AckWait
    leases_on_broker = True     # an unacked message is redelivered after AckWait ("the consumer will ... redeliver")

    def __init__(self, url: str) -> None:
        self.url = url
        self.nc: Any = None
        self.js: Any = None
        self.jsm: Any = None
        self.sink: TransportSink | None = None
        self.topology: Topology | None = None
        self.streams: list[str] = []
        self.pulls: dict[int, _Pull] = {}
        self.advisory_subs: list[Any] = []
        self.server_version = ""
        self._window = PublishWindow(PUBLISH_WINDOW)
        self._slow = 0                 # publish() calls under way (see publish)
        self._inbox: str | None = None                          # PubAcks of `publish_now` arrive under it
        self._tokens = itertools.count(1)
        self._pubacks: dict[str, tuple[asyncio.Future[bool], str, Message]] = {}
        self._outbox: deque[tuple[str, bytes, str, dict[str, str] | None]] = deque()
        self._sending = False
        self._background: set[asyncio.Task[Any]] = set()
        self._acks: list[Any] = []          # deliveries whose +ACK waits for `_send_acks`
        self._leases: dict[float, deque[tuple[float, _Held]]] = {}     # see _lease
        self._acking = False
        self.gate = PublishGate()
        self.consumers: set[tuple[str, str | None]] = set()
        self._creating: dict[tuple[str, str], asyncio.Future[None]] = {}

    @staticmethod
    def silent_removal(plan: ChannelPlan) -> str | None:
        """How this stream removes messages without telling any client (None: it does not)."""
        if plan.capacity is not None and plan.overflow != "reject_publish":
            return "DiscardOld at MaxMsgs removes the oldest message, with no advisory"
        if plan.ttl_ns is not None:
            return "MaxAge removes a message wherever it is in the stream, with no advisory"
        return None

    # ------------------------------------------------------------------ names

    def stream(self, channel: str) -> str:
        """The stream name of a scenario channel."""
        assert self.topology is not None
        return _safe(f"{self.topology.prefix}_{channel}")

    def subject(self, channel: str) -> str:
        """The subject a channel's stream listens on."""
        assert self.topology is not None
        return f"{self.topology.prefix}.{channel}"

    def durable(self, channel: str, group: str | None) -> str:
        """The durable consumer of a channel (one per group for topics and logs)."""
        return _safe(f"{self.stream(channel)}_{group or 'q'}")

    # ------------------------------------------------------------------ connection

    async def connect(self) -> None:
        """Connect (bounded); TransportUnavailable says where and how to start NATS."""
        import nats

        try:
            self.nc = await nats.connect(self.url, connect_timeout=3, max_reconnect_attempts=0,
                                         allow_reconnect=False)
        except Exception as exc:  # noqa: BLE001 - nats-py raises several unrelated types here
            raise TransportUnavailable(f"cannot reach NATS at {redact_url(self.url)}: {exc}") from exc
        info = getattr(self.nc, "_server_info", None) or {}
        self.server_version = str(info.get("version", ""))
        self.js = self.nc.jetstream()
        self.jsm = self.nc.jsm()
        self._inbox = f"_INBOX.evt{uuid.uuid4().hex[:12]}"
        await self.nc.subscribe(f"{self._inbox}.*", cb=self._on_puback)
        try:
            await self.jsm.account_info()
        except Exception as exc:  # noqa: BLE001
            raise TransportUnavailable(f"NATS at {redact_url(self.url)} has no JetStream (start nats-server "
                                       f"with -js): {exc}") from exc

    async def close(self) -> None:
        """Close the connection."""
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()
        self.nc = None

    # ------------------------------------------------------------------ topology

    async def declare(self, topology: Topology, sink: TransportSink) -> None:
        """Create a stream per channel, durable consumers, and the advisory listeners."""
        from nats.js.api import (
            DeliverPolicy,
            DiscardPolicy,
            RetentionPolicy,
            StorageType,
            StreamConfig,
        )

        self.topology = topology
        self.sink = sink
        for plan in topology.channels.values():
            if plan.kind == "router":
                continue
            work = plan.kind in ("queue", "grouped_queue")
            cfg = StreamConfig(
                name=self.stream(plan.name), subjects=[self.subject(plan.name)],
                retention=RetentionPolicy.WORK_QUEUE if work else RetentionPolicy.LIMITS,
                storage=StorageType.FILE if plan.durable else StorageType.MEMORY,
                max_age=plan.ttl_ns / 1e9 if plan.ttl_ns else None,
                max_msgs=plan.capacity if plan.capacity else None,
                discard=DiscardPolicy.NEW if plan.overflow == "reject_publish" else DiscardPolicy.OLD,
                # NATS refuses a Duplicates window longer than MaxAge ("duplicates window can not be larger
                # then max age", 2.9); a message older than MaxAge is gone anyway, so the window is clamped
                duplicate_window=(min(plan.dedup_window_ns, plan.ttl_ns or plan.dedup_window_ns) / 1e9
                                  if plan.dedup_window_ns else None),
            )
            await self.jsm.add_stream(cfg)
            self.streams.append(cfg.name)
            for group in plan.subscriptions():
                if group is None and not plan.groups:
                    continue      # a queue nobody consumes (a dead-letter queue): no consumer
                if group in plan.late:
                    continue      # created when its first instance subscribes (DeliverPolicy new)
                await self._add_consumer(plan.name, group, DeliverPolicy.ALL)

    async def _add_consumer(self, channel: str, group: str | None, deliver: Any) -> None:
        """The durable pull consumer of a queue or of one group, and its MaxDeliver advisory listener."""
        from nats.js.api import AckPolicy, ConsumerConfig

        assert self.topology is not None
        plan = self.topology.channels[channel]
        durable = self.durable(channel, group)
        await self.jsm.add_consumer(self.stream(channel), ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=deliver,
            ack_wait=(plan.ack_timeout_ns or DEFAULT_ACK_WAIT_NS) / 1e9, max_deliver=plan.max_deliveries or -1,
            backoff=[b / 1e9 for b in plan.backoff_ns] or None, max_ack_pending=-1,
        ))
        self.consumers.add((channel, group))
        subject = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{self.stream(channel)}.{durable}"
        sub = await self.nc.subscribe(subject, cb=self._advisory(channel, group))
        self.advisory_subs.append(sub)

    async def _late_group(self, channel: str, group: str) -> None:
        """Create a late group's consumer with DeliverPolicy new, after the publishes issued before its
        subscribe were stored and before any issued later (once, however many instances subscribe)."""
        from nats.js.api import DeliverPolicy

        key = (channel, group)
        fut = self._creating.get(key)
        if fut is None:
            fut = self._creating[key] = asyncio.get_running_loop().create_future()
            try:
                await self.gate.barrier(lambda: self._add_consumer(channel, group, DeliverPolicy.NEW))
                fut.set_result(None)
            except BaseException as exc:
                fut.set_exception(exc)
                raise
        await asyncio.shield(fut)

    def _advisory(self, channel: str, group: str | None) -> Any:
        async def on_advisory(m: Any) -> None:
            try:
                doc = json.loads(m.data)
                raw = await self.jsm.get_msg(self.stream(channel), doc["stream_seq"])
                msg = decode_message(raw.data)
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                if self.sink is not None:
                    self.sink.problem(f"max-deliveries advisory on {channel}: {exc}")
                return
            count = int(doc.get("deliveries", 0))
            plan = self.topology.channels[channel] if self.topology is not None else None
            if plan is None or plan.at_limit == "keep_with_advisory":
                # what JetStream itself does: the message stays in the stream, undeliverable to this consumer
                if self.sink is not None:
                    self.sink.kept(channel, group, msg, count)
                return
            # the profile asks for a dead letter (or a drop) at the limit: emulated, as the core does under
            # the same profile; a WorkQueue stream's original is deleted so the stream shows it gone
            if plan.kind in ("queue", "grouped_queue"):
                try:
                    await self.jsm.delete_msg(self.stream(channel), doc["stream_seq"])
                except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                    if self.sink is not None:
                        self.sink.problem(f"could not delete {msg.id} from {channel} at MaxDeliver: {exc}")
            if plan.at_limit == "drop":
                if self.sink is not None:
                    self.sink.dead(channel, group, msg, "max_deliveries", None, 1)
                return
            await self._dead_or_kept(channel, group, msg, "max_deliveries", count)
        return on_advisory

    async def _dead_or_kept(self, channel: str, group: str | None, msg: Message, reason: str, count: int) -> None:
        """Copy `msg` to the channel's dead-letter target (evtool's emulation), or record it dropped."""
        assert self.topology is not None and self.sink is not None
        plan = self.topology.channels[channel]
        target = plan.dead_letter
        if target is not None and target in self.topology.channels:
            # a dead letter is a new publish: it never inherits a dedup id (decision 1)
            copy = msg.copy(deaths=(DeathRecord(channel, reason, 1, 0, 0, msg.key), *msg.deaths), dedup_id=None)
            await self.publish(target, copy)
            self.sink.dead(channel, group, copy, reason, target, 1)
        else:
            self.sink.dead(channel, group, msg, reason, None, 1)

    async def redrive(self, channel: str, moves: list[tuple[Message, str]]) -> list[str]:
        """Move dead letters from the dead-letter stream `channel` back to their source: each stored message
        of the stream is read by sequence (no consumer reads a dead-letter queue), published to its source
        (PubAck awaited), then deleted from the dead-letter stream. Returns the ids not found."""
        stream = self.stream(channel)
        wanted = {msg.id: source for msg, source in moves}
        info = await self.jsm.stream_info(stream)
        for seq in range(int(info.state.first_seq), int(info.state.last_seq) + 1):
            if not wanted:
                break
            try:
                raw = await self.jsm.get_msg(stream, seq)
            except Exception:  # noqa: BLE001, S112 - a deleted sequence: nothing stored there
                continue
            msg = decode_message(raw.data)
            source = wanted.pop(msg.id, None)
            if source is None:
                continue
            await self.publish(source, msg)
            await self.jsm.delete_msg(stream, seq)
        return list(wanted)

    # ------------------------------------------------------------------ publishing

    def publish_now(self, channel: str, msg: Message) -> asyncio.Future[bool] | None:
        """Publish without a task per message: the PUB goes out with a reply subject under this transport's
        inbox, and the PubAck (the reply) settles the returned future: True stored (a duplicate reported to
        the sink first), False refused (the stream's error reply, e.g. DiscardNew at MaxMsgs). This is what
        `js.publish` does, less its task per request (`asyncio.wait_for`). None while a late consumer is
        being created (the caller then uses `publish`, which waits for it)."""
        if self._slow or self._inbox is None or not self.gate.enter_now():
            return None
        assert self.topology is not None
        plan = self.topology.channels[channel]
        dedup_id = getattr(msg, "dedup_id", None)    # decision 1, as in `publish`
        headers = {"Nats-Msg-Id": dedup_id} if dedup_id and plan.dedup_window_ns else None
        token = str(next(self._tokens))
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pubacks[token] = (fut, channel, msg)
        self._outbox.append((self.subject(channel), encode_message(msg), f"{self._inbox}.{token}", headers))
        if not self._sending:
            self._sending = True
            asyncio.ensure_future(self._send_outbox())
        return fut

    async def _send_outbox(self) -> None:
        """Hand the queued PUBs to the client (it buffers and flushes them; no network wait per PUB)."""
        try:
            while self._outbox:
                subject, data, reply, headers = self._outbox.popleft()
                await self.nc.publish(subject, data, reply=reply, headers=headers)
        except Exception as exc:  # noqa: BLE001 - every waiting publish gets the error
            for fut, _c, _m in self._pubacks.values():
                if not fut.done():
                    fut.set_exception(exc)
            self._pubacks.clear()
            self._outbox.clear()
        finally:
            self._sending = False

    async def _on_puback(self, m: Any) -> None:
        got = self._pubacks.pop(m.subject.rsplit(".", 1)[-1], None)
        if got is None:
            return
        fut, channel, msg = got
        self.gate.leave()
        try:
            doc = json.loads(m.data) if m.data else {}
        except ValueError:
            doc = {}
        if not doc:
            # a status reply (503: no stream listens on the subject), what `js.publish` raises for
            fut.set_exception(TransportError(f"publish to {channel}: no stream answered"))
            return
        if "error" in doc:
            fut.set_result(False)       # the stream refused it, as `js.publish`'s APIError
            return
        if doc.get("duplicate") and self.sink is not None:
            dup = getattr(self.sink, "duplicate", None)
            if dup is not None:
                dup(channel, msg)
        fut.set_result(True)

    async def publish(self, channel: str, msg: Message) -> bool:
        """Publish through the gate and the window and await the answer (see `_publish`); while one is under
        way `publish_now` declines, so that a later publish cannot overtake it."""
        self._slow += 1
        try:
            return await self._publish(channel, msg)
        finally:
            self._slow -= 1

    async def _publish(self, channel: str, msg: Message) -> bool:
        """Publish and await the PubAck; False when the stream refuses it (DiscardNew at MaxMsgs)."""
        from nats.js.errors import APIError

        assert self.topology is not None
        plan = self.topology.channels[channel]
        # decision 1: only a message that carries a dedup id is deduplicated, keyed by that id (a derived
        # message, a retry republish or a dead letter, carries none); getattr, since `Message.dedup_id` may
        # not exist yet in a build of the core
        dedup_id = getattr(msg, "dedup_id", None)
        headers = {"Nats-Msg-Id": dedup_id} if dedup_id and plan.dedup_window_ns else None
        try:
            async with self.gate.publishing(), self._window:
                ack = await self.js.publish(self.subject(channel), encode_message(msg), headers=headers)
        except APIError:
            return False
        if getattr(ack, "duplicate", False) and self.sink is not None:
            dup = getattr(self.sink, "duplicate", None)
            if dup is not None:
                dup(channel, msg)
        return True

    # ------------------------------------------------------------------ consuming

    async def subscribe(self, spec: SubSpec) -> None:
        """Bind a pull subscription to the channel's durable consumer and start the instance's pull loop."""
        assert self.topology is not None
        if spec.channel not in self.topology.channels:
            raise TransportError(f"unknown channel {spec.channel!r}")
        if spec.group is not None and (spec.channel, spec.group) not in self.consumers:
            await self._late_group(spec.channel, spec.group)
        psub = await self.js.pull_subscribe_bind(durable=self.durable(spec.channel, spec.group),
                                                 stream=self.stream(spec.channel))
        pull = _Pull(spec, psub)
        self.pulls[spec.sid] = pull
        pull.task = asyncio.get_running_loop().create_task(self._loop(pull))

    async def _loop(self, pull: _Pull) -> None:
        import nats.errors

        sink = self.sink
        assert sink is not None
        spec = pull.spec
        while pull.alive:
            pf = spec.prefetch
            want = UNLIMITED_BATCH if pf == 0 else pf - pull.in_flight
            if want <= 0:
                pull.credit.clear()
                await pull.credit.wait()
                continue
            started = asyncio.get_running_loop().time()
            try:
                msgs = await pull.psub.fetch(want, timeout=FETCH_TIMEOUT_S)
            except (TimeoutError, nats.errors.TimeoutError):
                empty = getattr(sink, "read_empty", None)
                if empty is not None and pull.alive:
                    empty(spec.sid, started)
                continue
            except Exception as exc:  # noqa: BLE001 - a closed connection ends the loop
                if pull.alive:
                    sink.problem(f"fetch on {spec.channel}: {exc}")
                return
            loop = asyncio.get_running_loop()
            for m in msgs:
                if not pull.alive:
                    return      # not acked: JetStream redelivers after AckWait
                pull.in_flight += 1
                count = int(m.metadata.num_delivered)
                held = _Held(pull, m)
                # JetStream counts the delivery as abandoned after its AckWait (or its BackOff step): the
                # instance gets the credit back then, as the server sees it
                self._lease(loop, self._ack_wait_s(spec.channel, count), held)
                sink.deliver(spec.sid, decode_message(m.data), count, count > 1, held)

    def _lease(self, loop: asyncio.AbstractEventLoop, wait_s: float, held: _Held) -> None:
        """Release `held` (its credit) `wait_s` from now unless settled before. Deliveries with the same wait
        expire in arrival order, so each wait has a FIFO and one timer for its head: a timer per delivery
        would keep thousands of 30 s timers in the loop's heap."""
        fifo = self._leases.get(wait_s)
        if fifo is None:
            fifo = self._leases[wait_s] = deque()
        fifo.append((loop.time() + wait_s, held))
        if len(fifo) == 1:
            loop.call_at(fifo[0][0], self._expire, loop, wait_s)

    def _expire(self, loop: asyncio.AbstractEventLoop, wait_s: float) -> None:
        fifo = self._leases[wait_s]
        now = loop.time()
        while fifo and (fifo[0][0] <= now or fifo[0][1].done):
            fifo.popleft()[1].release()
        if fifo:
            loop.call_at(fifo[0][0], self._expire, loop, wait_s)

    def _ack_wait_s(self, channel: str, count: int) -> float:
        assert self.topology is not None
        plan = self.topology.channels[channel]
        if plan.backoff_ns:
            return plan.backoff_ns[min(count, len(plan.backoff_ns)) - 1] / 1e9
        return (plan.ack_timeout_ns or DEFAULT_ACK_WAIT_NS) / 1e9

    async def unsubscribe(self, sid: int, reason: str) -> None:
        """Stop pulling; unacked messages come back when their AckWait ends."""
        pull = self.pulls.pop(sid, None)
        if pull is None:
            return
        pull.stop()
        try:
            await pull.psub.unsubscribe()
        except Exception:  # noqa: BLE001, S110 - already gone with the connection
            pass

    @staticmethod
    def copy_id(handle: _Held) -> int:
        """The stream sequence of the delivered message (one stored copy)."""
        return int(handle.m.metadata.sequence.stream)

    @staticmethod
    def forget(handle: _Held) -> None:
        """The delivery's lease ran out (redelivered): give its credit back, settle nothing."""
        handle.release()

    def ack_now(self, handle: _Held) -> bool:
        """Queue the +ACK without a task of its own: the acks of one loop iteration are written together
        (`_send_acks`), each still the reply to its own message, what `Msg.ack` sends."""
        handle.release()
        if handle.pull.alive:
            self._acks.append(handle.m)
            if not self._acking:
                self._acking = True
                asyncio.ensure_future(self._send_acks())
        return True

    async def _send_acks(self) -> None:
        try:
            while self._acks:
                ms, self._acks = self._acks, []
                for m in ms:
                    await self.nc.publish(m.reply)      # `Msg.ack`: an empty message to the reply subject
                    m._ackd = True
        except Exception as exc:  # noqa: BLE001 - the connection closed: JetStream redelivers after AckWait
            self._acks = []
            if self.sink is not None:
                self.sink.problem(f"ack: {exc}")
        finally:
            self._acking = False

    def busy(self) -> bool:
        """Acks queued without a task and not yet handed to the client: the drain waits for them."""
        return bool(self._acks)

    async def ack(self, handle: _Held) -> None:
        """+ACK."""
        handle.release()
        if handle.pull.alive:
            await handle.m.ack()

    async def nack(self, handle: _Held, delay_ns: int) -> None:
        """-NAK, with NakWithDelay when the retry policy asks for a delay."""
        handle.release()
        if handle.pull.alive:
            await handle.m.nak(delay=delay_ns / 1e9 if delay_ns > 0 else None)

    async def reject(self, handle: _Held) -> None:
        """+TERM, then the dead-letter copy (or a drop) recorded by evtool."""
        handle.release()
        pull, m = handle.pull, handle.m
        if not pull.alive:
            return
        await m.term()
        await self._dead_or_kept(pull.spec.channel, pull.spec.group, decode_message(m.data), "rejected", 0)

    # ------------------------------------------------------------------ cleanup

    async def stop_consumers(self) -> None:
        """Stop every pull loop and advisory listener."""
        for sid in list(self.pulls):
            await self.unsubscribe(sid, "leave")
        for sub in self.advisory_subs:
            try:
                await sub.unsubscribe()
            except Exception:  # noqa: BLE001, S110 - already gone with the connection
                pass
        self.advisory_subs.clear()

    async def cleanup(self) -> None:
        """Stop consuming and delete every stream declared (their consumers go with them)."""
        await self.stop_consumers()
        if self.nc is None or self.nc.is_closed:
            return
        for s in self.streams:
            try:
                await self.jsm.delete_stream(s)
            except Exception as exc:  # noqa: BLE001
                if self.sink is not None:
                    self.sink.problem(f"could not delete stream {s}: {exc}")
