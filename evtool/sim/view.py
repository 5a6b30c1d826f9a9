"""The engine's read-only face for checks and metrics (`evtool.trace.view.RunView`).

Checks and metrics live below the simulation and never see an engine, an
actor or the broker: they read the trace, and through this view the few facts
a trace does not carry. Every answer is read, none is changed.

The view is built from the run's parts (its clock, its broker, its consumers
and patterns), not from the engine, so this module does not know the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from evtool.core.port import BrokerPort, Clock
from evtool.sim.consumer import ConsumerActor
from evtool.trace.view import ChannelStats, GroupLag


class EngineView:
    """A `RunView` of one run: its clock, its broker's counts and its actors' state.

    `consumers` and `patterns` are the engine's own containers (read, never changed here), so the
    view sees actors added after it was built.
    """

    __slots__ = ("_clock", "_broker", "_consumers", "_patterns")

    def __init__(self, clock: Clock, broker: BrokerPort, consumers: Mapping[str, ConsumerActor],
                 patterns: Sequence[Any]) -> None:
        self._clock = clock
        self._broker = broker
        self._consumers = consumers
        self._patterns = patterns

    @property
    def now(self) -> int:
        """Virtual time in nanoseconds."""
        return self._clock.now

    def channel_stats(self, channel: str) -> ChannelStats:
        """The broker's counts for one channel."""
        return self._broker.stats(channel)

    def group_lag(self, channel: str, group: str) -> GroupLag | None:
        """Lag and in-flight records of a group on a log (None before the group joined)."""
        try:
            st = self._broker.log_group_state(channel, group)
        except KeyError:
            return None
        return GroupLag(int(st["lag"]), int(st["in_flight"]))

    def state_of(self, owner: str) -> Mapping[str, Any] | None:
        """A consumer's or a pattern's state, by name, as a read-only mapping."""
        consumer = self._consumers.get(owner)
        if consumer is not None:
            return MappingProxyType(consumer.state)
        for pat in self._patterns:
            if getattr(pat, "name", None) == owner:
                state = getattr(pat, "state", None)
                return MappingProxyType(state) if isinstance(state, dict) else None
        return None

    def live_instances(self, consumer: str) -> int:
        """Running or paused instances of a consumer (0 for an unknown one)."""
        c = self._consumers.get(consumer)
        return c.live_instances() if c is not None else 0

    def consumer_names(self) -> list[str]:
        """Every consumer, responders included, in the order the engine built them."""
        return list(self._consumers)
