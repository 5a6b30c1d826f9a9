"""What an actor sees of the run: a narrow context instead of the engine.

Producers, consumers, the fault timeline and the patterns are handed an `ActorContext`. It holds time and
scheduling (`kernel`: `now`, `at`, `after`), the trace (`emit`), publishing (`publish`, `reply`,
`dead_letter_by_app`, `log_processed`), random streams (`stream(name)`), the broker API (`broker`, a
`core.port.BrokerPort`) and the run's read-only facts (`scenario`, `params`, `profile`), plus the
bookkeeping actors share with the engine: which instance each subscription delivers to (`subscribers`),
how much application work is in progress (`pending_work`, which keeps the drain open), the scenario's
consumers (which faults and patterns target), and the publish faults in force.

The hot paths read `kernel`, `emit`, `broker` and `subscribers` as plain attributes (the same objects the
engine uses), so the context costs nothing per event. The engine itself is never handed out.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evtool.core.events import TraceEvent

if TYPE_CHECKING:
    from evtool.core.profiles import Profile
    from evtool.scenario import models as m


class ActorContext:
    """The run as an actor may use it (see the module docstring)."""

    __slots__ = ("kernel", "emit", "broker", "publish", "reply", "dead_letter_by_app", "log_processed", "stream",
                 "scenario", "params", "profile", "subscribers", "pending_work", "consumers", "channel_faults",
                 "producer_faults", "fault_rng", "_run")

    def __init__(self, run: Any, *, kernel: Any, emit: Callable[[TraceEvent], None], broker: Any,
                 publish: Callable[..., bool], reply: Callable[..., None], dead_letter_by_app: Callable[..., None],
                 log_processed: Callable[..., None], stream: Callable[[str], random.Random], scenario: m.Scenario,
                 params: dict[str, Any], profile: Profile, subscribers: dict[int, Any], consumers: dict[str, Any],
                 channel_faults: dict[str, list[Any]], producer_faults: dict[str, list[Any]],
                 fault_rng: random.Random) -> None:
        self._run = run  # only for the run-state questions below; actors never reach it
        self.kernel = kernel
        """The clock actors schedule on: `now`, `at(t, fn, arg, prio)`, `after(delay, fn, arg, prio)`."""
        self.emit = emit
        """Record a trace event."""
        self.broker = broker
        """The broker API (`core.port.BrokerPort`)."""
        self.publish = publish
        """`publish(channel, msg, producer=..., republish=...)`: through hop latency and publish faults."""
        self.reply = reply
        """`reply(responder, request, ok=..., error=...)`: an automatic reply to a request's reply_to."""
        self.dead_letter_by_app = dead_letter_by_app
        """`dead_letter_by_app(consumer, delivery, target, error, kind)`: the application's own dead letter."""
        self.log_processed = log_processed
        """`log_processed(consumer, instance, delivery)`: a log record was handled (commit per message)."""
        self.stream = stream
        """`stream(name)`: the seeded random stream of one component and purpose."""
        self.scenario = scenario
        self.params = params
        self.profile = profile
        self.subscribers = subscribers
        """Subscription id -> the instance it delivers to (actors register and remove their own)."""
        self.pending_work = 0
        """Application work in progress (handlers running, delayed republishes); the drain waits for it."""
        self.consumers = consumers
        """The scenario's consumers by name (and a request-reply pattern's responder)."""
        self.channel_faults = channel_faults
        self.producer_faults = producer_faults
        self.fault_rng = fault_rng

    @property
    def now(self) -> int:
        """Time in nanoseconds since the run started."""
        return int(self.kernel.now)

    def done(self) -> bool:
        """Whether the run is over (nothing more should be scheduled)."""
        return bool(self._run.phase == "done")

    def load_end(self) -> int:
        """When the load phase ends (a real-time run may end it early)."""
        return int(self._run.load_end)

    @property
    def broker_up(self) -> bool:
        """Whether the broker is available (a broker_restart fault takes it down)."""
        return bool(self._run.broker_up)

    def set_broker_up(self, up: bool) -> None:
        """Take the broker down, or bring it back (the fault timeline's broker_restart)."""
        self._run.broker_up = up

    def patterns(self) -> list[Any]:
        """The pattern actors of the run (the fault timeline reconnects them after a broker restart)."""
        return list(self._run.patterns)
