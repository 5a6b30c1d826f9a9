"""Pipelined publishing keeps every per-message answer: the publishes of one event-loop iteration go to the
broker together, and each message is still confirmed, refused or stored on its own.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from evtool.core.message import Message
from evtool.core.routing import partition_for_key
from evtool.transports.base import ChannelPlan, PublishWindow, Topology, decode_message, new_prefix


class _Sink:
    """Records what the adapter reports (nothing is consumed in these tests)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def deliver(self, *args: Any) -> None:
        raise AssertionError("nothing subscribes here")

    def dead(self, *args: Any, **kw: Any) -> None:
        pass

    def kept(self, *args: Any) -> None:
        pass

    def problem(self, text: str) -> None:
        self.problems.append(text)


async def _rabbit(url: str, window: int | None = None, capacity: int = 2, n: int = 6
                  ) -> tuple[list[bool], int, list[str]]:
    from evtool.transports.amqp import RabbitMQTransport

    t = RabbitMQTransport(url, classic=True)
    if window is not None:
        t._window = PublishWindow(window)
    await t.connect()
    plan = ChannelPlan("jobs", "queue", capacity=capacity, overflow="reject_publish", durable=False)
    sink = _Sink()
    await t.declare(Topology(new_prefix(), {"jobs": plan}), sink)
    writes = 0
    queue = t.pub.write_queue
    put = queue.put

    async def counting_put(frame: Any) -> None:
        nonlocal writes
        writes += 1
        await put(frame)

    queue.put = counting_put  # type: ignore[method-assign]
    try:
        futs = [t.publish_now("jobs", Message(id=f"m{i}", channel="jobs")) for i in range(n)]
        assert all(f is not None for f in futs), "an open window takes every publish without a task"
        answers = list(await asyncio.gather(*futs))  # type: ignore[arg-type]
        # the slow path (a publish that awaits its turn) is numbered on the same channel after them
        answers.append(await t.publish("jobs", Message(id=f"m{n}", channel="jobs")))
    finally:
        queue.put = put  # type: ignore[method-assign]
        await t.cleanup()
        await t.close()
    return answers, writes, sink.problems


@pytest.mark.broker
def test_rabbitmq_batched_publishes_each_get_their_own_confirm(rabbitmq_url: str) -> None:
    """RabbitMQ, Queue Length Limit (https://www.rabbitmq.com/docs/maxlength, as quoted in translation at
    https://blog.csdn.net/weixin_41280091/article/details/118962063): "If overflow is set to reject-publish
    or reject-publish-dlx, the most recently published messages will be discarded. In addition, if publisher
    confirms are enabled, the publisher will be informed of the reject via a basic.nack message." And the
    AMQP 0-9-1 confirm class (https://andersfugmann.github.io/amqp-client/amqp-client-async/Amqp_client_async/
    Spec/Confirm/index.html): "Published messages are assigned ascending sequence numbers, starting at 1 with
    the first Confirm.Select method. The server confirms messages by sending Basic.Ack methods referring to
    these sequence numbers."

    Six publishes issued in one loop iteration to a queue with x-max-length 2 go out in one socket write;
    the first two are acked and the other four nacked, each on its own message (checked on RabbitMQ 3.10.8
    here); a publish issued after them through the awaiting path is numbered after them and nacked too."""
    answers, writes, problems = asyncio.run(_rabbit(rabbitmq_url))
    assert answers == [True, True, False, False, False, False, False]
    assert writes == 2          # the six together, then the seventh
    assert problems == []


@pytest.mark.broker
def test_rabbitmq_publishes_past_the_window_wait_in_order_without_a_task(rabbitmq_url: str) -> None:
    """The same documentation as above. With a window of 2 confirms outstanding, eight publishes issued at
    once to a queue of x-max-length 3: the six over the window wait in the backlog and go out, in order, as
    confirms free slots, so the first three are acked and the other five nacked, then the awaiting path's
    publish after them is nacked too."""
    answers, writes, problems = asyncio.run(_rabbit(rabbitmq_url, window=2, capacity=3, n=8))
    assert answers == [True] * 3 + [False] * 6
    assert writes > 2                   # the backlog went out as slots came free
    assert problems == []


