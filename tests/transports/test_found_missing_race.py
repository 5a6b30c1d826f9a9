"""A copy is recorded gone from a silently-trimmed channel (Redis MAXLEN ~, NATS DiscardOld / MaxAge) only
when every instance of its group has read nothing since the last delivery (TransportBroker.read_empty).

Found by benchmarks/lessons_on_brokers.py: `retries-dlq-poison` on Redis (three instances, capacity 10,000,
2,330 orders, so nothing was ever trimmed) recorded 21-29 orders `dropped` (reason overflow, observed
missing) and then delivered and handled them: one instance's empty XREADGROUP came back in the same loop
iteration as another instance's read that had taken the entry, before that delivery was traced, and
`nothing-lost` failed where the core's is unknown (the drain waits for the poison messages). No broker here:
a stand-in adapter."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from evtool.core.events import TraceEvent
from evtool.core.profiles import get_profile
from evtool.scenario.loader import load_text
from evtool.transports.runtime import TransportBroker
from evtool.transports.topology import build_topology

SCENARIO = """
evtool: "1"
id: found-missing-race
run: {seed: 1, duration: 1s}
broker: {profile: redis-streams}
channels:
  orders: {kind: queue, capacity: 100}
producers:
  p: {to: orders, arrival: {process: constant, rate: 1/s}}
consumers:
  billing: {from: orders, instances: 2}
"""


class _Trimming:
    """A Redis-like adapter: XADD cannot be refused, the channel is trimmed silently."""

    name = "redis"
    returns_on_close = False
    leases_on_broker = True

    @staticmethod
    def silent_removal(plan: Any) -> str | None:
        return "MAXLEN ~" if plan.capacity is not None else None

    answered_at = 0.0       # loop time of the last queued XADD's answer

    def publish_now(self, channel: str, msg: Any) -> bool:
        return True

    async def subscribe(self, spec: Any) -> None:
        return None


def _run(steps: str, xadd_answered_after_reads: bool = False) -> list[TraceEvent]:
    loaded = load_text(SCENARIO)
    events: list[TraceEvent] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        clock = SimpleNamespace(now=0)
        adapter = _Trimming()
        b = TransportBroker(clock, events.append, lambda d: None, adapter,
                            build_topology(loaded.model, "evt-test"), get_profile("redis-streams"))
        a = b.subscribe(0, "orders", "billing", 0, prefetch=5)
        c = b.subscribe(0, "orders", "billing", 1, prefetch=5)
        for _ in range(3):
            await asyncio.sleep(0)                   # the subscriptions are made
        msg = SimpleNamespace(id="m1", key=None, tag=None, producer="p", channel="orders")
        b.publish(0, "orders", msg, 0)               # type: ignore[arg-type]
        started = loop.time() + 1.0                  # both reads begin after every publish was answered
        if xadd_answered_after_reads:                # ... unless the adapter answered its XADD later
            adapter.answered_at = started + 1.0
        for step in steps.split():
            if step == "a-empty":
                b.read_empty(a, started)
            elif step == "c-empty":
                b.read_empty(c, started)
            elif step == "c-gets-it":
                b.deliver(c, msg, 1, False, object())  # type: ignore[arg-type]

    asyncio.run(go())
    return events


def test_an_empty_read_while_another_instance_takes_the_copy_loses_nothing() -> None:
    kinds = [e.kind for e in _run("a-empty c-gets-it")]
    assert "dropped" not in kinds and "delivered" in kinds


def test_every_instance_empty_records_the_copy_gone() -> None:
    dropped = [e for e in _run("a-empty c-empty") if e.kind == "dropped"]
    assert [(e.msg, e.data["reason"], e.data["observed"]) for e in dropped] == [  # type: ignore[index]
        ("m1", "overflow", "missing")]


def test_a_delivery_resets_the_evidence() -> None:
    """a found nothing, then c took a copy: a's old empty read no longer counts."""
    kinds = [e.kind for e in _run("a-empty c-gets-it c-empty")]
    assert "dropped" not in kinds


def test_reads_begun_before_the_xadd_was_answered_prove_nothing() -> None:
    """Redis's publish_now queues the XADD without a task: the runtime's own bookkeeping says every publish
    was answered while the XADD is still on its way, so the adapter's `answered_at` counts too."""
    assert "dropped" not in [e.kind for e in _run("a-empty c-empty", xadd_answered_after_reads=True)]
