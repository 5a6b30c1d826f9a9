"""`FrameBuffer` returns what aiormq's own frame receiver returns for the same bytes: the same frame
objects with the same field values and types, the same errors for a frame pamqp refuses, and the same end
of stream, however the bytes arrive (one at a time, in chunks, all at once)."""

from __future__ import annotations

import asyncio
import datetime
import random
import re
import uuid
from typing import Any

import pamqp.frame
import pytest
from aiormq.connection import FrameReceiver
from aiormq.exceptions import AMQPConnectionError, InvalidFrameError
from pamqp.body import ContentBody
from pamqp.commands import Basic, Channel
from pamqp.header import ContentHeader
from pamqp.heartbeat import Heartbeat

from evtool.transports.amqp_wire import FrameBuffer, deliver_inline


def _header(body_size: int, **props: Any) -> ContentHeader:
    return ContentHeader(body_size=body_size, properties=Basic.Properties(**props))


X_DEATH = [{"count": 2, "exchange": "", "queue": "p.jobs", "reason": "rejected", "routing-keys": ["p.jobs"],
            "time": datetime.datetime(2026, 12, 4, 20, 0, 0, tzinfo=datetime.UTC)}]

FRAMES: list[tuple[int, Any]] = [
    (1, Basic.Deliver("amq.ctag-Xy_z0123456789abcdef", 1, False, "", "evtool-abc.work")),
    (2, _header(5, content_type="application/json", delivery_mode=2, message_id="m1")),
    (2, ContentBody(b"hello")),
    (7, Basic.Deliver("c", 2**63 - 5, True, "evtool-abc.orders", "rk.é.ü")),
    (7, _header(0, content_type="application/json", delivery_mode=1, expiration="250", message_id="m-2",
                headers={"x-delivery-count": 3, "x-death": X_DEATH, "x-first-death-reason": "rejected"})),
    (3, _header(2, content_type="a", content_encoding="gzip", headers={}, delivery_mode=2, priority=7,
                correlation_id="c", reply_to="r", expiration="1", message_id="i", message_type="t",
                timestamp=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
                user_id="guest", app_id="evtool")),
    (3, ContentBody(b"\x00\xce")),
    (3, _header(1)),
    (3, ContentBody(b"{")),
    (1, Basic.Ack(41, False)),
    (1, Basic.Ack(42, True)),
    (1, Basic.Ack(0, True)),
    (1, Basic.Nack(43, False, True)),
    (1, Basic.Nack(44, True, False)),
    (1, Basic.Nack(45, True, True)),
    (0, Heartbeat()),
    (2, Basic.ConsumeOk("ctag")),
    (2, Basic.QosOk()),
    (2, Basic.Cancel("ctag", True)),
    (2, Channel.CloseOk()),
    (2, Channel.Close(406, "PRECONDITION_FAILED - unknown delivery tag 7", 60, 80)),
]


def _stream() -> bytes:
    return b"".join(pamqp.frame.marshal(f, ch) if not isinstance(f, Heartbeat) else f.marshal()
                    for ch, f in FRAMES)


def _fields(frame: Any) -> Any:
    """A frame as comparable data: its class and every field with its type."""
    if isinstance(frame, ContentHeader):
        return ("header", frame.class_id, frame.weight, frame.body_size,
                [(k, type(v), v) for k, v in frame.properties])
    if isinstance(frame, ContentBody):
        return ("body", type(frame.value), frame.value)
    if isinstance(frame, Heartbeat):
        return ("heartbeat",)
    return (type(frame), [(k, type(v), v) for k, v in frame])


async def _read_all(data: bytes, cuts: list[int], bulk: bool) -> list[Any]:
    reader = asyncio.StreamReader()
    receiver: Any = FrameBuffer(reader) if bulk else FrameReceiver(reader)
    receiver_started = getattr(receiver, "started", None)
    if receiver_started is not None:
        receiver.started = True

    async def feed() -> None:
        last = 0
        for cut in [*cuts, len(data)]:
            reader.feed_data(data[last:cut])
            last = cut
            await asyncio.sleep(0)
        reader.feed_eof()

    feeder = asyncio.ensure_future(feed())
    out: list[Any] = []
    try:
        while True:
            weight, channel, frame = await receiver.get_frame()
            out.append((weight, channel, _fields(frame)))
    except StopAsyncIteration:
        out.append("end")
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        out.append((type(exc), re.sub(r"0x[0-9a-f]+", "0x...", str(exc))))   # pamqp names the object
    await feeder
    return out


