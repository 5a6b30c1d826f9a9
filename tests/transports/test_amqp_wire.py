"""`FrameBuffer` returns what aiormq's own frame receiver returns for the same bytes: the same frame
objects with the same field values and types, the same errors for a frame pamqp refuses, and the same end
of stream, however the bytes arrive (one at a time, in chunks, all at once)."""

from __future__ import annotations

import asyncio
import datetime
import random
import re
from typing import Any

import pamqp.frame
import pytest
from aiormq.connection import FrameReceiver
from aiormq.exceptions import AMQPConnectionError, InvalidFrameError
from pamqp.body import ContentBody
from pamqp.commands import Basic, Channel
from pamqp.header import ContentHeader
from pamqp.heartbeat import Heartbeat

from evtool.transports.amqp_wire import FrameBuffer


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
