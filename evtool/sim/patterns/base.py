"""What every pattern actor shares: its trace helper, its inboxes and its retry clock.

A pattern actor is a small state machine the engine starts with the other
actors. It talks to the broker like any service does (it publishes
messages and subscribes to channels), records what it decides as trace
events whose `actor` is the pattern's name, and keeps a `state` dict that
assertions read as `state.<pattern>.<field>`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evtool.core.channel_config import QueueConfig
from evtool.core.delivery import Delivery
from evtool.core.events import TraceEvent
from evtool.scenario import models as m

if TYPE_CHECKING:
    from evtool.sim.context import ActorContext

INBOX_PREFETCH = 1_000_000
"""An inbox handles each delivery as it arrives, so its credit never needs to throttle the broker."""


class PatternActor:
    """Base of the pattern actors: a name, a state dict, a start and an idle test."""

    def __init__(self, ctx: ActorContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self.state: dict[str, Any] = {}
        self.inboxes: list[Inbox] = []

    def start(self) -> None:
        """Subscribe and schedule the first timers (called once, at virtual time 0)."""

    def idle(self) -> bool:
        """True when the pattern has no outstanding work (the drain may end)."""
        return True

    def arrivals_pending(self) -> bool:
        """True while the pattern's own timeline still has work to start (requests or queries to arrive, a
        rebuild to come): a real-time run does not end its load phase before (`RealtimeRun._load_done`)."""
        return False

    def reconnect(self) -> None:
        """Reopen every inbox whose subscription the broker closed (after a broker restart)."""
        for inbox in self.inboxes:
            if inbox.sub is not None and self.ctx.broker.subscriber(inbox.sub) is None:
                self.ctx.subscribers.pop(inbox.sub, None)
                inbox.open()

    def record(self, kind: str, msg: str | None = None, *, channel: str | None = None, key: str | None = None,
               attempt: int = 0, instance: int | None = None, **data: Any) -> None:
        """Emit a trace event on behalf of this pattern (actor = the pattern's name).

        A non-zero `attempt` is also put in `data`, where the pattern checks read it.
        """
        ctx = self.ctx
        if attempt:
            data["attempt"] = attempt
        ctx.emit(TraceEvent(ctx.now, kind, msg, channel, self.name, instance, key, attempt, None, data or None))

    def bump(self, counter: str, by: int = 1) -> None:
        """Add to a counter of `state` (what `state.<pattern>.<counter>` reads)."""
        self.state[counter] = self.state.get(counter, 0) + by

    def listen(self, channel: str, handler: Callable[[Delivery], None], *, group: str | None = None,
               auto_ack: bool = True, instance: int = 0) -> Inbox:
        """Subscribe to `channel`; `handler` gets every delivery (acked first unless `auto_ack` is off)."""
        inbox = Inbox(self, channel, handler, group=group or self.name, auto_ack=auto_ack, instance=instance)
        self.inboxes.append(inbox)
        return inbox

    def declare_queue(self, channel: str) -> None:
        """Declare a private queue (a reply inbox) the scenario does not name."""
        if channel not in self.ctx.broker.channels():
            self.ctx.broker.declare(channel, QueueConfig())


class Inbox:
    """A pattern's subscription to one channel.

    The engine hands each delivery to ``subscribers[sub].consumer.on_delivery(inst, d)``;
    an inbox is its own "instance" and its own "consumer", so it plugs into that
    loop without being a ConsumerActor.
    """

    def __init__(self, owner: PatternActor, channel: str, handler: Callable[[Delivery], None], *, group: str,
                 auto_ack: bool, instance: int = 0) -> None:
        self.owner = owner
        self.instance = instance
        self.channel = channel
        self.handler = handler
        self.group = group
        self.auto_ack = auto_ack
        self.consumer = self
        self.sub: int | None = None
        self.is_log = isinstance(owner.ctx.scenario.channels.get(channel), m.LogChannel)

    def open(self) -> None:
        """Subscribe at the broker and register with the engine's delivery loop."""
        ctx = self.owner.ctx
        self.sub = ctx.broker.subscribe(ctx.now, self.channel, self.owner.name, self.instance, group=self.group,
                                        prefetch=INBOX_PREFETCH, start_from="earliest")
        ctx.subscribers[self.sub] = self  # type: ignore[assignment]

    def on_delivery(self, _inst: Any, d: Delivery) -> None:
        """A delivery arrived: settle it (when auto-acking) and hand it to the pattern."""
        if self.auto_ack:
            self.ack(d)
        self.handler(d)

    def ack(self, d: Delivery) -> None:
        """Acknowledge `d` (and commit its offset on a log)."""
        ctx = self.owner.ctx
        if d.sub not in ctx.subscribers:
            return
        ctx.broker.ack(ctx.now, d.tag)
        if self.is_log and d.partition is not None and d.offset is not None:
            ctx.broker.commit(ctx.now, d.sub, d.partition, d.offset + 1)