async def _kafka(url: str) -> tuple[list[bool], list[tuple[str, int, int]], dict[tuple[int, int], str]]:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import NewTopic

    from evtool.transports.kafka import KafkaTransport
    from evtool.transports.kafka_batch import BatchPublisher

    t = KafkaTransport(url)
    await t.connect()
    topic = f"evt-pipe-{uuid.uuid4().hex[:8]}"
    await t.admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    stored: list[tuple[str, int, int]] = []
    read: dict[tuple[int, int], str] = {}
    try:
        batcher = BatchPublisher(t.producer, lambda _c: topic, lambda _c, m, p, o: stored.append((m.id, p, o)))
        msgs = [Message(id=f"m{i}", channel="c", key=f"k{i % 5}") for i in range(30)]
        answers = list(await asyncio.gather(*(batcher.enqueue("c", m) for m in msgs)))
        cons = AIOKafkaConsumer(bootstrap_servers=t.bootstrap, enable_auto_commit=False)
        await cons.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(3)]
            cons.assign(tps)
            await cons.seek_to_beginning(*tps)
            for _ in range(50):
                got = await cons.getmany(timeout_ms=200)
                for tp, recs in got.items():
                    for r in recs:
                        read[(tp.partition, r.offset)] = decode_message(r.value).id
                if len(read) >= len(msgs):
                    break
        finally:
            await cons.stop()
    finally:
        await t.admin.delete_topics([topic])
        await t.close()
    return answers, stored, read


@pytest.mark.broker
def test_kafka_batched_records_each_get_their_own_offset(kafka_url: str) -> None:
    """Kafka, Message Format (https://kafka.apache.org/42/implementation/message-format): "Messages (aka
    Records) are always written in batches. The technical term for a batch of messages is a record batch, and
    a record batch contains one or more records"; the batch carries its baseOffset and each record its
    offsetDelta.

    Thirty keyed records enqueued in one loop iteration go to three partitions as record batches; each is
    answered with its own (partition, offset): the partition Kafka's default partitioner picks for its key,
    offsets 0.. in enqueue order within each partition, and reading the partitions back (Tansu here) finds
    each record at exactly the offset it was answered with."""
    answers, stored, read = asyncio.run(_kafka(kafka_url))
    assert answers == [True] * 30
    assert {(p, o): mid for mid, p, o in stored} == read
    for mid, p, _o in stored:
        assert p == partition_for_key(f"k{int(mid[1:]) % 5}", 3)
    for p in range(3):
        mine = [(int(mid[1:]), o) for mid, pp, o in stored if pp == p]
        assert [o for _i, o in sorted(mine)] == list(range(len(mine)))


def test_publish_window_try_enter_takes_free_slots_and_never_jumps_the_queue() -> None:
    """`PublishWindow.try_enter` takes a slot only when one is free and nobody waits; `leave` hands a slot to
    the oldest waiter first."""
    async def go() -> list[str]:
        w = PublishWindow(2)
        order: list[str] = []
        assert w.try_enter() and w.try_enter()
        assert not w.try_enter()

        async def waiter(name: str) -> None:
            async with w:
                order.append(name)

        task = asyncio.ensure_future(waiter("queued"))
        await asyncio.sleep(0)
        w.leave()                       # the queued publish gets this slot ...
        assert not w.try_enter()        # ... so a callback publish cannot take it first
        await task
        assert w.try_enter()            # the queued one left: its slot is free again
        return order

    assert asyncio.run(go()) == ["queued"]


class _FakeChannel:
    def __init__(self, number: int) -> None:
        self.number = number
        self.is_closed = False


class _FakeConnection:
    def __init__(self) -> None:
        self.is_closed = False
        self.write_queue: asyncio.Queue[Any] = asyncio.Queue()


def _frames(payload: bytes) -> list[tuple[int, int, bool]]:
    """(channel, delivery tag, multiple) of every Basic.Ack frame in `payload`."""
    import pamqp.frame

    out = []
    while payload:
        used, channel, frame = pamqp.frame.unmarshal(payload)
        payload = payload[used:]
        out.append((channel, frame.delivery_tag, frame.multiple))
    return out


