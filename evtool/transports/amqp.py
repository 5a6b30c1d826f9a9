"""RabbitMQ (AMQP 0-9-1, through aiormq): queues, exchanges, bindings, dead-letter exchanges, delivery limits.

Mapping (docs/transports.md has the full table):

* ``queue`` -> a quorum queue ``<prefix>.<channel>`` (a classic queue under the
  ``rabbitmq-classic`` profile or ``persistence: memory``), with
  ``x-delivery-limit``, ``x-message-ttl``, ``x-max-length`` / ``x-overflow``;
* ``topic`` and ``log`` -> a fanout exchange ``<prefix>.<channel>`` and one
  queue per consumer group ``<prefix>.<channel>.<group>``;
* ``router`` -> an exchange of the same type; bindings are queue or
  exchange-to-exchange bindings with the same patterns;
* dead letters: every queue has a dead-letter exchange. With a ``dead_letter``
  channel it is that channel (the default exchange and its queue name, or its
  exchange); without one it is evtool's sink queue ``<prefix>._sink``, so that
  what RabbitMQ would drop silently (a reject, an expiry, the delivery limit)
  is still seen, with its ``x-death`` reason, and recorded.

Each consumer instance has its own AMQP channel with ``basic.qos`` = its
prefetch; a crash closes that channel, so RabbitMQ requeues its unacked
deliveries at once. Publishes go through one channel in confirm mode and are
pipelined: every publish of a loop iteration goes out in one socket write, up to
`PUBLISH_WINDOW` await their confirms at once, and each message's own
basic.ack or basic.nack settles it.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from typing import Any

from evtool.core.message import DeathRecord, Message
from evtool.transports.amqp_wire import deliver_inline, read_frames_in_bulk
from evtool.transports.base import (
    ChannelPlan,
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

QUORUM_PREFETCH_CAP = 2000
PUBLISH_WINDOW = 2000
"""Most publishes awaiting their confirm at once."""

_BODY_HEAD = _FRAME_HEAD = struct.Struct(">BHI")
"""An AMQP frame's header: type, channel, payload size."""
_HEADER_HEAD = struct.Struct(">HHQH")
"""A content header's payload up to its properties: class id, weight, body size, property flags."""
_FLAGS = 0x8000 | 0x1000 | 0x0080
"""content-type, delivery-mode and message-id set (AMQP 0-9-1 basic properties, bit 15 = the first property)."""
_FLAGS_EXPIRING = _FLAGS | 0x0100
"""... and expiration."""
_ACK_FRAME = struct.Struct(">BHIIqBB")
"""A basic.ack frame: type 1 (method), channel, payload size 13, class 60 method 80, the delivery tag (a
long-long, which pamqp writes signed), the multiple bit, frame-end 0xCE."""
_BASIC_ACK = 60 << 16 | 80
_CONTENT_TYPE = b"\x10application/json"
_MODE = {1: b"\x01", 2: b"\x02"}

REASONS = {"rejected": "rejected", "expired": "expired", "maxlen": "overflow", "delivery_limit": "max_deliveries"}
"""RabbitMQ x-death reasons -> evtool's."""


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes | bytearray) else str(v)


def deaths_from_headers(headers: dict[str, Any] | None, queue_names: dict[str, tuple[str, str | None]]
                        ) -> tuple[DeathRecord, ...]:
    """The message's ``x-death`` header as evtool death records (most recent first).

    Queue names are mapped back to scenario channels; times are not kept (the
    broker's clock is not the run's).
    """
    out: list[DeathRecord] = []
    for d in (headers or {}).get("x-death") or []:
        queue = _text(d.get("queue", ""))
        channel = queue_names.get(queue, (queue, None))[0]
        keys = d.get("routing-keys") or []
        out.append(DeathRecord(channel, REASONS.get(_text(d.get("reason", "")), _text(d.get("reason", ""))),
                               int(d.get("count", 1)), 0, 0, _text(keys[0]) if keys else None))
    return tuple(out)


