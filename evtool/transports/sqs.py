"""Amazon SQS (aiobotocore) against any SQS endpoint: AWS, or moto's server on 127.0.0.1 for tests.

Mapping (docs/transports.md, section "Kafka and Amazon SQS", has the full table):

* ``queue`` -> standard queue ``<prefix>-<channel>``; with the ``sqs-fifo`` profile, and for every
  ``grouped_queue``, a FIFO queue (``.fifo``) whose MessageGroupId is the message key;
  ``content_based_dedup: true`` sets ContentBasedDeduplication;
* ``topic`` -> one queue per consumer group; SQS has no topics, so the client sends a copy to each (what SNS
  fan-out to SQS queues would do); ``log`` -> one FIFO queue per group, MessageGroupId = key (per-key order;
  no partitions, offsets or rebalances); routers are resolved on the client;
* the channel's ``ack_timeout`` is the queue's VisibilityTimeout (whole seconds, rounded up; 30 s unset);
* ``max_deliveries`` with a ``dead_letter`` target is a RedrivePolicy (maxReceiveCount); SQS moves the
  message itself, on the receive that would exceed the limit. evtool sees the move by watching the
  dead-letter queue (ReceiveMessage with VisibilityTimeout 0, which leaves the message visible);
* deliveries: ReceiveMessage, MaxNumberOfMessages = the free prefetch credit (at most 10), with long polling
  (WaitTimeSeconds 1), short polling on a FIFO queue while the client holds messages of it (see POLL_S), one
  receive at a time per FIFO queue (RECEIVE_ONE_AT_A_TIME);
  ApproximateReceiveCount is the delivery count;
* ack = DeleteMessage (batched, 10 a call); nack = ChangeMessageVisibility to the retry delay (whole seconds,
  rounded up; 0 = at once); SQS has no reject: under the sqs profiles (reject_action lease_expiry) the
  message is left alone and comes back when its visibility timeout ends; under another profile evtool sends
  a copy to the dead-letter queue and deletes the original (without a target it only deletes: dropped);
* MessageDeduplicationId = ``msg.dedup_id`` when set (decision 1). A FIFO queue needs a deduplication id
  when content-based deduplication is off; for a message without one evtool sends a fresh id, so it is
  never deduplicated;
* a crashed consumer's received messages come back when their visibility timeout ends (the lease).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from evtool.core.message import DeathRecord, Message
from evtool.scenario import models as m
from evtool.transports.base import (
    CreditLoop,
    SubSpec,
    Topology,
    TransportError,
    TransportSink,
    TransportUnavailable,
    decode_message,
    encode_message,
    redact_url,
)

NS = 1_000_000_000
WAIT_S = 1
"""Long-polling wait of one ReceiveMessage on a standard queue (seconds): short, so a leaving consumer stops
promptly ("If 20 seconds is too long for your application, set a shorter ReceiveMessage wait time (1 second
minimum)", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-setting-up-long-polling.html)."""
POLL_S = 0.1
"""While this client's consumers hold messages of a FIFO queue, a receive there short-polls (WaitTimeSeconds 0:
"Short polling returns responses immediately, even if the polled Amazon SQS queue is empty",
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-using-appropriate-polling-mode.html);
after an empty one the reader polls again when this client changed the queue (a send, a delete or a
ChangeMessageVisibility on it returned) or after POLL_S, whichever is first. Holding nothing, it long-polls as
on a standard queue. Why: moto takes the blocked message groups once, when the call starts, and while a
blocked group's messages are visible it loops without sleeping until the wait ends, so a long poll that starts
while the client's own messages of a group are in flight returns nothing for the whole wait even after they
are deleted, and holds moto's CPU meanwhile (moto/sqs/models.py receive_message, docs/transports.md)."""
RECEIVE_ONE_AT_A_TIME = True
"""On a FIFO queue this client makes one ReceiveMessage at a time (its instances take turns). moto's receive is
not atomic: two calls that scan a deep FIFO queue together both see a group as free and each takes one of its
messages, so two consumers hold one group at once and can finish it out of order (measured: 13 overlapping holds
and 7 reorders in 60 messages of one group with four concurrent receivers, 400 messages of another, blocked
group ahead of them). AWS: "Messages within the same message group are always processed one at a time, in
strict order" (FIFO delivery logic). Turn-taking changes nothing of what AWS hands out. A turn is one round
trip while the client holds messages of the queue (short polls, POLL_S); holding nothing, one long poll waits
for all the instances, and the first messages end it."""
FIFO_SHORT_POLL = True
"""Short-poll FIFO queues while holding (POLL_S); benchmarks/sqs_bench.py turns it and RECEIVE_ONE_AT_A_TIME off
to measure the receive loop they replaced."""
BATCH = 10
"""SQS's limit for SendMessageBatch, DeleteMessageBatch and MaxNumberOfMessages."""
DEFAULT_VISIBILITY_S = 30
SETTLE_S = 5.0
"""How long `stop_consumers` waits for the deletes still unanswered (as `RealtimeRun.settle` for tasks)."""
WATCH_S = 0.1
"""How often the dead-letter watcher looks for messages SQS moved."""


