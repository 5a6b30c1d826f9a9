"""The publishing side of `TransportBroker` (`evtool.transports.runtime`): each publish issued through the
adapter, the broker's answer, a refusal or a duplicate recorded where the core records it, and the tallies' pending
copies (a publish not yet answered is not a ready message on the broker: `Tally.hold`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from evtool.core.message import Message
from evtool.transports.base import Topology, Transport
from evtool.transports.tally import Tally
from evtool.transports.tally import hold as _hold
from evtool.transports.tally import stored as _stored


class Publishing:
    """Mixed into `TransportBroker`, which sets these attributes and provides `_emit`, `_spawn` and `problem`."""

    transport: Transport
    topology: Topology
    tallies: dict[tuple[str, str | None], Tally]
    published: Counter[str]
    refused: Counter[str]
    unanswered: int
    settled_at: float
    _publish_now: Callable[[str, Message], Any] | None
    _emit: Callable[..., None]
    _spawn: Callable[[Coroutine[Any, Any, Any]], None]
    problem: Callable[[str], None]

    def _send(self, channel: str, msg: Message, leaves: list[str]) -> None:
        """Issue one publish: through the adapter's `publish_now` when it takes it (True: nothing to wait for;
        a future: the broker's answer, True stored or False refused), else in a task of its own."""
        now = self._publish_now
        got = now(channel, msg) if now is not None else None
        if got is True:
            return
        # Until the broker answers, the copy is not on the broker as a ready message ("Messages are acknowledged
        # when all queues to which the message has been routed have [...] enqueued the message", the AMQP 0-9-1
        # confirm class; a refused one is nacked and never enqueued, https://www.rabbitmq.com/docs/maxlength):
        # it is pending, not ready, in the depth the run samples (`Tally.hold`).
        _hold(self.tallies, leaves, msg.id)
        if got is None or got is False:
            self._spawn(self._publish(channel, msg, leaves))
        else:
            self.unanswered += 1
            got.add_done_callback(lambda fut: self._answered(fut, channel, msg, leaves))

    def _answered(self, fut: asyncio.Future[bool], channel: str, msg: Message, leaves: list[str]) -> None:
        self.unanswered -= 1
        self.settled_at = asyncio.get_running_loop().time()
        if not fut.cancelled() and fut.exception() is not None:
            self.problem(f"{type(fut.exception()).__name__}: {fut.exception()}")
        if fut.cancelled() or fut.exception() is not None or fut.result():
            _stored(self.tallies, leaves, msg.id)
        else:
            self._refused(channel, msg, leaves)

    async def _publish(self, channel: str, msg: Message, leaves: list[str]) -> None:
        """Publish `msg` to `channel`; a refusal is recorded where the core records it. A router on the broker
        (a RabbitMQ exchange) is refused as a whole: "If a message is routed to multiple queues and rejected by
        at least one of them, the channel will inform the publisher via basic.nack. The message will still be
        published to all other queues which can enqueue it" (https://www.rabbitmq.com/docs/maxlength). The nack
        does not name the queue: when exactly one of the `leaves` the message was routed to refuses publishes at
        capacity, the refusal is that queue's, as in the core; otherwise it stays the router's."""
        try:
            ok = await self.transport.publish(channel, msg)
        except BaseException:
            _stored(self.tallies, leaves, msg.id)
            raise
        if ok:
            _stored(self.tallies, leaves, msg.id)
        else:
            self._refused(channel, msg, leaves)

    def _refused(self, channel: str, msg: Message, leaves: list[str]) -> None:
        target = channel
        if self.topology.channels[channel].kind == "router":
            bounded = [leaf for leaf in leaves if self.topology.channels[leaf].capacity is not None
                       and self.topology.channels[leaf].overflow == "reject_publish"]
            if len(bounded) == 1:
                target = bounded[0]
        self.refused[target] += 1
        plan = self.topology.channels[target]
        # the core's vocabulary: a refusal at capacity is reason `capacity`; anything else the broker
        # refused (it does not say why) is `refused_by_broker`
        data: dict[str, Any] = ({"reason": "capacity", "capacity": plan.capacity}
                                if plan.capacity is not None and plan.overflow == "reject_publish"
                                else {"reason": "refused_by_broker"})
        self._emit("publish_rejected", msg, target, msg.producer, data=data)
        for key in [k for k in self.tallies if k[0] == target]:
            self.tallies[key].take_pending(msg.id)
            self.tallies[key].enqueued -= 1
        # the other queues it was routed to enqueued it
        _stored(self.tallies, [leaf for leaf in leaves if leaf != target], msg.id)

    def duplicate(self, channel: str, msg: Message) -> None:
        """The broker dropped a publish as a duplicate (NATS: the PubAck of a ``Nats-Msg-Id`` seen within the
        window says ``duplicate``). As in the core, the publish never entered the channel: it is recorded
        ``duplicate_dropped`` and taken back out of the counts (the client had already traced ``published``,
        before the broker's answer)."""
        self._emit("duplicate_dropped", msg, channel, msg.producer,
                   data={"by": "broker", "dedup_id": getattr(msg, "dedup_id", None)})
        self.published[channel] -= 1
        for key in [k for k in self.tallies if k[0] == channel]:
            t = self.tallies[key]
            t.take_pending(msg.id)
            t.enqueued -= 1

