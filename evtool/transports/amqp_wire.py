"""AMQP 0-9-1 frames read off RabbitMQ's socket in bulk, for aiormq's connection reader.

aiormq reads each frame with three `StreamReader.readexactly` calls under a lock into a `BytesIO`, then
hands the bytes to pamqp, whose generic unmarshal looks up and decodes every field by its type name
(together about a fifth of the client's CPU in the broker benchmark, four frames a message). `FrameBuffer`
reads whatever the socket has buffered in one call and cuts the frames out of it; the frames a run sees
thousands of times (basic.deliver, basic.ack, basic.nack, content headers and bodies) are decoded here into
the same pamqp objects with the same field values, every other frame (and any frame the fast path cannot
decode) by pamqp itself, so an invalid frame fails as it did. `tests/transports/test_amqp_wire.py` compares
the objects with pamqp's, field by field, over frames cut at every byte.

The frame layout is AMQP 0-9-1's (https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf, section 4.2.3):
"All frames start with a 7-octet header composed of a type field (octet), a channel field (short integer)
and a size field (long integer)", then the payload, then the frame-end octet, which "MUST always be the
hexadecimal value %xCE".
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

_HEAD = struct.Struct(">BHI")
"""A frame's header: type, channel, payload size."""
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
"""A long-long as pamqp decodes it (signed)."""
_HEADER_HEAD = struct.Struct(">HHQH")
"""A content header's payload up to its properties: class id, weight, body size, the first property flags."""
_FRAME_END = 0xCE
_READ_SIZE = 1 << 20
"""Most bytes taken from the stream reader's buffer at once (it holds what the socket delivered)."""

_DELIVER, _ACK, _NACK = 0x003C003C, 0x003C0050, 0x003C0078
"""pamqp's method indexes (class id << 16 | method id) of basic.deliver, basic.ack and basic.nack."""