def queue_name(prefix: str, channel: str, group: str | None, fifo: bool) -> str:
    """An SQS queue name (letters, digits, ``-`` and ``_``, at most 80 characters, ``.fifo`` for FIFO)."""
    base = f"{prefix}-{channel}" + (f"-{group}" if group else "")
    base = re.sub(r"[^A-Za-z0-9_-]", "_", base)[: 80 - (5 if fifo else 0)]
    return base + (".fifo" if fifo else "")


ENVELOPE = "evtool"
"""The message attribute that carries the envelope when the body is the payload alone (see `_body`)."""


def _body(msg: Message, content_dedup: bool) -> tuple[str, dict[str, Any]]:
    """The MessageBody and MessageAttributes of `msg`. On a queue with ContentBasedDeduplication SQS hashes
    the body ("Amazon SQS uses a SHA-256 hash to generate the MessageDeduplicationId using the body of the
    message (but not the attributes of the message)", API reference SendMessage), so there the body is the
    payload alone, as the core hashes it, and the rest of the message travels in an attribute."""
    full = encode_message(msg).decode()
    if not content_dedup:
        return full, {}
    body = json.dumps(msg.payload, separators=(",", ":"), sort_keys=True, default=str)
    return body, {ENVELOPE: {"DataType": "String", "StringValue": full}}


def _decode(raw: dict[str, Any]) -> Message:
    """The message of a received SQS message (its envelope attribute when there is one, else its body)."""
    env = (raw.get("MessageAttributes") or {}).get(ENVELOPE)
    return decode_message((env["StringValue"] if env else raw["Body"]).encode())


def _user_agent() -> str:
    """The User-Agent evtool's SQS client sends: evtool's and the client libraries' names and versions."""
    import aiobotocore
    import botocore

    from evtool import __version__
    return f"evtool/{__version__} aiobotocore/{aiobotocore.__version__} botocore/{botocore.__version__}"


def _secs(ns: int | None, default: int) -> int:
    return default if ns is None else max(0, math.ceil(ns / NS))


