"""One contract for every broker the engine can be handed (`evtool.core.port.BrokerPort`).

`BrokerPortContract` holds the behaviour tests; each backend subclasses it with a harness that builds
its broker: the core `Broker` on a virtual clock, and `TransportBroker` on RabbitMQ, NATS JetStream,
Redis Streams, Kafka and SQS through evtool's adapters (the way the eventsourcing library runs one
recorder test case against every storage backend). A real-broker subclass skips when its broker is unreachable, except
under CI=true, where it fails instead (tests/broker_fixtures.py).

What every backend must show, whatever its profile: a message published to a queue is delivered once,
at attempt 1, to a subscribed consumer; an ack settles it (counted, and the broker is idle); a nack with
requeue delivers it again with the next attempt; a tag the broker does not know is refused; a channel
the profile cannot do is refused at declaration, the same way; the trace tells the same story.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from broker_fixtures import _url

from evtool.core.broker import Broker
from evtool.core.channel_config import QueueConfig
from evtool.core.delivery import Delivery
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.port import BrokerPort, Clock
from evtool.core.profiles import get_profile
from evtool.sim.kernel import Kernel
from evtool.transports.base import ChannelPlan, Topology, new_prefix
from evtool.transports.runner import make_transport
from evtool.transports.runtime import RealtimeKernel, TransportBroker

pytestmark = pytest.mark.asyncio

S = 1_000_000_000


def queue(name: str, **kw: Any) -> ChannelPlan:
    """A queue as the adapters declare it (one consumer group)."""
    return ChannelPlan(name, "queue", groups=["c"], **kw)


def config(p: ChannelPlan) -> QueueConfig:
    """The core's configuration of the same queue."""
    return QueueConfig(max_deliveries=p.max_deliveries or 0, dead_letter=p.dead_letter, ttl_ns=p.ttl_ns,
                       capacity=p.capacity)


class Harness:
    """A broker under test, the deliveries it handed out per subscription, and its trace."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []
        self.got: dict[int, list[Delivery]] = {}
        self.port: Any = None
        self.clock: Any = None

    def dispatch(self, d: Delivery) -> None:
        """What the engine does with a delivery: hand it to the subscription's consumer (here: keep it)."""
        self.got.setdefault(d.sub, []).append(d)

    @property
    def now(self) -> int:
        """The broker's time."""
        return int(self.clock.now)

    async def wait(self, until: Callable[[], bool], seconds: float = 5.0) -> bool:
        """Let time pass (at most `seconds`) until `until()` holds; whether it does."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release the broker."""


class CoreHarness(Harness):
    """The core broker on a virtual clock: `wait` pumps and fires the broker's timers."""

    def __init__(self, profile: str, plans: list[ChannelPlan]) -> None:
        super().__init__()
        self.clock = Kernel()
        self.port = Broker(get_profile(profile), self.events.append)
        for p in plans:
            self.port.declare(p.name, config(p))

    def _pump(self) -> None:
        for d in self.port.pump(self.clock.now):
            self.dispatch(d)

    async def wait(self, until: Callable[[], bool], seconds: float = 5.0) -> bool:
        end = self.clock.now + int(seconds * S)
        self._pump()
        while not until():
            t = self.port.next_timer()
            if t is None or t > end:
                self.clock.now = end
                return until()
            self.clock.now = max(self.clock.now, t)
            self.port.fire_timers(self.clock.now)
            self._pump()
        return True


class RealHarness(Harness):
    """`TransportBroker` on a real broker through its adapter, on the wall clock."""

    def __init__(self, transport: str, url: str, profile: str, plans: list[ChannelPlan]) -> None:
        super().__init__()
        self.profile = get_profile(profile)
        for p in plans:
            p.at_limit = self.profile.at_limit
        self.plans = plans
        self.adapter = make_transport(transport, url)
        self.clock = RealtimeKernel()

    async def open(self) -> RealHarness:
        """Connect, declare the channels under a fresh prefix, and hold them to the profile's rules."""
        self.clock.start(asyncio.get_running_loop())
        topology = Topology(new_prefix(), {p.name: p for p in self.plans})
        await asyncio.wait_for(self.adapter.connect(), 10)
        self.port = TransportBroker(self.clock, self.events.append, self.dispatch, self.adapter, topology,
                                    self.profile)
        await asyncio.wait_for(self.adapter.declare(topology, self.port), 10)
        for p in self.plans:
            self.port.declare(p.name, config(p))
        return self

    async def wait(self, until: Callable[[], bool], seconds: float = 5.0) -> bool:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while not until():
            if loop.time() > end:
                return False
            await asyncio.sleep(0.02)
        return True

    async def close(self) -> None:
        try:
            if self.port is not None and self.port.tasks:
                await asyncio.wait(list(self.port.tasks), timeout=5)
            await asyncio.wait_for(self.adapter.cleanup(), 15)
        finally:
            await self.adapter.close()
        assert not self.port.problems, self.port.problems