def test_rabbitmq_acks_of_one_iteration_share_one_write_and_multiple_never_covers_a_held_tag() -> None:
    """RabbitMQ, Consumer Acknowledgements (https://www.rabbitmq.com/docs/confirms, in translation at
    https://codetds.com/article/2383524): given delivery tags 5, 6, 7 and 8 unacknowledged on a channel, an
    ack with delivery tag 8 and multiple set acknowledges all of 5 to 8. So a multiple ack may only cover tags
    the run acked: with deliveries 1-6 open on one channel and 1, 2, 3, 5 acked while 4 is still held, the
    channel writes one multiple ack up to 3 and a single ack of 5; another channel's ack goes in the same
    socket write (frames name their channel)."""
    from evtool.transports.amqp import _Acks, _AckWriter

    async def go() -> tuple[list[tuple[int, int, bool]], set[int], int]:
        conn = _FakeConnection()
        writer = _AckWriter(conn)
        a, b = _Acks(_FakeChannel(3), writer), _Acks(_FakeChannel(4), writer)
        a.open.update(range(1, 7))
        b.open.add(1)
        for tag in (2, 1, 5, 3):
            a.ack(tag)
        b.ack(1)
        await asyncio.sleep(0)          # the end of the iteration
        writes = conn.write_queue.qsize()
        frame = conn.write_queue.get_nowait()
        return _frames(frame.payload), a.open, writes

    frames, still_open, writes = asyncio.run(go())
    assert writes == 1
    assert frames == [(3, 3, True), (3, 5, False), (4, 1, False)]
    assert still_open == {4, 6}


def test_rabbitmq_ack_frames_are_the_bytes_pamqp_writes() -> None:
    """`_AckWriter` writes basic.ack frames by hand; they are pamqp's, byte for byte."""
    from aiormq.abc import ChannelFrame
    from pamqp.commands import Basic

    from evtool.transports.amqp import _ACK_FRAME, _BASIC_ACK

    for channel in (1, 7, 65535):
        for tag in (1, 2, 255, 256, 70_000, 2**32 + 3, 2**63 - 1):
            for multiple in (False, True):
                ours = _ACK_FRAME.pack(1, channel, 13, _BASIC_ACK, tag, multiple, 0xCE)
                theirs = ChannelFrame.marshall(channel_number=channel,
                                               frames=[Basic.Ack(delivery_tag=tag, multiple=multiple)]).payload
                assert ours == theirs