class _Batcher:
    """Coalesces the calls of one kind made in one loop iteration into batches of 10 (one round trip each)."""

    def __init__(self, call: Callable[[str, list[dict[str, Any]]], Awaitable[dict[str, Any]]],
                 ordered: Callable[[str], bool] = lambda url: False,
                 done: Callable[[str], None] = lambda url: None) -> None:
        self.call = call
        self.ordered = ordered
        self.done = done
        self.pending: dict[str, list[tuple[dict[str, Any], asyncio.Future[bool]]]] = {}
        self.scheduled = False
        self.locks: dict[str, asyncio.Lock] = {}

    def add(self, queue_url: str, entry: dict[str, Any]) -> asyncio.Future[bool]:
        """Queue `entry` for `queue_url`; the future is True when SQS accepted it."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.setdefault(queue_url, []).append((entry, fut))
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._flush()))
        return fut

    async def _flush(self) -> None:
        self.scheduled = False
        pending, self.pending = self.pending, {}
        calls = []
        for url, items in pending.items():
            chunks = [items[i:i + BATCH] for i in range(0, len(items), BATCH)]
            if self.ordered(url):
                calls.append(self._in_order(url, chunks))
            else:
                calls.extend(self._one(url, c) for c in chunks)
        await asyncio.gather(*calls)

    async def _in_order(self, url: str, chunks: list[list[tuple[dict[str, Any], asyncio.Future[bool]]]]) -> None:
        """A FIFO queue keeps the order of the calls it receives: one batch at a time, and after the batches of
        the previous loop iterations (concurrent calls could arrive in any order and reorder a group)."""
        lock = self.locks.setdefault(url, asyncio.Lock())
        async with lock:
            for c in chunks:
                await self._one(url, c)

    async def _one(self, url: str, items: list[tuple[dict[str, Any], asyncio.Future[bool]]]) -> None:
        entries = [{**e, "Id": str(i)} for i, (e, _f) in enumerate(items)]
        try:
            resp = await self.call(url, entries)
        except Exception as exc:  # noqa: BLE001 - every waiter gets the error
            for _e, f in items:
                if not f.done():
                    f.set_exception(exc)
            return
        self.done(url)
        failed = {int(x["Id"]) for x in resp.get("Failed", [])}
        for i, (_e, f) in enumerate(items):
            if not f.done():
                f.set_result(i not in failed)


class _Reader(CreditLoop):
    """One consumer instance's receive loop."""

    __slots__ = ("url",)

    def __init__(self, spec: SubSpec, url: str) -> None:
        super().__init__(spec)
        self.url = url