class _Acks:
    """The acks of one consumer channel, sent once per event-loop iteration (by `_AckWriter`).

    Each basic.ack is one frame; with several deliveries settled in one iteration the prefix of the channel's
    unsettled tags that are all being acked goes out as one ack with ``multiple`` set ("the delivery tag is
    treated as 'up to and including', so that the client can acknowledge multiple messages with a single
    method", https://www.rabbitmq.com/amqp-0-9-1-reference.html#basic.ack), the rest one by one. A tag leaves
    `open` only once its own ack, nack or reject is queued for the socket, so a multiple ack never covers a
    delivery that is still held (a nack waiting out its delay)."""

    __slots__ = ("ch", "open", "pending", "writer")

    def __init__(self, ch: Any, writer: _AckWriter) -> None:
        self.ch = ch
        self.open: set[int] = set()       # delivered, not yet settled on the wire
        self.pending: list[int] = []      # acked by the run, to be written
        self.writer = writer

    def ack(self, tag: int) -> None:
        """Queue the ack of `tag` for the end of this loop iteration."""
        if not self.pending:
            self.writer.dirty.append(self)
            self.writer.schedule()
        self.pending.append(tag)

    def take(self) -> list[tuple[int, bool]]:
        """The (delivery tag, multiple) acks to write now for the pending tags."""
        tags, self.pending = sorted(self.pending), []
        if self.ch.is_closed:
            return []
        acked = set(tags)
        rest = self.open - acked
        low = min(rest) if rest else None
        prefix = [t for t in tags if low is None or t < low]
        self.open = rest
        frames = ([(prefix[-1], True)] if len(prefix) > 1 else [(t, False) for t in prefix])
        return frames + [(t, False) for t in tags[len(prefix):]]


