"""What checks and metrics may see of a run besides its trace: a narrow, read-only view.

Checks and metrics are observers. They fold trace events in and, for the few
facts a trace does not carry (the virtual time between events, a channel's
counts, a log group's lag, the state a service or a pattern keeps), they ask a
`RunView`. The view only answers questions: it hands out no actor, no broker
and no engine, so an observer cannot change what it watches, and the run's
digest never depends on which checks or metrics exist.

The engine provides the view (`evtool.sim.view.EngineView`); tests give a small
stand-in. Nothing in `evtool.trace` imports `evtool.sim`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from evtool.core.delivery import ChannelStats

__all__ = ["ChannelStats", "GroupLag", "RunView"]


class GroupLag(NamedTuple):
    """A log consumer group's lag: records not yet handed out, and handed out but not yet acknowledged."""

    lag: int
    in_flight: int


class RunView(Protocol):
    """A read-only view of a running (or finished) run, for checks and metrics.

    Every answer is a copy or a read-only mapping the caller must not change; nothing here
    schedules, publishes or touches an actor.
    """

    @property
    def now(self) -> int:
        """Virtual time in nanoseconds."""
        ...

    def channel_stats(self, channel: str) -> ChannelStats:
        """The broker's counts for one channel (queue, topic or log; not a router)."""
        ...

    def group_lag(self, channel: str, group: str) -> GroupLag | None:
        """Lag and in-flight records of a consumer group on a log (None: the group has not joined yet)."""
        ...

    def state_of(self, owner: str) -> Mapping[str, Any] | None:
        """The state a consumer (its effects) or a pattern keeps, by name (None: no such owner)."""
        ...

    def live_instances(self, consumer: str) -> int:
        """Instances of a consumer that are running or paused."""
        ...

    def consumer_names(self) -> list[str]:
        """Every consumer of the run, responders of request-reply patterns included, in scenario order."""
        ...
