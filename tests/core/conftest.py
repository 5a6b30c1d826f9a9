"""Shared helpers for the broker-core tests."""

from __future__ import annotations

from typing import Any

import pytest

from evtool.core.broker import Broker
from evtool.core.events import KINDS, TraceEvent
from evtool.core.message import Message
from evtool.core.profiles import get_profile

S = 1_000_000_000


class Rig:
    """A broker plus the trace it emitted, with small conveniences for tests."""

    def __init__(self, profile: str = "default", **overrides: Any) -> None:
        p = get_profile(profile)
        if overrides:
            p = p.with_overrides(**overrides)
        self.events: list[TraceEvent] = []
        self.broker = Broker(p, self._sink)

    def _sink(self, ev: TraceEvent) -> None:
        assert ev.kind in KINDS, f"unknown trace kind {ev.kind!r}"
        self.events.append(ev)

    def publish(self, now: int, channel: str, *ids: str, **fields: Any) -> list[bool]:
        """Publish one message per id."""
        return [self.broker.publish(now, channel, Message(i, channel=channel, **fields)) for i in ids]

    def kinds(self, kind: str) -> list[TraceEvent]:
        """Events of one kind, in order."""
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
def rig() -> Rig:
    """A broker on the default profile."""
    return Rig()
