"""The engine's read-only face for checks and metrics (`evtool.trace.view.RunView`).

Checks and metrics live below the simulation and never see an engine, an
actor or the broker: they read the trace, and through this view the few facts
a trace does not carry. Every answer is read, none is changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from evtool.trace.view import ChannelStats, GroupLag

if TYPE_CHECKING:
    from evtool.sim.engine import Engine


class EngineView:
    """A `RunView` of one engine: its clock, its broker's counts and its actors' state."""

    __slots__ = ("_engine",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def now(self) -> int:
        """Virtual time in nanoseconds."""
        return self._engine.kernel.now

    def channel_stats(self, channel: str) -> ChannelStats:
        """The broker's counts for one channel."""
        return self._engine.broker.stats(channel)

    def group_lag(self, channel: str, group: str) -> GroupLag | None:
        """Lag and in-flight records of a group on a log (None before the group joined)."""
        try:
            st = self._engine.broker.log_group_state(channel, group)
        except KeyError:
            return None
        return GroupLag(int(st["lag"]), int(st["in_flight"]))

    def state_of(self, owner: str) -> Mapping[str, Any] | None:
        """A consumer's or a pattern's state, by name, as a read-only mapping."""
        eng = self._engine
        consumer = eng.consumers.get(owner)
        if consumer is not None:
            return MappingProxyType(consumer.state)
        for pat in eng.patterns:
            if getattr(pat, "name", None) == owner:
                state = getattr(pat, "state", None)
                return MappingProxyType(state) if isinstance(state, dict) else None
        return None

    def live_instances(self, consumer: str) -> int:
        """Running or paused instances of a consumer (0 for an unknown one)."""
        c = self._engine.consumers.get(consumer)
        return c.live_instances() if c is not None else 0

    def consumer_names(self) -> list[str]:
        """Every consumer, responders included, in the order the engine built them."""
        return list(self._engine.consumers)
