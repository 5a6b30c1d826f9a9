"""The trace vocabulary: every fact the core and the engine report.

One vocabulary feeds everything: the live view, the dashboard, the run store,
the checks, the exports and the lesson triggers. Kinds are past-tense facts.

It lives in `core` (the lowest layer that produces events) so that the core
can emit without importing upward; `evtool.trace` builds metrics, checks and
digests on top of it.

A `TraceEvent` is a plain named tuple: cheap to build (millions per run) and
cheap to encode. Fields that do not apply are ``None`` (or ``0`` for
``attempt``); anything else goes in ``data``, a small dict of scalars.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from evtool.scenario.vocabulary import KINDS

__all__ = ["KINDS", "EventSink", "TraceEvent"]


class TraceEvent(NamedTuple):
    """One fact, at one virtual instant.

    t        virtual time in integer nanoseconds
    kind     one of `KINDS`
    msg      the message id the fact is about, if any
    channel  the channel (queue, topic, log, router) involved, if any
    actor    the component: consumer, producer, pattern or fault name
    instance the instance number of the actor (billing#1 -> 1), if any
    key      the message key, if any
    attempt  the delivery count as the profile defines it (0 = not applicable)
    tag      the message tag (`poison`, ...), if any
    data     extra scalar fields: reason, error, delay, partition, offset, ...
    """

    t: int
    kind: str
    msg: str | None = None
    channel: str | None = None
    actor: str | None = None
    instance: int | None = None
    key: str | None = None
    attempt: int = 0
    tag: str | None = None
    data: dict[str, Any] | None = None


# A sink receives each event as it happens. The engine's sink appends to a
# buffer; tests may collect into a list with `list.append`.
EventSink = Callable[[TraceEvent], None]