class _AckWriter:
    """Writes the acks of every consumer channel of one iteration in one socket write (frames of several
    channels may share a write; each frame names its channel)."""

    __slots__ = ("conn", "dirty", "scheduled")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.dirty: list[_Acks] = []
        self.scheduled = False

    def schedule(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the acks queued in this iteration, each a basic.ack frame written as pamqp writes it
        (`_ACK_FRAME`; `tests/transports/test_pipelined_publish.py` compares the bytes)."""
        from aiormq.abc import ChannelFrame

        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        parts = []
        pack = _ACK_FRAME.pack
        for acks in dirty:
            number = acks.ch.number
            parts.extend(pack(1, number, 13, _BASIC_ACK, t, m, 0xCE) for t, m in acks.take())
        if not parts or self.conn is None or self.conn.is_closed:
            return
        frame = ChannelFrame(payload=b"".join(parts), should_close=False)
        try:
            self.conn.write_queue.put_nowait(frame)
        except asyncio.QueueFull:
            asyncio.ensure_future(self.conn.write_queue.put(frame))


def _delivery_error() -> type[BaseException]:
    from aiormq.exceptions import DeliveryError

    return DeliveryError


def _deliver_in_reader(ch: Any, deliver: Any, sink: TransportSink) -> None:
    """Hand each delivery of `ch` to `deliver` from aiormq's channel reader, without the task aiormq starts
    per delivery for the consumer callback (`Channel._on_deliver_frame`): the same frames are read the same
    way (content header, then the body), and a delivery for a consumer no longer registered is dropped, as
    there. `deliver` does not wait on anything; an error in it is reported instead of closing the channel.
    While the channel's reader is idle, the connection's reader hands deliveries over itself as their
    frames arrive (`amqp_wire.InlineDeliveries`), through the same `hand_over`. Left as aiormq has it when
    its internals are not the ones this was written against (aiormq 7.2)."""
    get_header = getattr(ch, "_Channel__get_content_header", None)
    if get_header is None or not hasattr(ch, "_read_content") or not hasattr(ch, "_on_deliver_frame"):
        return

    def hand_over(frame: Any, message: Any) -> None:
        if frame.consumer_tag is None or frame.consumer_tag not in ch.consumers:
            return
        try:
            deliver(message)
        except Exception as exc:  # noqa: BLE001 - reported; the channel goes on, as after a callback error
            sink.problem(f"delivery on channel {ch.number}: {type(exc).__name__}: {exc}")

    async def on_deliver_frame(frame: Any) -> None:
        header = await get_header()
        hand_over(frame, await ch._read_content(frame, header))

    ch._on_deliver_frame = on_deliver_frame
    deliver_inline(ch, hand_over)


def _confirms_in_reader(ch: Any) -> bool:
    """Settle a multiple basic.ack or basic.nack of the publish channel at once, tag by tag, where aiormq
    schedules a callback per tag after scanning every confirm still awaited (`Channel._on_confirm_frame`: with
    `PUBLISH_WINDOW` publishes in flight, 2,000 keys per confirm frame). Sent by the server, basic.ack
    "acknowledges one or more messages published with the Publish method on a channel in confirm mode"; with
    multiple set "the delivery tag is treated as 'up to and including', so that multiple messages can be
    acknowledged with a single method [...] If the multiple field is 1, and the delivery tag is zero, this
    indicates acknowledgement of all outstanding messages"
    (https://www.rabbitmq.com/amqp-0-9-1-reference.html#basic.ack; basic.nack likewise). The confirms awaited
    are in `ch.confirmations` in ascending tag order (`RabbitMQTransport._enqueue` numbers and adds them in
    order; nothing else adds to this channel's), so the scan stops at the first tag past the frame's. Each
    tag's future is the publish's own (`_enqueue`): it is taken out and gets True for a basic.ack, False for
    a basic.nack (what `_settle` made of aiormq's result and DeliveryError), unless it is settled already.
    False, and aiormq's reader left as it is, when its internals are not the ones this was written against
    (aiormq 7.2): each publish then has a confirm future of its own that aiormq settles (`_settle`)."""
    if not hasattr(ch, "_on_confirm_frame") or not isinstance(getattr(ch, "confirmations", None), dict):
        return False
    from pamqp.commands import Basic

    ack = Basic.Ack

    async def on_confirm_frame(frame: Any) -> None:
        confirmations = ch.confirmations
        tag = frame.delivery_tag
        multiple = getattr(frame, "multiple", False)
        if tag not in confirmations and not (multiple and tag == 0):
            return
        if multiple:
            tags = []
            for t in confirmations:
                if tag and t > tag:
                    break
                tags.append(t)
        else:
            tags = [tag]
        stored = type(frame) is ack
        for t in tags:
            out = confirmations.pop(t)
            if not out.done():
                out.set_result(stored)

    ch._on_confirm_frame = on_confirm_frame
    return True


def _settle(confirm: asyncio.Future[Any], out: asyncio.Future[bool]) -> None:
    """A publish's confirm as a bool: True on basic.ack, False on basic.nack (aiormq turns it into
    DeliveryError, aiormq/channel.py `_confirm_delivery`: the publish was refused, e.g. reject-publish at
    x-max-length); any other error (the channel closed) is passed on."""
    if out.done():
        return
    if confirm.cancelled():
        out.cancel()
        return
    exc = confirm.exception()
    if exc is None:
        out.set_result(True)
    elif isinstance(exc, _delivery_error()):
        out.set_result(False)
    else:
        out.set_exception(exc)


class RabbitMQTransport:
    """The RabbitMQ adapter (see the module docstring)."""

    name = "rabbitmq"
    routes_on_broker = True     # exchanges route; the runtime only predicts the routes for the trace
    returns_on_close = True     # closing a channel requeues its unacked deliveries at once

    def __init__(self, url: str, *, classic: bool = False) -> None:
        self.url = url
        self.classic = classic
        self.conn: Any = None
        self.admin: Any = None
        self.pub: Any = None
        self.sink: TransportSink | None = None
        self.topology: Topology | None = None
        self.queues: list[str] = []
        self.exchanges: list[str] = []
        self.queue_of: dict[tuple[str, str | None], str] = {}
        self.names: dict[str, tuple[str, str | None]] = {}
        self.sub_channels: dict[int, Any] = {}
        self.acks: dict[int, _Acks] = {}                                  # id(channel) -> its ack batcher
        self._ack_writer: _AckWriter | None = None
        self.observers: list[Any] = []
        self.held_dead: dict[str, dict[str, tuple[Message, Any]]] = {}   # dead-letter queue -> held by observers
        self.seen_deaths: set[tuple[str, str, tuple[tuple[str, str, int], ...]]] = set()
        self.server_version = ""
        self._window = PublishWindow(PUBLISH_WINDOW)
        self._slow = 0                  # publish() calls under way (see publish_now)
        self._backlog: deque[tuple[str, Message, asyncio.Future[bool]]] = deque()   # waiting for a slot
        self._outbox: list[bytes] = []  # the publishes queued for the next write, on the wire (see _enqueue)
        self._method_frames: dict[tuple[int, str, str], bytes] = {}    # see _frames
        self._sending = False
        self._confirms_direct = False   # see _confirms_in_reader
        self._frame_types: tuple[Any, Any, Any] = (None, None, None)   # pamqp's, imported at connect
        self.gate = PublishGate()
        self._creating: dict[tuple[str, str], asyncio.Future[None]] = {}

    # ------------------------------------------------------------------ connection

    async def connect(self) -> None:
        """Connect (bounded by a timeout); TransportUnavailable says where and how to start RabbitMQ."""
        import aiormq

        try:
            self.conn = await asyncio.wait_for(aiormq.connect(self.url), timeout=5)
        except (TimeoutError, OSError, aiormq.exceptions.AMQPError) as exc:
            raise TransportUnavailable(f"cannot reach RabbitMQ at {redact_url(self.url)}: {exc}") from exc
        read_frames_in_bulk(self.conn)
        props = getattr(self.conn, "server_properties", {}) or {}
        self.server_version = _text(props.get("version", ""))
        self.admin = await self.conn.channel()
        self.pub = await self.conn.channel(publisher_confirms=True)
        self._confirms_direct = _confirms_in_reader(self.pub)
        from pamqp.body import ContentBody
        from pamqp.commands import Basic
        from pamqp.header import ContentHeader

        self._frame_types = (ContentBody, Basic, ContentHeader)
        self.pub.closing.add_done_callback(self._pub_closed)

    def _pub_closed(self, closing: asyncio.Future[Any]) -> None:
        """The publish channel closed (the broker closed it, or the run ended): every publish still waiting
        for its confirm fails with the reason (aiormq fails only the futures it created itself)."""
        why = None if closing.cancelled() else closing.exception()
        exc = TransportError(f"the RabbitMQ publish channel closed{f': {why}' if why else ''}")
        for confirm in list(self.pub.confirmations.values()) if self.pub is not None else []:
            if isinstance(confirm, asyncio.Future) and not confirm.done():
                confirm.set_exception(exc)

    async def close(self) -> None:
        """Close the connection."""
        if self.conn is not None and not self.conn.is_closed:
            await self.conn.close()
        self.conn = None

    # ------------------------------------------------------------------ topology

    def physical(self, channel: str, group: str | None = None) -> str:
        """The broker name of a scenario channel (or of one group's queue of a topic or log)."""
        assert self.topology is not None
        base = f"{self.topology.prefix}.{channel}"
        return base if group is None else f"{base}.{group}"

    def _is_exchange(self, plan: ChannelPlan) -> bool:
        return plan.kind in ("topic", "log", "router")

    def _queue_args(self, plan: ChannelPlan, quorum: bool) -> dict[str, Any]:
        assert self.topology is not None
        args: dict[str, Any] = {}
        if quorum:
            args["x-queue-type"] = "quorum"
            if plan.max_deliveries is not None:
                args["x-delivery-limit"] = plan.max_deliveries
        if plan.ttl_ns is not None:
            args["x-message-ttl"] = max(1, plan.ttl_ns // 1_000_000)
        if plan.capacity is not None:
            args["x-max-length"] = plan.capacity
            args["x-overflow"] = "reject-publish" if plan.overflow == "reject_publish" else "drop-head"
        target = plan.dead_letter
        tplan = self.topology.channels.get(target) if target else None
        if tplan is None:
            args["x-dead-letter-exchange"] = ""
            args["x-dead-letter-routing-key"] = f"{self.topology.prefix}._sink"
        elif self._is_exchange(tplan):
            args["x-dead-letter-exchange"] = self.physical(tplan.name)
        else:
            args["x-dead-letter-exchange"] = ""
            args["x-dead-letter-routing-key"] = self.physical(tplan.name)
        return args

    async def _declare_queue(self, name: str, plan: ChannelPlan, channel: str, group: str | None) -> None:
        quorum = not self.classic and plan.durable
        await self.admin.queue_declare(name, durable=plan.durable, arguments=self._queue_args(plan, quorum))
        self.queues.append(name)
        self.queue_of[(channel, group)] = name
        self.names[name] = (channel, group)

    async def _declare_group(self, plan: ChannelPlan, group: str) -> None:
        """A topic's or log's group: its own queue, bound to the channel's fanout exchange."""
        q = self.physical(plan.name, group)
        await self._declare_queue(q, plan, plan.name, group)
        await self.admin.queue_bind(q, self.physical(plan.name), routing_key="")

    async def _late_group(self, channel: str, group: str) -> None:
        """Declare and bind a late group's queue between the publishes issued before its subscribe and those
        issued after (once, however many instances subscribe)."""
        assert self.topology is not None
        key = (channel, group)
        fut = self._creating.get(key)
        if fut is None:
            fut = self._creating[key] = asyncio.get_running_loop().create_future()
            try:
                await self.gate.barrier(lambda: self._declare_group(self.topology.channels[channel], group))
                fut.set_result(None)
            except BaseException as exc:
                fut.set_exception(exc)
                raise
        await asyncio.shield(fut)

    async def declare(self, topology: Topology, sink: TransportSink) -> None:
        """Declare exchanges, queues and bindings; start the observers of dead letters."""
        self.topology = topology
        self.sink = sink
        sink_q = f"{topology.prefix}._sink"
        await self.admin.queue_declare(sink_q, durable=False)
        self.queues.append(sink_q)
        for plan in topology.channels.values():
            if self._is_exchange(plan):
                etype = plan.router_type if plan.kind == "router" else "fanout"
                await self.admin.exchange_declare(self.physical(plan.name), exchange_type=etype,
                                                  durable=plan.durable)
                self.exchanges.append(self.physical(plan.name))
        for plan in topology.channels.values():
            if plan.kind in ("queue", "grouped_queue"):
                await self._declare_queue(self.physical(plan.name), plan, plan.name, None)
            elif plan.kind in ("topic", "log"):
                for g in plan.groups:
                    if g not in plan.late:      # a late group's queue is declared when it subscribes
                        await self._declare_group(plan, g)
        for plan in topology.channels.values():
            if plan.kind != "router":
                continue
            for target, pattern in plan.bindings:
                tplan = topology.channels[target]
                if self._is_exchange(tplan):
                    await self.admin.exchange_bind(destination=self.physical(target),
                                                   source=self.physical(plan.name), routing_key=pattern)
                else:
                    await self.admin.queue_bind(self.physical(target), self.physical(plan.name),
                                                routing_key=pattern)
        # Observers: evtool's sink (acked), and dead-letter queues nobody in the scenario reads (held unacked
        # until the end, so the dead letters stay on the broker for --keep).
        consumed = {c.name for c in topology.channels.values() if c.groups}
        watched = [(sink_q, True)]
        for target in topology.dead_letter_targets():
            tplan = topology.channels.get(target)
            if tplan is not None and tplan.name not in consumed and tplan.kind in ("queue", "grouped_queue"):
                watched.append((self.physical(target), False))
        for queue, ack in watched:
            ch = await self.conn.channel()
            await ch.basic_qos(prefetch_count=0)
            await ch.basic_consume(queue, self._observer(queue, ack), no_ack=False)
            self.observers.append(ch)

    def _observer(self, queue: str, ack: bool) -> Any:
        async def on_message(message: Any) -> None:
            msg, source = self._message(message)
            self._observe_death(queue, msg, source, bool(message.delivery.redelivered))
            if ack:
                await message.channel.basic_ack(message.delivery.delivery_tag)
            else:
                self.held_dead.setdefault(queue, {})[msg.id] = (msg, message)
        return on_message

    async def redrive(self, channel: str, moves: list[tuple[Message, str]]) -> list[str]:
        """Move dead letters from the dead-letter queue `channel` back to their source: each is published to
        its source (confirmed), then acked on the observer channel that holds it (RabbitMQ has no move
        command; this is what a shovel or an operator's script does). Returns the ids not found."""
        queue = self.physical(channel)
        held = self.held_dead.get(queue, {})
        missing: list[str] = []
        for msg, source in moves:
            got = held.pop(msg.id, None)
            if got is None:
                missing.append(msg.id)
                continue
            dead_msg, delivery = got
            # it may die again: its next x-death is reported afresh
            self.seen_deaths = {sig for sig in self.seen_deaths if sig[1] != msg.id}
            await self.publish(source, dead_msg)
            if not delivery.channel.is_closed:
                await delivery.channel.basic_ack(delivery.delivery.delivery_tag)
        return missing

    def _message(self, message: Any) -> tuple[Message, tuple[str, str | None] | None]:
        """The evtool message, with its death history from ``x-death``, and the (channel, group) it died in.

        The source is None when RabbitMQ did not dead-letter the message: deaths it carries in its body were
        recorded by evtool (an application dead letter, `Message.with_death`) and are not reported again.
        """
        msg = decode_message(message.body)
        headers = message.header.properties.headers or {}
        source = None
        xdeath = headers.get("x-death")
        if xdeath:
            msg.deaths = deaths_from_headers(headers, self.names)
            source = self.names.get(_text(xdeath[0].get("queue", "")), (msg.deaths[0].channel, None))
        return msg, source

    def _observe_death(self, queue: str, msg: Message, source: tuple[str, str | None] | None,
                       redelivered: bool = False) -> None:
        """Report a dead letter the first time it is seen in `queue` with this death history.

        A delivery RabbitMQ flags redelivered is a copy seen before (requeued to the DLQ's consumer): not
        reported again. One it does not flag is a new copy, reported even when another copy with the same id
        and death history was (a publish duplicated by a fault: both copies die, both are dead letters)."""
        if source is None or not msg.deaths or self.sink is None:
            return
        sig = (queue, msg.id, tuple((d.channel, d.reason, d.count) for d in msg.deaths))
        if redelivered and sig in self.seen_deaths:
            return
        self.seen_deaths.add(sig)
        last = msg.deaths[0]
        channel, group = source
        target = None if queue.endswith("._sink") else self.names.get(queue, (None, None))[0]
        self.sink.dead(channel, group, msg, last.reason, target, last.count)

    # ------------------------------------------------------------------ publishing

    def publish_now(self, channel: str, msg: Message) -> asyncio.Future[bool] | None:
        """Queue the publish on the next batch without a task of its own (see `_enqueue`); the future settles
        on the broker's confirm: True acked, False nacked (reject-publish at x-max-length). With the window
        full it waits in `_backlog`, in order, and goes out when a confirm frees a slot. None while a late
        queue is being declared or a `publish` waits: the caller then uses `publish`, which waits its turn,
        so a later publish never overtakes an earlier one."""
        if self._slow or self.pub is None or self.pub.is_closed or not self.gate.enter_now():
            return None
        out: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._backlog or not self._window.try_enter():
            self._backlog.append((channel, msg, out))
        elif not self._start(channel, msg, out):
            self._window.leave()
        return out

    def _start(self, channel: str, msg: Message, out: asyncio.Future[bool]) -> bool:
        """Send a publish that holds a window slot; its answer settles `out`, then frees the slot (`_left`).
        False when it could not be sent (the channel closed): `out` has the error, the slot is still held."""
        try:
            self._enqueue(channel, msg, out)
        except Exception as exc:  # noqa: BLE001 - reported through `out`
            self.gate.leave()
            out.set_exception(exc)
            return False
        out.add_done_callback(self._left)
        return True

    def _left(self, _fut: asyncio.Future[bool]) -> None:
        """A publish of `publish_now` was answered: its slot goes to the oldest one in the backlog."""
        self.gate.leave()
        while self._backlog:
            if self._start(*self._backlog.popleft()):
                return
        self._window.leave()

    async def publish(self, channel: str, msg: Message) -> bool:
        """Publish with a confirm, through the gate and the window; False when RabbitMQ nacks it
        (reject-publish at capacity). While one waits, `publish_now` declines."""
        self._slow += 1
        try:
            async with self.gate.publishing(), self._window:
                return await self._enqueue(channel, msg)
        finally:
            self._slow -= 1

    def _enqueue(self, channel: str, msg: Message, out: asyncio.Future[bool] | None = None) -> asyncio.Future[bool]:
        """Number the publish and queue its frames for the next batch write; the future (`out` when given) is its
        confirm.

        What aiormq's `basic_publish` does, less its lock, timeout scope and socket drain per message: "Published
        messages are assigned ascending sequence numbers, starting at 1 with the first Confirm.Select method.
        The server confirms messages by sending Basic.Ack methods referring to these sequence numbers" (the
        AMQP 0-9-1 confirm class, as rendered at
        https://andersfugmann.github.io/amqp-client/amqp-client-async/Amqp_client_async/Spec/Confirm/index.html).
        The tag is taken here, the frames go out in
        that order (one outbox, one writer), and the publish's future is registered where the frame
        reader settles it (`Channel.confirmations`), so each message still gets its own ack or nack. Every
        publish of one loop iteration goes out in one socket write (`_send_outbox`)."""
        assert self.topology is not None
        pub = self.pub
        if pub is None or pub.is_closed:
            raise TransportError("the RabbitMQ publish channel is closed")
        plan = self.topology.channels[channel]
        if self._is_exchange(plan):
            exchange, rk = self.physical(channel), msg.key or ""
        else:
            exchange, rk = "", self.physical(channel)
        expiration = str(max(1, msg.ttl_ns // 1_000_000)) if msg.ttl_ns else None
        body = encode_message(msg)
        frames = self._frames(pub.number, exchange, rk[:255], body, msg.id, 2 if plan.durable else 1, expiration)
        loop = asyncio.get_running_loop()
        pub.delivery_tag += 1
        if out is None:
            out = loop.create_future()
        if self._confirms_direct:           # settled by `_confirms_in_reader`'s reader, failed by `_pub_closed`
            pub.confirmations[pub.delivery_tag] = out
        else:
            confirm = loop.create_future()
            pub.confirmations[pub.delivery_tag] = confirm
            confirm.add_done_callback(lambda f: _settle(f, out))
        self._outbox.append(frames)
        if not self._sending:
            self._sending = True
            asyncio.ensure_future(self._send_outbox())
        return out

    def _frames(self, number: int, exchange: str, rk: str, body: bytes, message_id: str, delivery_mode: int,
                expiration: str | None) -> bytes:
        """One publish's frames on the wire: basic.publish (marshalled once per exchange and routing key:
        pamqp's generic marshal costs about 13 µs a frame), the content header, then the body in frames of at
        most `max_content_size` (type 3, channel, size, payload, frame-end 0xCE: pamqp's own layout).

        The content header is written here too (through pamqp's `Basic.Properties` and `ContentHeader` a
        publish's frames took 4.6-4.8 µs of CPU, written here 1.3): class 60, weight 0, the body size, the
        property flags, then the properties set, in flag order (content-type, delivery-mode, expiration, message-id). A message id too long for a short string
        goes through pamqp, which refuses it as before. `tests/transports/test_pipelined_publish.py` compares the
        bytes with pamqp's."""
        import pamqp.frame

        ContentBody, Basic, ContentHeader = self._frame_types    # noqa: N806 - pamqp's classes
        key = (number, exchange, rk)
        method = self._method_frames.get(key)
        if method is None:
            if len(self._method_frames) >= 4096:
                self._method_frames.clear()
            method = self._method_frames[key] = pamqp.frame.marshal(
                Basic.Publish(exchange=exchange, routing_key=rk), number)
        mid = message_id.encode()
        exp = expiration.encode() if expiration is not None else b""
        if len(mid) > 255 or len(exp) > 255:
            props = Basic.Properties(message_id=message_id, delivery_mode=delivery_mode,
                                     content_type="application/json", expiration=expiration)
            header = pamqp.frame.marshal(ContentHeader(properties=props, body_size=len(body)), number)
        else:
            flags = _FLAGS_EXPIRING if expiration is not None else _FLAGS
            payload = b"".join((_HEADER_HEAD.pack(60, 0, len(body), flags), _CONTENT_TYPE, _MODE[delivery_mode],
                                bytes((len(exp),)) + exp if expiration is not None else b"",
                                bytes((len(mid),)), mid))
            header = _FRAME_HEAD.pack(2, number, len(payload)) + payload + b"\xce"
        parts = [method, header]
        size = self.pub.max_content_size
        for i in range(0, len(body), size):
            chunk = body[i:i + size]
            parts.append(_BODY_HEAD.pack(3, number, len(chunk)) + chunk + b"\xce")
        return b"".join(parts)

    async def _send_outbox(self) -> None:
        """Write the queued publishes, each batch as one frame payload (one socket write), and wait for the
        socket to drain before the next batch (backpressure, as `basic_publish` waits per message)."""
        from aiormq.abc import ChannelFrame

        pub = self.pub
        try:
            while self._outbox:
                parts, self._outbox = self._outbox, []
                drained = pub.create_future()
                await pub.write_queue.put(ChannelFrame(payload=b"".join(parts), should_close=False,
                                                       drain_future=drained))
                await drained
        except Exception as exc:  # noqa: BLE001 - the waiting confirms get the error
            for confirm in list(pub.confirmations.values()):
                if isinstance(confirm, asyncio.Future) and not confirm.done():
                    confirm.set_exception(exc)
            self._outbox = []
        finally:
            self._sending = False

    # ------------------------------------------------------------------ consuming

    async def subscribe(self, spec: SubSpec) -> None:
        """Open a channel for the instance, set its prefetch and start consuming."""
        if spec.group is not None and (spec.channel, spec.group) not in self.queue_of:
            await self._late_group(spec.channel, spec.group)
        queue = self.queue_of.get((spec.channel, spec.group))
        if queue is None:
            raise TransportError(f"no queue declared for channel {spec.channel!r} group {spec.group!r}")
        ch = await self.conn.channel()
        self.sub_channels[spec.sid] = ch
        pf = spec.prefetch
        if not self.classic and (pf == 0 or pf > QUORUM_PREFETCH_CAP):
            pf = QUORUM_PREFETCH_CAP
        await ch.basic_qos(prefetch_count=pf)
        sid = spec.sid
        sink = self.sink
        assert sink is not None
        if self._ack_writer is None:
            self._ack_writer = _AckWriter(self.conn)
        acks = self.acks[id(ch)] = _Acks(ch, self._ack_writer)

        def deliver(message: Any) -> None:
            msg, source = self._message(message)
            if msg.deaths:
                self._observe_death(queue, msg, source, bool(message.delivery.redelivered))
            headers = message.header.properties.headers or {}
            count = int(headers.get("x-delivery-count", 0) or 0)
            acks.open.add(message.delivery.delivery_tag)
            sink.deliver(sid, msg, count, bool(message.delivery.redelivered), (ch, message.delivery.delivery_tag))

        async def on_message(message: Any) -> None:
            deliver(message)

        _deliver_in_reader(ch, deliver, sink)
        await ch.basic_consume(queue, on_message, no_ack=False)

    async def unsubscribe(self, sid: int, reason: str) -> None:
        """Close the instance's channel: RabbitMQ requeues its unacked deliveries."""
        ch = self.sub_channels.pop(sid, None)
        if ch is not None:
            self.acks.pop(id(ch), None)
        if ch is not None and not ch.is_closed:
            await ch.close()

    def busy(self) -> bool:
        """Acks queued for the end of this loop iteration: the drain waits for them."""
        return any(a.pending for a in self.acks.values())

    def ack_now(self, handle: Any) -> bool:
        """Queue the basic.ack on its channel's batch (see `_Acks`); False when the channel has none."""
        ch, tag = handle
        acks = self.acks.get(id(ch))
        if acks is None or acks.ch is not ch:
            return False
        acks.ack(tag)
        return True

    async def ack(self, handle: Any) -> None:
        """basic.ack, batched per channel (see `_Acks`; ignored when the channel has closed meanwhile: the
        broker requeued it)."""
        ch, tag = handle
        acks = self.acks.get(id(ch))
        if acks is not None and acks.ch is ch:
            acks.ack(tag)
        elif not ch.is_closed:
            await ch.basic_ack(tag)

    def _settled(self, ch: Any, tag: int) -> None:
        acks = self.acks.get(id(ch))
        if acks is not None and acks.ch is ch:
            acks.open.discard(tag)

    async def nack(self, handle: Any, delay_ns: int) -> None:
        """basic.nack with requeue; RabbitMQ has no delayed requeue, so evtool holds the delivery first."""
        ch, tag = handle
        if delay_ns > 0:
            await asyncio.sleep(delay_ns / 1e9)
        if not ch.is_closed:
            await ch.basic_nack(tag, requeue=True)
        self._settled(ch, tag)

    async def reject(self, handle: Any) -> None:
        """basic.reject without requeue: dead-lettered through the queue's dead-letter exchange."""
        ch, tag = handle
        if not ch.is_closed:
            await ch.basic_reject(tag, requeue=False)
        self._settled(ch, tag)

    # ------------------------------------------------------------------ cleanup

    async def cleanup(self) -> None:
        """Close consumer and observer channels, then delete every queue and exchange declared."""
        await self.stop_consumers()
        if self.conn is None or self.conn.is_closed:
            return
        ch = await self.conn.channel()
        for q in self.queues:
            await ch.queue_delete(q)
        for e in self.exchanges:
            await ch.exchange_delete(e)
        await ch.close()

    async def stop_consumers(self) -> None:
        """Close consumer and observer channels (unacked dead letters go back to their queue)."""
        for ch in [*self.sub_channels.values(), *self.observers]:
            if not ch.is_closed:
                await ch.close()
        self.sub_channels.clear()
        self.observers.clear()