def test_the_wire_format_round_trips_every_field_in_message_order() -> None:
    """`decode_message` builds the Message positionally from `_FIELDS` (one call instead of a keyword dict):
    the order must stay Message's own, and every field must come back in its place."""
    import ast
    from pathlib import Path

    from evtool.core import message as message_module
    from evtool.core.message import DeathRecord
    from evtool.transports.base import _FIELDS, encode_message

    # Message.__init__'s parameters, read from its source (a compiled build's extension type shows
    # only `*args, **kwargs` to inspect.signature)
    source = Path(message_module.__file__).with_name("message.py").read_text()
    init = next(f for c in ast.parse(source).body
                if isinstance(c, ast.ClassDef) and c.name == "Message"
                for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    params = [a.arg for a in init.args.args][1:1 + len(_FIELDS)]
    assert tuple(params) == _FIELDS
    msg = Message(id="i", channel="c", key="k", headers={"h": "1"}, payload={"p": [1]}, type="t", version=3,
                  published_at=4, seq=5, causation_id="ca", correlation_id="co", tag="tg", producer="pr",
                  reply_to="rt")
    msg.deaths = (DeathRecord("c", "rejected", 2, 7, 8, "k"),)
    back = decode_message(encode_message(msg))
    assert [getattr(back, f) for f in _FIELDS] == [getattr(msg, f) for f in _FIELDS]
    assert [d.as_dict() for d in back.deaths] == [d.as_dict() for d in msg.deaths]


def test_rabbitmq_publish_frames_are_the_bytes_pamqp_writes() -> None:
    """`RabbitMQTransport._frames` writes a publish's frames itself (basic.publish marshalled once per
    routing key, the content header and body frames by hand): the bytes must be those of aiormq's
    `ChannelFrame.marshall` over pamqp's frames, for a body split over several frames too, with and without an
    expiration, persistent or not, and a non-ASCII message id."""
    from aiormq.abc import ChannelFrame
    from pamqp.body import ContentBody
    from pamqp.commands import Basic
    from pamqp.header import ContentHeader

    from evtool.transports.amqp import RabbitMQTransport

    class _Pub:
        max_content_size = 100

    t = RabbitMQTransport("amqp://unused")
    t.pub = _Pub()
    t._frame_types = (ContentBody, Basic, ContentHeader)
    for mid, mode, expiration in (("m1", 2, "5"), ("order-12345-é", 1, None), ("x" * 255, 2, "86400000")):
        props = Basic.Properties(message_id=mid, delivery_mode=mode, content_type="application/json",
                                 expiration=expiration)
        for body in (b"x" * 10, bytes(range(256)), b""):
            for _ in range(2):          # the second time from the cached basic.publish
                got = t._frames(7, "ex", "a.b", body, mid, mode, expiration)
                frames = [Basic.Publish(exchange="ex", routing_key="a.b"),
                          ContentHeader(properties=props, body_size=len(body))]
                frames += [ContentBody(body[i:i + 100]) for i in range(0, len(body), 100)]
                assert got == ChannelFrame.marshall(channel_number=7, frames=frames).payload, (mid, body)


async def _rabbit_closed(url: str) -> list[str]:
    from evtool.transports.amqp import RabbitMQTransport

    t = RabbitMQTransport(url, classic=True)
    await t.connect()
    topo = Topology(new_prefix(), {"ev": ChannelPlan("ev", "topic", groups=["g"], durable=False)})
    await t.declare(topo, _Sink())
    try:
        await t.admin.exchange_delete(t.physical("ev"))   # the next publish to it closes the channel
        futs = [t.publish_now("ev", Message(id=f"m{i}", channel="ev")) for i in range(3)]
        done = await asyncio.wait_for(asyncio.gather(*futs, return_exceptions=True), timeout=5)  # type: ignore[arg-type]
    finally:
        t.exchanges.clear()
        await t.cleanup()
        await t.close()
    return [type(d).__name__ for d in done]


@pytest.mark.broker
def test_rabbitmq_publishes_waiting_for_confirms_fail_when_the_channel_closes(rabbitmq_url: str) -> None:
    """"Publishing to a nonexistent exchange closes the channel with a 404 ... AMQP publishing is asynchronous,
    so the broker reports this by closing the channel with a 404 rather than returning an error to the publish
    call itself" (https://devopsaitoolkit.com/blog/rabbitmq-error-basic-publish-failed/; checked on 3.10.8
    here: the channel closes with NOT_FOUND). Publishes already waiting for their confirm then fail (within
    seconds) instead of waiting for ever: evtool registers their confirm futures itself, so it fails them when
    the channel's `closing` completes."""
    got = asyncio.run(_rabbit_closed(rabbitmq_url))
    assert len(got) == 3 and all(name != "bool" for name in got), got


def test_decode_message_reads_bodies_as_json_loads_does() -> None:
    """`decode_message` skips json.loads' encoding sniffing for a body opening with `{"` (UTF-8 to
    `json.detect_encoding`); the message is the one json.loads' document gives, for an encoded message, raw
    UTF-8, a lone surrogate written with surrogatepass, and a body in another encoding (sniffed as before)."""
    import json

    from evtool.transports.base import _FIELDS, decode_message, encode_message

    enc = encode_message(Message(id="m1", channel="c", payload={"k": "é"}, tag="t"))
    raw = '{"id":"m2","channel":"ç","payload":"\\u00e9 é \ud800"}'
    bodies = [enc, raw.encode("utf-8", "surrogatepass"), raw.encode("utf-16-le", "surrogatepass"), raw]
    for body in bodies:
        doc = json.loads(body)
        got = decode_message(body)  # type: ignore[arg-type]
        assert [getattr(got, f) for f in _FIELDS if f in doc] == [doc[f] for f in _FIELDS if f in doc]
    assert json.detect_encoding(bodies[1]) == "utf-8" and bodies[1][:2] == b'{"'