class FrameBuffer:
    """The frames of one connection, read from `reader`: `get_frame` returns what aiormq's
    `FrameReceiver.get_frame` returns, (bytes consumed, channel number, frame object), for the same bytes."""

    __slots__ = ("_body", "_buf", "_by_type", "_deliver", "_header", "_methods", "_pamqp", "_pamqp_error", "_pos",
                 "_props", "_slots", "errors", "reader")

    def __init__(self, reader: asyncio.StreamReader) -> None:
        import aiormq.exceptions
        import pamqp.decode
        import pamqp.exceptions
        import pamqp.frame
        from pamqp.body import ContentBody
        from pamqp.commands import Basic
        from pamqp.header import ContentHeader

        self.reader = reader
        self.errors = aiormq.exceptions
        self._buf = b""
        self._pos = 0
        self._pamqp = pamqp.frame
        self._by_type = pamqp.decode.by_type
        self._pamqp_error = pamqp.exceptions.PAMQPException
        self._body = ContentBody
        self._header = ContentHeader
        self._props = Basic.Properties
        self._deliver = Basic.Deliver
        self._methods = {_ACK: Basic.Ack, _NACK: Basic.Nack}
        flags, unset = Basic.Properties.flags, Basic.Properties()      # what pamqp leaves in a property not sent
        self._slots = tuple((flags[name], name, getattr(Basic.Properties, "_" + name), getattr(unset, name))
                            for name in Basic.Properties.__slots__)

    async def get_frame(self) -> tuple[int, int, Any]:
        """The next frame; StopAsyncIteration once the stream has ended on a frame boundary; aiormq's
        AMQPConnectionError when it ends inside a frame or the socket fails, InvalidFrameError for a frame
        pamqp cannot decode (as aiormq raises them)."""
        buf, pos = self._buf, self._pos
        while True:
            avail = len(buf) - pos
            need = 7
            if avail >= 7:
                ftype, channel, size = _HEAD.unpack_from(buf, pos)
                end = pos + 7 + size
                need = 8 + size
                if len(buf) > end:
                    self._pos = end + 1
                    return need, channel, self._decode(ftype, size, buf, pos, end)
            if avail == 0 and self.reader.at_eof():
                raise StopAsyncIteration
            data = await self._read(avail, need)
            buf = self._buf = buf[pos:] + data if avail else data
            pos = self._pos = 0

    async def _read(self, avail: int, need: int) -> bytes:
        errors = self.errors
        try:
            data = await self.reader.read(_READ_SIZE)
        except ConnectionRefusedError as e:
            raise errors.AMQPConnectionError(f"Server connection refused: {e!r}") from e
        except ConnectionResetError as e:
            raise errors.AMQPConnectionError(f"Server connection reset: {e!r}") from e
        except ConnectionError as e:
            raise errors.AMQPConnectionError(f"Server connection error: {e!r}") from e
        except OSError as e:
            raise errors.AMQPConnectionError(f"Server communication error: {e!r}") from e
        if not data:         # in aiormq's words: it reads a frame's first byte, the rest of its header, the rest
            got, expected = (0, 1) if avail == 0 else (avail - 1, 6) if avail < 7 else (avail - 7, need - 7)
            raise errors.AMQPConnectionError(f"Server connection unexpectedly closed. Read {got} bytes but "
                                             f"{expected} bytes expected")
        return data

    def _decode(self, ftype: int, size: int, buf: bytes, pos: int, end: int) -> Any:
        """The frame at `buf[pos:end + 1]` as pamqp's object."""
        if size and buf[end] == _FRAME_END:      # pamqp refuses a frame without payload (a heartbeat aside)
            start = pos + 7
            try:
                if ftype == 3:
                    return self._body(buf[start:end])
                if ftype == 2:
                    return self._content_header(buf, start, end)
                if ftype == 1 and size >= 4:
                    index = _U32.unpack_from(buf, start)[0]
                    if index == _DELIVER:
                        return self._basic_deliver(buf, start + 4, end)
                    method = self._methods.get(index)
                    if method is not None and size == 13:
                        frame = method.__new__(method)
                        frame.delivery_tag = _I64.unpack_from(buf, start + 4)[0]
                        bits = buf[start + 12]
                        frame.multiple = bool(bits & 1)
                        if index == _NACK:
                            frame.requeue = bool(bits & 2)
                        return frame
            except (ValueError, IndexError, struct.error):
                pass                     # pamqp decodes it again and reports what is wrong with it
        try:
            return self._pamqp.unmarshal(bytes(buf[pos:end + 1]))[2]
        except self._pamqp_error as e:
            raise self.errors.InvalidFrameError(str(e)) from e

    def _basic_deliver(self, buf: bytes, at: int, end: int) -> Any:
        """basic.deliver: consumer-tag (shortstr), delivery-tag (longlong), redelivered (bit), exchange and
        routing-key (shortstr)."""
        frame = self._deliver.__new__(self._deliver)
        n = buf[at]
        frame.consumer_tag = buf[at + 1:at + 1 + n].decode()
        at += 1 + n
        frame.delivery_tag = _I64.unpack_from(buf, at)[0]
        frame.redelivered = bool(buf[at + 8] & 1)
        at += 9
        n = buf[at]
        frame.exchange = buf[at + 1:at + 1 + n].decode()
        at += 1 + n
        n = buf[at]
        frame.routing_key = buf[at + 1:at + 1 + n].decode()
        if at + 1 + n != end:
            raise ValueError("basic.deliver: trailing or missing bytes")
        return frame

    def _content_header(self, buf: bytes, at: int, end: int) -> Any:
        """A content header: class id, weight, body size, property flags, then each property set, in flag
        order (short strings and octets here, tables and timestamps through pamqp's decoders)."""
        class_id, weight, body_size, flags = _HEADER_HEAD.unpack_from(buf, at)
        if flags & 1:
            raise ValueError("more than one property flag word")      # not in AMQP 0-9-1's basic class
        props = self._props.__new__(self._props)
        at += 14
        for flag, name, kind, unset in self._slots:
            if not flags & flag:
                setattr(props, name, unset)
            elif kind == "shortstr":
                n = buf[at]
                if at + 1 + n > end:
                    raise ValueError("short string past the frame")
                setattr(props, name, buf[at + 1:at + 1 + n].decode())
                at += 1 + n
            elif kind == "octet":
                if at >= end:
                    raise ValueError("octet past the frame")
                setattr(props, name, buf[at])
                at += 1
            else:
                used, value = self._by_type(buf[at:end], kind)
                setattr(props, name, value)
                at += used
        if at != end:
            raise ValueError("content header: trailing or missing bytes")
        header = self._header.__new__(self._header)
        header.class_id, header.weight, header.body_size, header.properties = class_id, weight, body_size, props
        return header


def read_frames_in_bulk(conn: Any) -> bool:
    """Make `conn`'s reader task take its frames from a `FrameBuffer` over the same stream reader. A frame
    aiormq's receiver is reading when this is called is finished by it; the buffer reads from there on (one
    reader at a time: the task awaits one frame after the other). False, and aiormq's receiver left as it
    is, when the connection's internals are not the ones this was written against (aiormq 7.2)."""
    task = getattr(conn, "_reader_task", None)
    coro = task.get_coro() if task is not None else None
    frame = getattr(coro, "cr_frame", None)
    receiver = frame.f_locals.get("frame_receiver") if frame is not None else None
    reader = getattr(receiver, "reader", None)
    if receiver is None or not isinstance(reader, asyncio.StreamReader) or not hasattr(receiver, "get_frame"):
        return False
    receiver.get_frame = FrameBuffer(reader).get_frame
    return True


