"""The two parts an engine is given: a clock that schedules callbacks, and a broker behind one interface.

`Clock` is what the actors schedule on: the virtual-time `sim.kernel.Kernel`, or the wall-clock
`transports.runtime.RealtimeKernel` on an asyncio loop. `BrokerPort` is the synchronous broker API the
engine and its actors call: the core `Broker` (virtual time, pure) and `transports.runtime.TransportBroker`
(which carries each call out on a real broker) both satisfy it. The engine is one class; what differs
between a local run and a run on RabbitMQ is only which clock and which broker it is handed.

`tests/contract/test_broker_port.py` holds the behaviour every `BrokerPort` must show, as one test base
class that each backend subclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from evtool.core.channel_config import ChannelConfig
    from evtool.core.delivery import ChannelStats, Delivery
    from evtool.core.message import Message


@runtime_checkable
class Clock(Protocol):
    """Time in integer nanoseconds since the run started, and callbacks scheduled on it."""

    @property
    def now(self) -> int:
        """Nanoseconds since the run started."""
        ...

    processed: int
    """Callbacks run so far."""

    def at(self, t: int, fn: Callable[[Any], None], arg: Any = None, prio: int = ...) -> None:
        """Run `fn(arg)` at time `t` (at once if `t` has passed)."""
        ...

    def after(self, delay: int, fn: Callable[[Any], None], arg: Any = None, prio: int = ...) -> None:
        """Run `fn(arg)` `delay` nanoseconds from now."""
        ...


@runtime_checkable
class BrokerPort(Protocol):
    """The broker as the engine and its actors see it. Every call that changes state takes `now`.

    `pushes_deliveries` says how deliveries reach consumers: False for the core (the engine calls
    `pump` after each event and hands out what it returns), True for a real broker (deliveries arrive
    on their own and the broker hands each to the engine's dispatch callback; `pump` returns nothing).
    """

    pushes_deliveries: bool
    closed_subs: list[int]
    """Subscriptions the broker closed since the engine last looked (their instances reopen a channel)."""

    def declare(self, name: str, config: ChannelConfig) -> None:
        """Declare a channel (ValueError when the broker's profile cannot do what the config asks)."""
        ...

    def bind(self, router: str, target: str, pattern: str = "") -> None:
        """Bind a router to a target channel."""
        ...

    def channels(self) -> list[str]:
        """Declared channel names."""
        ...

    def publish(self, now: int, channel: str, msg: Message, delay_ns: int = 0) -> bool:
        """Publish `msg` to `channel`; False when refused."""
        ...

    def subscribe(self, now: int, channel: str, consumer: str, instance: int, *, group: str | None = None,
                  prefetch: int | None = None, dispatch: str = "unordered", session_timeout_ns: int | None = None,
                  start_from: str = "committed") -> int:
        """Attach a consumer instance; its subscription id."""
        ...

    def unsubscribe(self, now: int, sub: int, *, reason: str) -> None:
        """Detach a subscription; its unacked deliveries go back as the broker says."""
        ...

    def pump(self, now: int) -> list[Delivery]:
        """Deliveries due now (the core); always empty for a broker that pushes them."""
        ...

    def ack(self, now: int, tag: int) -> bool:
        """Acknowledge a delivery; False for an unknown or stale tag."""
        ...

    def nack(self, now: int, tag: int, *, requeue: bool = True, delay_ns: int = 0) -> bool:
        """Return a delivery (now or after `delay_ns`), or without requeue reject it."""
        ...

    def reject(self, now: int, tag: int) -> bool:
        """Reject without requeue: the broker dead-letters or drops it."""
        ...

    def extend_lease(self, now: int, tag: int, ns: int) -> bool:
        """Extend a delivery's lease by `ns`."""
        ...

    def commit(self, now: int, sub: int, partition: int, offset: int) -> bool:
        """Commit a log offset."""
        ...

    def commit_processed(self, now: int, sub: int) -> dict[int, int]:
        """Commit every processed log offset of a subscription."""
        ...

    def claim(self, now: int, sub: int, min_idle_ns: int, count: int | None = None) -> list[Delivery]:
        """Claim deliveries idle for at least `min_idle_ns` (Redis XCLAIM)."""
        ...

    def next_timer(self) -> int | None:
        """When the broker's next timer is due (None: none, or the broker owns its timers)."""
        ...

    def fire_timers(self, now: int) -> None:
        """Run the broker's timers due by `now`."""
        ...

    def restart(self, now: int) -> None:
        """Restart the broker (what a restart loses is the profile's)."""
        ...

    def set_available(self, now: int, available: bool) -> None:
        """Take the broker down or bring it back."""
        ...

    def redrive(self, now: int, dead_letter_channel: str, msg_id: str | None = None) -> int:
        """Send dead letters back to their source; how many."""
        ...

    def stats(self, channel: str) -> ChannelStats:
        """Counts for one channel."""
        ...

    def restart_peaks(self) -> None:
        """Start a new interval for `ChannelStats.ready_peak` (the engine, after each gauge sample)."""
        ...

    def subscription_stats(self, channel: str) -> dict[str, ChannelStats]:
        """Counts per subscription queue of a channel."""
        ...

    def log_group_state(self, channel: str, group: str) -> dict[str, Any]:
        """A log consumer group: positions, commits, owners, members, lag."""
        ...

    def idle(self) -> bool:
        """Nothing ready where a consumer reads, in flight or delayed."""
        ...


BrokerFactory = Callable[[Any, Callable[[Any], None], Callable[["Delivery"], None]], BrokerPort]
"""Builds an engine's broker from (the profile, the trace sink, the engine's delivery dispatch)."""