class BrokerPortContract:
    """The behaviour tests; a subclass says how to build its broker (`harness`)."""

    profile: ClassVar[str] = "rabbitmq-quorum"
    patience: ClassVar[float] = 5.0
    """Seconds to wait for a delivery (a Kafka consumer first joins its group)."""

    async def harness(self, plans: list[ChannelPlan]) -> Harness:
        """A broker with `plans` declared."""
        raise NotImplementedError

    async def test_it_is_a_broker_port_with_a_clock(self) -> None:
        h = await self.harness([queue("orders")])
        try:
            assert isinstance(h.port, BrokerPort)
            assert isinstance(h.clock, Clock)
            assert isinstance(h.port.pushes_deliveries, bool)
            assert h.port.channels() == ["orders"]
        finally:
            await h.close()

    async def test_a_published_message_is_delivered_once_and_an_ack_settles_it(self) -> None:
        h = await self.harness([queue("orders")])
        try:
            assert h.port.publish(h.now, "orders", Message("m-1", "orders", "k"))
            sid = h.port.subscribe(h.now, "orders", "billing", 0, prefetch=1)
            assert await h.wait(lambda: bool(h.got.get(sid)), self.patience)
            (d,) = h.got[sid]
            assert (d.msg.id, d.attempt, d.channel) == ("m-1", 1, "orders")
            assert h.port.ack(h.now, d.tag)
            assert await h.wait(h.port.idle)
            assert not await h.wait(lambda: len(h.got[sid]) > 1, seconds=0.5)  # delivered once
            s = h.port.stats("orders")
            assert (s.published, s.acked, s.ready, s.in_flight) == (1, 1, 0, 0)
            kinds = [e.kind for e in h.events if e.msg == "m-1"]
            assert kinds == ["published", "delivered", "acked"]
        finally:
            await h.close()

    async def test_a_nack_with_requeue_delivers_again_with_the_next_attempt(self) -> None:
        h = await self.harness([queue("orders")])
        try:
            h.port.publish(h.now, "orders", Message("m-1", "orders", "k"))
            sid = h.port.subscribe(h.now, "orders", "billing", 0, prefetch=1)
            assert await h.wait(lambda: bool(h.got.get(sid)), self.patience)
            assert h.port.nack(h.now, h.got[sid][0].tag, requeue=True)
            assert await h.wait(lambda: len(h.got[sid]) == 2, self.patience)
            again = h.got[sid][1]
            assert (again.msg.id, again.attempt, again.redelivered) == ("m-1", 2, True)
            assert h.port.ack(h.now, again.tag)
            assert await h.wait(h.port.idle)
            kinds = [e.kind for e in h.events if e.msg == "m-1"]
            assert kinds[:3] == ["published", "delivered", "nacked"] and kinds[-2:] == ["redelivered", "acked"]
        finally:
            await h.close()

    async def test_a_tag_the_broker_does_not_know_is_refused(self) -> None:
        h = await self.harness([queue("orders")])
        try:
            assert h.port.ack(h.now, 987_654) is False
            assert h.port.nack(h.now, 987_654) is False
            assert h.port.reject(h.now, 987_654) is False
        finally:
            await h.close()

    async def test_a_channel_the_profile_cannot_do_is_refused_at_declaration(self) -> None:
        h = await self.harness([queue("orders")])
        try:
            with pytest.raises(ValueError, match="already declared"):
                h.port.declare("orders", QueueConfig(max_deliveries=3, dead_letter="nowhere"))
        finally:
            await h.close()


class TestCoreBroker(BrokerPortContract):
    """The core broker under the RabbitMQ quorum profile, on a virtual clock."""

    async def harness(self, plans: list[ChannelPlan]) -> Harness:
        return CoreHarness(self.profile, plans)


class TestCoreBrokerNatsProfile(TestCoreBroker):
    """The core broker under the NATS JetStream profile."""

    profile = "nats-jetstream"


class TestCoreBrokerRedisProfile(TestCoreBroker):
    """The core broker under the Redis Streams profile."""

    profile = "redis-streams"


class TestRabbitMQTransportBroker(BrokerPortContract):
    """`TransportBroker` on RabbitMQ (quorum queues)."""

    transport: ClassVar[str] = "rabbitmq"

    async def harness(self, plans: list[ChannelPlan]) -> Harness:
        return await RealHarness(self.transport, _url(self.transport), self.profile, plans).open()


class TestNatsTransportBroker(TestRabbitMQTransportBroker):
    """`TransportBroker` on NATS JetStream."""

    transport = "nats"
    profile = "nats-jetstream"


class TestRedisTransportBroker(TestRabbitMQTransportBroker):
    """`TransportBroker` on Redis Streams."""

    transport = "redis"
    profile = "redis-streams"


class TestKafkaTransportBroker(TestRabbitMQTransportBroker):
    """`TransportBroker` on Kafka (Tansu locally)."""

    transport = "kafka"
    profile = "kafka"
    patience = 30.0


class TestSqsTransportBroker(TestRabbitMQTransportBroker):
    """`TransportBroker` on Amazon SQS (moto's server locally)."""

    transport = "sqs"
    profile = "sqs-standard"