class SqsTransport:
    """The SQS adapter (see the module docstring)."""

    name = "sqs"
    routes_on_broker = False
    returns_on_close = False        # received messages come back only when their visibility timeout ends
    leases_on_broker = True         # a message not deleted within its visibility timeout is received again

    def __init__(self, url: str, loaded: Any = None) -> None:
        self.url = url
        self.endpoint = url if "://" in url else f"http://{url}"
        parts = urlsplit(self.endpoint)
        self.region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
        if parts.hostname and parts.hostname.startswith("sqs.") and parts.hostname.count(".") >= 3:
            self.region = parts.hostname.split(".")[1]
        self.scenario: m.Scenario | None = loaded.model if loaded is not None else None
        self.profile = self.scenario.broker.profile if self.scenario is not None else "sqs-standard"
        self.sink: TransportSink | None = None
        self.topology: Topology | None = None
        self.client: Any = None
        self._ctx: Any = None
        self.urls: dict[tuple[str, str | None], str] = {}
        self.fifo: dict[str, bool] = {}
        self.readers: dict[int, _Reader] = {}
        self.watchers: list[asyncio.Task[None]] = []
        self.copied: set[str] = set()
        self.seen_dead: set[tuple[str, str]] = set()
        self.sends: _Batcher | None = None
        self.deletes: _Batcher | None = None
        self.server_version = ""
        self.nudges: dict[str, asyncio.Event] = {}
        self.turns: dict[str, asyncio.Lock] = {}
        self.settling: dict[str, int] = {}

    # ------------------------------------------------------------------ connection

    async def connect(self) -> None:
        """Open the client and list queues once (bounded); TransportUnavailable when nothing answers."""
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        session = get_session()
        # a local emulator accepts any key; a real AWS endpoint takes the usual credential chain
        creds: dict[str, str] = {}
        if not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
            creds = {"aws_access_key_id": "evtool", "aws_secret_access_key": "evtool"}
        # Client CPU per call (about 0.5 ms, most of a message's cost at 10 a call) is cut by two documented
        # settings: a fixed User-Agent ("user_agent (str) - The value to use in the User-Agent header") saves
        # botocore rebuilding and sanitizing its default string twice a request, about 15% of a call;
        # "parameter_validation (bool) - [...] You can disable parameter validation for performance reasons"
        # (https://docs.aws.amazon.com/botocore/latest/reference/config.html) saves about 7%: evtool builds
        # every request itself, and the endpoint still refuses a malformed one
        self._ctx = session.create_client(
            "sqs", endpoint_url=self.endpoint, region_name=self.region,
            config=AioConfig(connect_timeout=3, read_timeout=WAIT_S + 10, retries={"max_attempts": 2},
                             max_pool_connections=64, user_agent=_user_agent(),
                             parameter_validation=False), **creds)
        self.client = await self._ctx.__aenter__()
        try:
            await asyncio.wait_for(self.client.list_queues(MaxResults=1), timeout=8)
        except Exception as exc:  # noqa: BLE001 - botocore raises several unrelated types here
            await self.close()
            raise TransportUnavailable(f"cannot reach SQS at {redact_url(self.url)}: {exc}") from exc
        self.server_version = "sqs api 2012-11-05"
        self.sends = _Batcher(lambda url, entries: self.client.send_message_batch(QueueUrl=url, Entries=entries),
                              ordered=lambda url: url.endswith(".fifo"), done=self._nudge)
        self.deletes = _Batcher(lambda url, entries: self.client.delete_message_batch(QueueUrl=url,
                                                                                      Entries=entries),
                                done=self._nudge)

    def _nudge(self, url: str) -> None:
        """This client changed the queue at `url`: wake its FIFO readers waiting to poll again."""
        ev = self.nudges.pop(url, None)
        if ev is not None:
            ev.set()

    async def close(self) -> None:
        """Close the client."""
        if self._ctx is not None:
            try:
                await self._ctx.__aexit__(None, None, None)
            except Exception:  # noqa: BLE001, S110 - closing a broken client: nothing more to do
                pass
        self._ctx = self.client = None

    # ------------------------------------------------------------------ topology

    def _is_fifo(self, name: str) -> bool:
        assert self.topology is not None
        plan = self.topology.channels[name]
        if plan.kind in ("grouped_queue", "log") or self.profile == "sqs-fifo":
            return True
        # a dead-letter queue of a FIFO queue must be FIFO too (AWS: same type as its source)
        return any(p.dead_letter == name and self._is_fifo(p.name) for p in self.topology.channels.values()
                   if p.name != name)

    def _session_ns(self, channel: str) -> int | None:
        """For a log's queues: the longest session_timeout of its consumers. A crashed member's messages come
        back when their visibility timeout ends, as a crashed Kafka member's partitions move when its session
        times out."""
        if self.scenario is None:
            return None
        found = [int(c.session_timeout) for c in self.scenario.consumers.values()
                 if c.from_ == channel and c.session_timeout is not None]
        return max(found) if found else None

    def _content_dedup(self, name: str) -> bool:
        spec = self.scenario.channels.get(name) if self.scenario is not None else None
        return bool(getattr(spec, "content_based_dedup", False))

    async def declare(self, topology: Topology, sink: TransportSink) -> None:
        """Create the queues (dead-letter targets first, so that their ARNs exist for the redrive policies)."""
        self.topology = topology
        self.sink = sink
        plans = [p for p in topology.channels.values() if p.kind != "router"]
        targets = topology.dead_letter_targets()
        plans.sort(key=lambda p: 0 if p.name in targets else 1)
        for plan in plans:
            fifo = self._is_fifo(plan.name)
            self.fifo[plan.name] = fifo
            lease = plan.ack_timeout_ns if plan.kind != "log" else self._session_ns(plan.name)
            attrs: dict[str, str] = {"VisibilityTimeout": str(_secs(lease, DEFAULT_VISIBILITY_S))}
            if fifo:
                attrs["FifoQueue"] = "true"
                attrs["ContentBasedDeduplication"] = "true" if self._content_dedup(plan.name) else "false"
            if plan.ttl_ns is not None:
                # MessageRetentionPeriod is the closest SQS has to a TTL (60 s .. 14 days)
                attrs["MessageRetentionPeriod"] = str(min(1_209_600, max(60, _secs(plan.ttl_ns, 60))))
            if plan.max_deliveries is not None and plan.dead_letter in self.urls_by_channel():
                arn = await self._arn(self.urls[(plan.dead_letter, None)])
                attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn,
                                                     "maxReceiveCount": str(plan.max_deliveries)})
            keys = [None] if plan.kind in ("queue", "grouped_queue") else list(plan.groups)
            for g in keys:
                name = queue_name(topology.prefix, plan.name, g, fifo)
                try:
                    resp = await self.client.create_queue(QueueName=name, Attributes=attrs)
                except Exception as exc:  # noqa: BLE001 - the message says which attribute was refused
                    raise TransportError(f"create queue {name}: {exc}") from exc
                self.urls[(plan.name, g)] = resp["QueueUrl"]
        for target in targets:
            if (target, None) in self.urls:
                sources = [p.name for p in plans if p.dead_letter == target and p.max_deliveries is not None]
                if sources:
                    self.watchers.append(asyncio.get_running_loop().create_task(self._watch(target, sources)))

    def urls_by_channel(self) -> set[str]:
        """Channels that have a queue of their own (not per group) already."""
        return {c for (c, g) in self.urls if g is None}

    async def _arn(self, url: str) -> str:
        attrs = await self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attrs["Attributes"]["QueueArn"])

    # ------------------------------------------------------------------ publishing

    def _entry(self, channel: str, msg: Message) -> dict[str, Any]:
        body, attrs = _body(msg, self._content_dedup(channel))
        entry: dict[str, Any] = {"MessageBody": body}
        if attrs:
            entry["MessageAttributes"] = attrs
        if self.fifo.get(channel):
            entry["MessageGroupId"] = str(msg.key) if msg.key is not None else "_"
            dedup = getattr(msg, "dedup_id", None)
            if dedup is not None:
                entry["MessageDeduplicationId"] = str(dedup)[:128]
            elif not self._content_dedup(channel):
                # AWS refuses a FIFO send without an id when content-based dedup is off; a message without a
                # dedup id is never deduplicated, so it gets a fresh one
                entry["MessageDeduplicationId"] = uuid.uuid4().hex
        return entry

    def publish_now(self, channel: str, msg: Message) -> asyncio.Future[bool] | None:
        """`publish` without a task of its own, for a channel with one queue (queue, grouped_queue): the entry
        joins this loop iteration's SendMessageBatch and the future settles with SQS's answer for it (False when
        refused, or when the call failed, reported as `publish` reports it). None for a topic or log, whose
        copies `publish` sends one group after the other: the caller then uses `publish`. Every publish to a
        channel takes the same way, so their order is kept."""
        assert self.topology is not None and self.sends is not None
        if self.topology.channels[channel].kind not in ("queue", "grouped_queue"):
            return None
        try:
            entry = self._entry(channel, msg)
        except Exception:  # noqa: BLE001 - `publish` raises it again in its task, where errors are reported
            return None
        sent = self.sends.add(self.urls[(channel, None)], entry)
        out: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def answered(fut: asyncio.Future[bool]) -> None:
            if fut.cancelled():
                out.cancel()
            elif fut.exception() is not None:
                if self.sink is not None:
                    self.sink.problem(f"send to {channel}: {fut.exception()}")
                out.set_result(False)
            else:
                out.set_result(fut.result())
        sent.add_done_callback(answered)
        return out

    async def publish(self, channel: str, msg: Message) -> bool:
        """SendMessage (batched) to the channel's queue, or a copy to each group's queue of a topic or log."""
        assert self.topology is not None and self.sends is not None
        plan = self.topology.channels[channel]
        keys = [None] if plan.kind in ("queue", "grouped_queue") else list(plan.groups)
        entry = self._entry(channel, msg)
        ok = True
        for g in keys:
            try:
                ok = await self.sends.add(self.urls[(channel, g)], dict(entry)) and ok
            except Exception as exc:  # noqa: BLE001 - the endpoint refused the call
                if self.sink is not None:
                    self.sink.problem(f"send to {channel}: {exc}")
                return False
        return ok

    # ------------------------------------------------------------------ consuming

    async def subscribe(self, spec: SubSpec) -> None:
        """Start the instance's ReceiveMessage loop on its queue."""
        key = (spec.channel, spec.group)
        if key not in self.urls:
            raise TransportError(f"no queue for {spec.channel!r} group {spec.group!r}")
        reader = _Reader(spec, self.urls[key])
        self.readers[spec.sid] = reader
        reader.task = asyncio.get_running_loop().create_task(self._loop(reader))

    async def _loop(self, reader: _Reader) -> None:
        sink = self.sink
        assert sink is not None
        pf = reader.spec.prefetch or BATCH
        fifo = reader.url.endswith(".fifo") and FIFO_SHORT_POLL
        while reader.alive:
            want = min(BATCH, pf - reader.in_flight)
            if want <= 0:
                reader.credit.clear()
                await reader.credit.wait()
                continue
            nudged = self.nudges.setdefault(reader.url, asyncio.Event()) if fifo else None
            wait = WAIT_S
            try:
                if reader.url.endswith(".fifo") and RECEIVE_ONE_AT_A_TIME:
                    async with self.turns.setdefault(reader.url, asyncio.Lock()):
                        wait = 0 if fifo and self._holding(reader.url) else WAIT_S
                        resp = await self._receive(reader, want, wait)
                else:
                    wait = 0 if fifo and self._holding(reader.url) else WAIT_S
                    resp = await self._receive(reader, want, wait)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported; the loop tries again
                if reader.alive:
                    sink.problem(f"ReceiveMessage on {reader.url}: {exc}")
                await asyncio.sleep(0.2)
                continue
            if nudged is not None and wait == 0 and not resp.get("Messages"):
                try:
                    await asyncio.wait_for(nudged.wait(), POLL_S)
                except TimeoutError:
                    pass
                continue
            for raw in resp.get("Messages", []):
                if not reader.alive:
                    return      # received by a consumer that is gone: back when the visibility timeout ends
                count = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                reader.in_flight += 1
                sink.deliver(reader.spec.sid, _decode(raw), count, count > 1,
                             (reader, raw["ReceiptHandle"], raw, count))

    def _holding(self, url: str) -> bool:
        """Whether this client's consumers hold received messages of the queue at `url` that SQS still counts
        as in flight (unsettled, or their DeleteMessage / ChangeMessageVisibility not answered yet)."""
        return self.settling.get(url, 0) > 0 or any(r.in_flight > 0 for r in self.readers.values() if r.url == url)

    async def _receive(self, reader: _Reader, want: int, wait: int) -> dict[str, Any]:
        return dict(await self.client.receive_message(
            QueueUrl=reader.url, MaxNumberOfMessages=want, WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"], MessageAttributeNames=[ENVELOPE]))

    async def unsubscribe(self, sid: int, reason: str) -> None:
        """Stop receiving; what the consumer holds comes back when its visibility timeout ends."""
        reader = self.readers.pop(sid, None)
        if reader is None:
            return
        reader.stop()

    @staticmethod
    def forget(handle: Any) -> None:
        """The message's visibility timeout ran out and it was received again: the old receive's credit comes
        back; its receipt handle is not used any more."""
        handle[0].settled()

    def ack_now(self, handle: Any) -> bool:
        """`ack` without a task of its own: the receipt joins this loop iteration's DeleteMessageBatch; until
        SQS answers the queue counts as settling (`_holding`) and `busy` holds the drain."""
        reader, receipt, _body, _count = handle
        assert self.deletes is not None
        url = reader.url
        self.settling[url] = self.settling.get(url, 0) + 1
        reader.settled()
        self.deletes.add(url, {"ReceiptHandle": receipt}).add_done_callback(lambda fut: self._deleted(fut, url))
        return True

    def _deleted(self, fut: asyncio.Future[bool], url: str) -> None:
        """The answer to an `ack_now`: a refusal or an error is a problem, as `ack` reports it."""
        self.settling[url] -= 1
        if fut.cancelled() or self.sink is None:
            return
        exc = fut.exception()
        if exc is not None:
            self.sink.problem(f"{type(exc).__name__}: {exc}")
        elif not fut.result():
            self.sink.problem(f"DeleteMessage refused on {url} (receipt expired?)")

    def busy(self) -> bool:
        """Deletes (`ack_now`) or visibility changes not answered yet: the drain waits for them."""
        return any(n > 0 for n in self.settling.values())

    async def ack(self, handle: Any) -> None:
        """DeleteMessage (batched)."""
        reader, receipt, _body, _count = handle
        assert self.deletes is not None
        self.settling[reader.url] = self.settling.get(reader.url, 0) + 1
        reader.settled()
        try:
            if not await self.deletes.add(reader.url, {"ReceiptHandle": receipt}) and self.sink is not None:
                self.sink.problem(f"DeleteMessage refused on {reader.url} (receipt expired?)")
        finally:
            self.settling[reader.url] -= 1

    async def nack(self, handle: Any, delay_ns: int) -> None:
        """ChangeMessageVisibility to the delay (whole seconds, rounded up; 0 = visible at once)."""
        reader, receipt, _body, _count = handle
        self.settling[reader.url] = self.settling.get(reader.url, 0) + 1
        reader.settled()
        try:
            await self.client.change_message_visibility(QueueUrl=reader.url, ReceiptHandle=receipt,
                                                        VisibilityTimeout=_secs(delay_ns, 0))
        except Exception as exc:  # noqa: BLE001 - the message comes back at its visibility timeout anyway
            if self.sink is not None:
                self.sink.problem(f"ChangeMessageVisibility on {reader.url}: {exc}")
        finally:
            self.settling[reader.url] -= 1
        self._nudge(reader.url)

    async def reject(self, handle: Any) -> None:
        """SQS has no reject call. Under a profile whose reject_action is lease_expiry (sqs-standard,
        sqs-fifo) the message is simply not deleted: it becomes visible again when its visibility timeout
        expires and counts as a receive toward maxReceiveCount ("If the message is not deleted or its
        visibility timeout is not extended before the timeout expires, it becomes visible again",
        https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sqs/aws.sdk.kotlin.services.sqs.model/-receive-message-request/visibility-timeout.html).
        Under any other profile: a copy to the dead-letter queue (if any), then DeleteMessage."""
        reader, receipt, raw, count = handle
        reader.settled()
        assert self.topology is not None and self.sink is not None and self.deletes is not None
        channel = reader.spec.channel
        if self.topology.channels[channel].reject_action == "lease_expiry":
            return
        target = self.topology.channels[channel].dead_letter
        msg = _decode(raw)
        if target is not None and (target, None) in self.urls:
            copy = msg.copy(deaths=(DeathRecord(channel, "rejected", count, 0, 0, msg.key), *msg.deaths))
            self.copied.add(copy.id)
            await self.publish(target, copy)
            await self.deletes.add(reader.url, {"ReceiptHandle": receipt})
            self.sink.dead(channel, reader.spec.group, copy, "rejected", target, count)
        else:
            await self.deletes.add(reader.url, {"ReceiptHandle": receipt})
            self.sink.dead(channel, reader.spec.group, msg, "rejected", None, count)

    async def _watch(self, target: str, sources: list[str]) -> None:
        """Report the messages SQS moved into `target` by its redrive policy (once each)."""
        url = self.urls[(target, None)]
        assert self.topology is not None
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                resp = await self.client.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH,
                                                         VisibilityTimeout=0, WaitTimeSeconds=0,
                                                         MessageAttributeNames=[ENVELOPE])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reported; the watcher goes on
                if self.sink is not None:
                    self.sink.problem(f"watching {target}: {exc}")
                continue
            for raw in resp.get("Messages", []):
                msg = _decode(raw)
                if msg.id in self.copied or (target, msg.id) in self.seen_dead:
                    continue
                self.seen_dead.add((target, msg.id))
                source = msg.channel if msg.channel in sources else sources[0]
                limit = self.topology.channels[source].max_deliveries or 0
                copy = msg.copy(deaths=(DeathRecord(source, "max_deliveries", limit, 0, 0, msg.key), *msg.deaths))
                if self.sink is not None:
                    self.sink.dead(source, None, copy, "max_deliveries", target, limit)

    # ------------------------------------------------------------------ cleanup

    async def stop_consumers(self) -> None:
        """Stop every receive loop and watcher, then wait (at most SETTLE_S) for the deletes `ack_now` queued,
        as the run's `settle` waits for its tasks: a run stopped early (budget, Ctrl-C) closes the client or
        deletes the queues only after them."""
        for sid in list(self.readers):
            await self.unsubscribe(sid, "leave")
        for t in self.watchers:
            t.cancel()
        self.watchers.clear()
        loop = asyncio.get_running_loop()
        until = loop.time() + SETTLE_S
        while self.busy() and loop.time() < until:
            await asyncio.sleep(0.01)

    async def cleanup(self) -> None:
        """Stop consuming and delete every queue declared."""
        await self.stop_consumers()
        for url in list(self.urls.values()):
            try:
                await self.client.delete_queue(QueueUrl=url)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                if self.sink is not None:
                    self.sink.problem(f"DeleteQueue {url}: {exc}")
        self.urls.clear()


def capability_notes(sc: m.Scenario, name: str, spec: object) -> list[str]:
    """What SQS (and moto, the local emulator) does differently with channel `name`, and what evtool does."""
    out: list[str] = []
    if isinstance(spec, m.RouterChannel):
        return [f"{name}: SQS has no exchanges; evtool routes on the client with the same {spec.type} routing "
                "table and sends a copy to each bound channel's queue"]
    if isinstance(spec, m.LogChannel):
        return [f"{name}: SQS has no logs; each consumer group reads its own FIFO queue (MessageGroupId = key, "
                "VisibilityTimeout = the consumers' session_timeout): per-key order holds, but partitions, "
                "offsets, commits, lag and rebalances do not exist, so checks of them differ from the core"]
    assert isinstance(spec, m.DeliveryChannel)
    if spec.kind == "topic":
        out.append(f"{name}: SQS has no topics; each consumer group gets its own queue and the client sends a "
                   "copy to each (as SNS fan-out would)")
    md = spec.max_deliveries
    if md not in (None, "unlimited", 0) and spec.dead_letter is None:
        out.append(f"{name}: SQS enforces maxReceiveCount only through a redrive policy, which needs a "
                   "dead-letter queue; without dead_letter, max_deliveries is not enforced")
    if spec.ack_timeout is not None and spec.ack_timeout % NS:
        out.append(f"{name}: VisibilityTimeout is whole seconds; ack_timeout {spec.ack_timeout / NS:g}s is "
                   "rounded up")
    if any(c.from_ == name and c.retry is not None and c.retry.mode == "redeliver" for c in sc.consumers.values()):
        out.append(f"{name}: a nack is ChangeMessageVisibility in whole seconds: a retry delay is rounded up "
                   "(a delay under 1 s becomes 1 s)")
    if spec.capacity is not None:
        out.append(f"{name}: SQS queues have no capacity limit; capacity is ignored")
    if spec.ttl is not None:
        out.append(f"{name}: SQS has no per-message TTL; ttl becomes MessageRetentionPeriod (60 s .. 14 days)")
    if spec.requeue_position is not None:
        out.append(f"{name}: requeue_position cannot be chosen on SQS; the queue's own rule applies")
    fifo = isinstance(spec, m.GroupedQueueChannel) or sc.broker.profile == "sqs-fifo"
    if fifo and any(c.from_ == name and int(c.concurrency) > 1 for c in sc.consumers.values()):
        out.append(f"{name}: an SQS FIFO receive returns as many messages of one message group as it can, and "
                   "a consumer with concurrency > 1 handles them in parallel, so a group can be reordered; the "
                   "core hands out one message of a group at a time")
    if fifo and any(c.from_ == name and c.prefetch != 1 for c in sc.consumers.values()):
        out.append(f"{name}: moto (the local SQS endpoint) returns a received batch whose visibility timeout "
                   "ended last message first (a group is freed only when its scan reaches each message), so "
                   "a crashed consumer's batch of one message group comes back out of order on moto; AWS keeps "
                   "the group's order, as the profile does (prefetch 1 avoids it)")
    if fifo and any(c.from_ == name for c in sc.consumers.values()):
        out.append(f"{name}: while its consumers hold messages of a FIFO queue evtool short-polls it "
                   f"(WaitTimeSeconds 0, again within {POLL_S:g} s or as soon as it changed the queue), and its "
                   "instances take turns to receive: moto's receive is not atomic, and its long poll keeps a "
                   "message group blocked until the wait ends even when the group's last message was deleted; "
                   "on AWS this costs more empty receives, not other deliveries")
    if fifo and (getattr(spec, "content_based_dedup", False) or spec.dedup_window):
        out.append(f"{name}: moto (the local SQS endpoint) deduplicates only against messages still in the "
                   "queue; AWS keeps a deduplication id for 5 minutes, deleted or not. On AWS a duplicate send "
                   "is accepted without a word, so evtool cannot trace it as dropped")
    if any(c.from_ == name for c in sc.consumers.values()):
        out.append(f"{name}: moto (the local SQS endpoint) deletes a message with any receipt handle it was "
                   "given; AWS may keep it when the handle is not the latest (stale_ack: ignored in the profile)")
    return out
