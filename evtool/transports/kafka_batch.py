"""The Kafka adapter's publisher: the records of one event-loop iteration go to the broker as one record batch
per partition (aiokafka's `send_batch`), instead of one task and one `send` per record.

Kafka's producer batches records anyway ("The producer will attempt to batch records together into fewer
requests whenever multiple records are being sent to the same partition", batch.size in
https://kafka.apache.org/documentation/#producerconfigs, as quoted at
https://mail-archive.com/users@kafka.apache.org/msg13490.html; "Messages (aka Records) are always written in
batches", https://kafka.apache.org/42/implementation/message-format); here the batch is built by evtool, so no
task waits per record. Each record still gets its own answer: the batch's base offset plus the record's offset
delta within the batch (aiokafka's `MessageBatch.done` gives each record ``base_offset + metadata.offset``;
tests/transports/test_pipelined_publish.py reads each back at that offset), and a batch the broker refuses
fails each of its records. The partition is the one aiokafka's own partitioner picks
for the record's key (`AIOKafkaProducer._partition`), as `send` would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from evtool.core.message import Message
from evtool.transports.base import encode_message

Stored = Callable[[str, Message, int, int], None]
"""Called for each record the broker stored: (channel, message, partition, offset)."""


class BatchPublisher:
    """Queue records (`enqueue`) and send each loop iteration's as one batch per partition (see the module
    docstring). Records keep their enqueue order within each partition."""

    def __init__(self, producer: Any, topic_of: Callable[[str], str], stored: Stored) -> None:
        self.producer = producer
        self.topic_of = topic_of
        self.stored = stored
        self.outbox: list[tuple[str, Message, asyncio.Future[bool]]] = []
        self.sending = False
        self.known: set[str] = set()        # topics whose partitions the producer's metadata holds

    def enqueue(self, channel: str, msg: Message) -> asyncio.Future[bool]:
        """Queue `msg` for the next batch of its partition; the future: True stored, or the broker's error."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.outbox.append((channel, msg, fut))
        if not self.sending:
            self.sending = True
            asyncio.ensure_future(self._send())
        return fut

    async def _send(self) -> None:
        try:
            while self.outbox:
                items, self.outbox = self.outbox, []
                handed: set[int] = set()       # ids of the futures whose batch the producer took
                try:
                    await self._send_batches(items, handed)
                except Exception as exc:  # noqa: BLE001 - every record not yet handed over gets the error
                    for _c, _m, fut in items:
                        if id(fut) not in handed and not fut.done():
                            fut.set_exception(exc)
        finally:
            self.sending = False

    async def _send_batches(self, items: list[tuple[str, Message, asyncio.Future[bool]]], handed: set[int]) -> None:
        producer = self.producer
        parts: dict[tuple[str, int], list[tuple[Message, bytes | None, bytes, asyncio.Future[bool]]]] = {}
        for channel, msg, fut in items:
            topic = self.topic_of(channel)
            if topic not in self.known:
                await producer.client._wait_on_metadata(topic)
                self.known.add(topic)
            key = str(msg.key).encode() if msg.key is not None else None
            value = encode_message(msg)
            p = producer._partition(topic, None, msg.key, value, key, value)
            parts.setdefault((channel, p), []).append((msg, key, value, fut))
        for (channel, p), recs in parts.items():
            i = 0
            while i < len(recs):
                batch = producer.create_batch()
                chunk: list[tuple[Message, int, asyncio.Future[bool]]] = []
                while i < len(recs):
                    msg, key, value, fut = recs[i]
                    meta = batch.append(timestamp=None, key=key, value=value)
                    if meta is None:
                        if not chunk:
                            raise ValueError(f"a record of {len(value)} bytes does not fit in a batch")
                        break
                    chunk.append((msg, meta.offset, fut))
                    i += 1
                done = await producer.send_batch(batch, self.topic_of(channel), partition=p)
                handed.update(id(fut) for _m, _d, fut in chunk)
                done.add_done_callback(lambda f, c=channel, p=p, chunk=chunk: self._answered(f, c, p, chunk))

    def _answered(self, done: asyncio.Future[Any], channel: str, p: int,
                  chunk: list[tuple[Message, int, asyncio.Future[bool]]]) -> None:
        exc = None if done.cancelled() else done.exception()
        for msg, delta, fut in chunk:
            if fut.done():
                continue
            if done.cancelled():
                fut.cancel()
            elif exc is not None:
                fut.set_exception(exc)
            else:
                self.stored(channel, msg, p, done.result().offset + delta)
                fut.set_result(True)


def answered(sent: asyncio.Future[bool], report: Callable[[BaseException | None], None]) -> asyncio.Future[bool]:
    """`sent` as a bool that never fails: an error (or a cancel) is reported and answers False (refused)."""
    out: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def done(f: asyncio.Future[bool]) -> None:
        if out.done():
            return
        exc = None if f.cancelled() else f.exception()
        if exc is not None or f.cancelled():
            report(exc)
            out.set_result(False)
        else:
            out.set_result(True)

    sent.add_done_callback(done)
    return out