def _both(data: bytes, cuts: list[int]) -> tuple[list[Any], list[Any]]:
    return (asyncio.run(_read_all(data, cuts, bulk=False)), asyncio.run(_read_all(data, cuts, bulk=True)))


def test_the_frames_of_a_run_decode_as_aiormq_decodes_them() -> None:
    data = _stream()
    theirs, ours = _both(data, [])
    assert len(theirs) == len(FRAMES) + 1 and all(isinstance(f, tuple) and len(f) == 3 for f in theirs[:-1])
    assert ours == theirs
    assert _both(data, list(range(1, len(data)))) == (theirs, theirs), "fed one byte at a time"
    rng = random.Random(14)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(data)), 12))
        assert _both(data, cuts)[1] == theirs


@pytest.mark.parametrize("damage", ["frame end", "method index", "truncated", "no payload", "short string",
                                    "trailing bytes", "tag past 2**63"])
def test_a_frame_pamqp_refuses_or_reads_oddly_fails_or_reads_the_same_way(damage: str) -> None:
    good = _stream()
    deliver = pamqp.frame.marshal(Basic.Deliver("c", 9, False, "", "q"), 1)
    if damage == "frame end":
        bad = deliver[:-1] + b"\x00"
    elif damage == "method index":
        bad = deliver[:7] + b"\x00\x3c\x00\x3d" + deliver[11:]
    elif damage == "truncated":
        bad = deliver[:-3]
    elif damage == "no payload":
        bad = b"\x03\x00\x01\x00\x00\x00\x00\xce"
    elif damage == "short string":         # a length past the payload: pamqp reads what there is
        bad = deliver[:11] + b"\x7f" + deliver[12:]
    elif damage == "tag past 2**63":        # pamqp reads a long-long as signed
        bad = deliver[:13] + b"\xff" * 8 + deliver[21:]
    else:                                   # bytes after the last field: pamqp ignores them
        payload = pamqp.frame.marshal(Basic.Ack(3, True), 1)[7:-1] + b"\x00\x00"
        bad = b"\x01\x00\x01" + len(payload).to_bytes(4, "big") + payload + b"\xce"
    data = good[:40] + bad if damage == "truncated" else good + bad + good
    theirs, ours = _both(data, [len(data) // 3])
    assert ours == theirs
    if damage in ("frame end", "method index", "truncated", "no payload"):
        assert theirs[-1][0] in (InvalidFrameError, AMQPConnectionError)


class _Channel:
    """What `InlineDeliveries` uses of aiormq's channel: its frame queue (bounded, as aiormq's) and number."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[Any] = asyncio.Queue(maxsize=10)
        self.number = 1


def _delivery(tag: int, body: bytes, frame_size: int = 4) -> list[Any]:
    """The frames of one delivery: basic.deliver, the content header, the body in frames of `frame_size`."""
    frames: list[Any] = [Basic.Deliver("c", tag, False, "", "q"), _header(len(body), message_id=f"m{tag}")]
    frames += [ContentBody(body[i:i + frame_size]) for i in range(0, len(body), frame_size)]
    return frames


async def _run(script: list[Any], *, busy_on: type | None = None) -> tuple[list[Any], list[Any]]:
    """Feed frames (and "idle" marks) through `InlineDeliveries` as aiormq's connection reader does, with a
    channel reader that takes frames from the queue and, on a frame of type `busy_on`, stays busy until the
    next "idle" mark. Returns (what the channel's reader saw, what was handed over inline)."""
    ch = _Channel()
    seen: list[Any] = []
    handed: list[Any] = []
    free = asyncio.Event()
    free.set()

    async def channel_reader() -> None:
        while True:
            _, frame = await ch.frames.get()
            seen.append(frame)
            if busy_on is not None and isinstance(frame, busy_on):
                free.clear()
                await free.wait()

    assert deliver_inline(ch, lambda frame, message: handed.append(message))
    task = asyncio.ensure_future(channel_reader())
    await asyncio.sleep(0)
    for step in script:
        if step == "idle":
            free.set()
            for _ in range(3):
                await asyncio.sleep(0)
        else:
            await ch.frames.put((0, step))
            for _ in range(3):             # the channel's reader takes what was queued
                await asyncio.sleep(0)
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    return seen, handed


def test_deliveries_are_handed_over_inline_only_while_the_channel_reader_is_idle() -> None:
    """AMQP 0-9-1 (https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf, section 4.2.6): "Content frames
    on a specific channel are strictly sequential. That is, they may be mixed with frames for other
    channels, but no two content frames from the same channel may be mixed or overlapped, nor may content
    frames for a single content be mixed with method frames on the same channel." With the
    channel's reader idle, whole deliveries (an empty body, one frame, several) go to `hand_over` and its
    queue sees nothing; while it is busy with an earlier frame, a delivery and all its content go to the
    queue behind it, even when the reader becomes idle before the content has all arrived."""
    a, b, c = _delivery(1, b""), _delivery(2, b"abc"), _delivery(3, b"0123456789")
    seen, handed = asyncio.run(_run([*a, *b, *c]))
    assert seen == []
    assert [(m.delivery.delivery_tag, m.body, m.header.properties.message_id) for m in handed] == [
        (1, b"", "m1"), (2, b"abc", "m2"), (3, b"0123456789", "m3")]
    assert all(m.header is f[1] and m.delivery is f[0] for m, f in zip(handed, (a, b, c), strict=True))

    ok = Basic.QosOk()
    d, e = _delivery(4, b"0123456789"), _delivery(5, b"xy")
    seen, handed = asyncio.run(_run([ok, *d[:2], "idle", *d[2:], *e], busy_on=Basic.QosOk))
    assert seen == [ok, *d]
    assert [m.delivery.delivery_tag for m in handed] == [5]

    # a delivery whose body never came (a broken stream): the next one follows it to the channel's reader,
    # which fails on it as aiormq always did ("Unexpected frame"), instead of being handed over
    seen, handed = asyncio.run(_run([ok, *d[:2], "idle", *e], busy_on=Basic.QosOk))
    assert seen == [ok, *d[:2], *e]
    assert handed == []


def test_a_delivery_cut_short_by_another_frame_reaches_the_channel_reader_as_it_came() -> None:
    """AMQP 0-9-1, section 4.2.6: "Note that any non-content frame explicitly marks the end of the content.
    Although the size of the content is well-known from the content header (and thus also the number of
    content frames), this allows for a sender to abort the sending of content without the need to close the
    channel." Here aiormq's reader decides what that means: the frames kept so far and that frame go
    to the channel's reader in their order, and nothing is handed over; aiormq's reader then deals with them
    as it always did; the next delivery, with the reader idle again, is handed over."""
    d = _delivery(6, b"0123456789")
    cut = Basic.Ack(3, False)
    seen, handed = asyncio.run(_run([*d[:3], cut, *_delivery(7, b"z")]))
    assert seen == [*d[:3], cut]
    assert [m.delivery.delivery_tag for m in handed] == [7]


@pytest.mark.broker
def test_rabbitmq_deliveries_read_in_bulk_and_inline_are_the_ones_aiormq_reads(rabbitmq_url: str) -> None:
    """On the real broker: the same messages (an empty body, a small one, one of three body frames at
    RabbitMQ's frame_max, headers and a timestamp) consumed by a plain aiormq connection and by one reading
    in bulk with deliveries handed over inline arrive with the same delivery fields, properties and bodies,
    in the same order."""
    import aiormq

    from evtool.transports.amqp_wire import read_frames_in_bulk

    bodies = [b"", b"x", bytes(range(256)) * 1200, b"{}"]
    queue = f"evtool-wire-{uuid.uuid4().hex}"
    props = Basic.Properties(content_type="application/json", delivery_mode=2, message_id="m", priority=3,
                             headers={"x-n": 7, "x-s": "é", "x-l": [1, "a"], "x-t": {"k": True}},
                             timestamp=datetime.datetime(2026, 12, 4, 20, 0, tzinfo=datetime.UTC))

    async def consume(bulk: bool) -> list[Any]:
        conn = await aiormq.connect(rabbitmq_url)
        try:
            if bulk:
                assert read_frames_in_bulk(conn)
            ch = await conn.channel()
            await ch.queue_declare(queue, exclusive=True)      # gone with the connection
            got: list[Any] = []
            done = asyncio.Event()

            def take(frame: Any, message: Any) -> None:
                got.append((_fields(message.delivery)[1][1:], _fields(message.header), message.body))
                if len(got) == len(bodies):
                    done.set()

            sub = await conn.channel()
            if bulk:
                assert deliver_inline(sub, lambda frame, message: (inline.append(1), take(frame, message)))

            async def slow_path(message: Any) -> None:
                take(message.delivery, message)

            await sub.basic_consume(queue, slow_path, no_ack=True)
            for body in bodies:
                await ch.basic_publish(body, routing_key=queue, properties=props)
            await asyncio.wait_for(done.wait(), 10)
            return got
        finally:
            await conn.close()

    inline: list[int] = []
    plain, ours = asyncio.run(consume(False)), asyncio.run(consume(True))
    assert [b for _, _, b in plain] == bodies
    assert ours == plain
    assert inline, "the consumer channel's reader was idle: deliveries were handed over inline"
