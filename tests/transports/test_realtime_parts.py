"""A run on a real broker is the one `Engine`, handed a wall clock and a `TransportBroker` (nothing is
built and then overwritten); the parts satisfy `core.port`. No broker is needed: nothing is started."""

from __future__ import annotations

import pytest

from evtool.core.port import BrokerPort, Clock
from evtool.scenario.errors import ScenarioError
from evtool.scenario.lessons import find_lesson
from evtool.scenario.loader import load_scenario, load_text
from evtool.sim.engine import Engine
from evtool.transports.runtime import RealtimeKernel, RealtimeRun, TransportBroker
from evtool.transports.topology import build_topology


class _Adapter:
    """Stands in for an adapter: the two facts `TransportBroker` reads, and no methods (building the engine
    calls none: an AttributeError would say so)."""

    routes_on_broker = False
    silent_removal = None


def test_the_realtime_run_is_the_engine_with_injected_parts() -> None:
    loaded = load_scenario(find_lesson("retries-dlq-poison"))
    run = RealtimeRun(loaded, _Adapter(), build_topology(loaded.model, "t-"))
    engine = run.engine
    assert type(engine) is Engine
    assert engine.kernel is run.kernel and isinstance(engine.kernel, RealtimeKernel)
    assert engine.broker is run.broker and isinstance(engine.broker, TransportBroker)
    assert isinstance(engine.kernel, Clock) and isinstance(engine.broker, BrokerPort)
    assert engine.ctx.kernel is engine.kernel and engine.ctx.broker is engine.broker  # the actors' view too
    assert engine.real_broker and engine.hop_zero and engine.patterns == []


def test_a_channel_the_profile_refuses_is_refused_for_a_real_run_too() -> None:
    """The TransportBroker holds channels to the profile's rules as the core does (a located error)."""
    text = """
evtool: "1"
id: refused
run: {seed: 1, duration: 1s}
broker: {profile: rabbitmq-quorum}
channels:
  orders: {kind: queue, content_based_dedup: true}
producers:
  p: {to: orders, arrival: {process: constant, rate: 1/s}, count: 1}
consumers:
  c: {from: orders}
"""
    loaded = load_text(text, "refused.yaml")
    with pytest.raises(ScenarioError) as local:
        Engine(loaded)
    with pytest.raises(ScenarioError) as real:
        RealtimeRun(loaded, _Adapter(), build_topology(loaded.model, "t-"))
    assert real.value.problems[0].message == local.value.problems[0].message


def test_a_patterns_inboxes_are_closed_by_a_restart_and_reopened() -> None:
    """On RabbitMQ, NATS and Redis the engine builds the scenario's patterns. A `broker_restart` fault closes
    every subscription on the core (`Broker.restart`), a pattern's inboxes included; on a real broker the
    fault timeline closes the consumers' channels and `TransportBroker.restart` the subscriptions still open
    (the inboxes), which the pattern reopens when the broker is back (`PatternActor.reconnect`)."""
    import asyncio

    class _Subscribing(_Adapter):
        async def subscribe(self, spec: object) -> None:
            """Nothing to do on no broker."""

        async def unsubscribe(self, sid: int, reason: str) -> None:
            """Nothing to do on no broker."""

    loaded = load_scenario(find_lesson("request-reply-timeout"))

    async def go() -> None:
        run = RealtimeRun(loaded, _Subscribing(), build_topology(loaded.model, "t-"))
        assert [p.name for p in run.engine.patterns] == ["price-quote"]
        pattern = run.engine.patterns[0]
        for i, ch in enumerate(pattern.inbox_names):
            pattern.listen(ch, lambda d: None, instance=i).open()
        before = [i.sub for i in pattern.inboxes]
        assert all(run.broker.subscriber(s) is not None for s in before)
        run.broker.restart(0)
        assert all(run.broker.subscriber(s) is None for s in before)
        pattern.reconnect()
        after = [i.sub for i in pattern.inboxes]
        assert set(after).isdisjoint(before) and all(run.broker.subscriber(s) is not None for s in after)
        await asyncio.sleep(0)

    asyncio.run(go())