class InlineDeliveries:
    """Deliveries of one consumer channel handed over by the connection's reader as their frames arrive,
    instead of each frame going through the channel's bounded frame queue (ten frames: a burst of deliveries
    stalled the connection's reader every ten frames until the channel's reader task had taken them) to be
    read back by the channel's reader task.

    Installed as the queue's `put`, which aiormq's connection reader awaits for every frame of the channel.
    A basic.deliver is kept here only when the channel's reader is idle: the queue is empty and the reader
    waits on it, so every earlier frame of the channel has been dealt with. Its content header and body
    frames follow it: "Content frames on a specific channel are strictly sequential. That is, they may be
    mixed with frames for other channels, but no two content frames from the same channel may be mixed or
    overlapped, nor may content frames for a single content be mixed with method frames on the same
    channel" (AMQP 0-9-1, section 4.2.6). Once the body is complete (as long as the header's body size
    says, read as aiormq reads it) the message goes to
    `hand_over`, the same function aiormq's reader calls for a delivery it read itself. Any other frame in
    between goes to the queue after the frames kept, in their order, so the channel's reader sees exactly
    the frames it would have seen. Every frame that is not kept goes to the queue as before, and the frames
    of a delivery started there follow it there."""

    __slots__ = ("ch", "content_left", "hand_over", "header", "left", "pending", "put_queued", "queue", "types")

    def __init__(self, ch: Any, hand_over: Any) -> None:
        from aiormq.abc import DeliveredMessage
        from pamqp.body import ContentBody
        from pamqp.commands import Basic
        from pamqp.header import ContentHeader

        self.ch = ch
        self.queue = ch.frames
        self.put_queued = ch.frames.put
        self.hand_over = hand_over
        self.types = (Basic.Deliver, ContentHeader, ContentBody, DeliveredMessage,
                      (Basic.Deliver, Basic.Return, Basic.GetOk))
        self.pending: list[Any] | None = None     # the frames of the delivery being put together
        self.header: Any = None
        self.left = 0                             # body bytes still to come
        self.content_left = 0                     # of a delivery sent to the queue: -1 its header, else bytes

    def _idle(self) -> bool:
        queue = self.queue
        return not queue._queue and any(not g.done() for g in queue._getters)

    async def put(self, item: tuple[int, Any]) -> None:
        """Take one frame of the channel from the connection's reader."""
        frame = item[1]
        deliver, header_type, body_type, _message, _starts = self.types
        pending = self.pending
        if pending is None:
            if type(frame) is deliver and not self.content_left and self._idle():
                self.pending = [item]
                return
            await self._queued(item)
            return
        kind = type(frame)
        if self.header is None and kind is header_type:
            self.header = frame
            self.left = frame.body_size
        elif self.header is not None and kind is body_type and self.left > 0:
            self.left -= len(frame.value)
        else:
            self.pending = self.header = None
            for kept in pending:
                await self._queued(kept)
            await self._queued(item)
            return
        pending.append(item)
        if self.left <= 0:
            self._complete(pending)

    def _complete(self, pending: list[Any]) -> None:
        message_type = self.types[3]
        header, self.header, self.pending = self.header, None, None
        body = b"".join(f.value for _, f in pending[2:])
        frame = pending[0][1]
        self.hand_over(frame, message_type(delivery=frame, header=header, body=body, channel=self.ch))

    async def _queued(self, item: tuple[int, Any]) -> None:
        """Send a frame to the channel's queue, noting whether a delivery's content is still to follow it."""
        frame = item[1]
        _deliver, header_type, body_type, _message, starts = self.types
        kind = type(frame)
        if isinstance(frame, starts):
            self.content_left = -1
        elif kind is header_type and self.content_left == -1:
            self.content_left = frame.body_size or 0
        elif kind is body_type and self.content_left > 0:
            self.content_left = max(0, self.content_left - len(frame.value))
        else:
            self.content_left = 0
        await self.put_queued(item)


def deliver_inline(ch: Any, hand_over: Any) -> bool:
    """Install `InlineDeliveries` on `ch` (see there); False, and nothing changed, when the channel's frame
    queue is not the asyncio queue this was written against (aiormq 7.2, Python 3.11)."""
    queue = getattr(ch, "frames", None)
    if not isinstance(queue, asyncio.Queue) or not hasattr(queue, "_getters") or not hasattr(queue, "_queue"):
        return False
    queue.put = InlineDeliveries(ch, hand_over).put      # type: ignore[method-assign]
    return True
