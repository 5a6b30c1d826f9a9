"""Actors see a narrow context, not the engine; faults and the outbox use a consumer's public hooks."""

from __future__ import annotations

import grimp

from evtool.scenario.lessons import find_lesson
from evtool.scenario.loader import load_scenario, load_text
from evtool.sim.consumer import ConsumerActor
from evtool.sim.context import ActorContext
from evtool.sim.engine import Engine

ACTORS = ("evtool.sim.producer", "evtool.sim.consumer", "evtool.sim.faults", "evtool.sim.effects")


def test_no_actor_module_imports_the_engine() -> None:
    """Not even for type hints: producers, consumers, faults and patterns know `ActorContext` only."""
    graph = grimp.build_graph("evtool", include_external_packages=False)
    patterns = {m for m in graph.modules if m.startswith("evtool.sim.patterns")}
    for module in (*ACTORS, *patterns):
        assert not graph.direct_import_exists(importer=module, imported="evtool.sim.engine"), module


def test_every_actor_holds_the_context_and_no_engine() -> None:
    loaded = load_scenario(find_lesson("retries-dlq-poison"))
    engine = Engine(loaded)
    actors = [*engine.producers, *engine.consumers.values(), engine.faults, *engine.patterns]
    for actor in actors:
        assert isinstance(actor.ctx, ActorContext), actor
        assert not any(v is engine for v in vars(actor).values()), actor
    assert engine.ctx.kernel is engine.kernel and engine.ctx.broker is engine.broker


OUTBOX = """
evtool: "1"
id: outbox-hooks
run: {seed: 3, duration: 5s, drain: {max: 10s}}
channels:
  commands: {kind: queue}
  order-events: {kind: queue}
producers:
  api: {to: commands, arrival: {process: constant, rate: 10/s}, count: 20, message: PlaceOrder}
consumers:
  orders-svc:
    from: commands
    emit: [{to: order-events, message: OrderPlaced}]
  shipping: {from: order-events}
patterns:
  order-outbox:
    type: outbox
    service: orders-svc
    mode: dual_write_publish_first
    commit_failure: 0.3
    relay: {poll_interval: 100ms, batch: 20, to: order-events}
"""


def test_the_outbox_plugs_into_hooks_and_replaces_no_consumer_method() -> None:
    engine = Engine(load_text(OUTBOX, "outbox.yaml"))
    service = engine.consumers["orders-svc"]
    assert service.hooks is not None
    for name in ("_handle", "emit_message", "_emit", "_settle_ok", "_fail"):
        assert name not in vars(service), f"the outbox replaced ConsumerActor.{name}"
    assert type(service) is ConsumerActor
    out = engine.run()
    state = engine.patterns[0].state
    assert state["published"] == 20 and state["ghosts"] > 0 and state["rolled_back"] == state["ghosts"]
    assert out.summary["published"] >= 40
