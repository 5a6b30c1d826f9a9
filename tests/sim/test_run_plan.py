"""The run plan: the scenario translated once (profile, channels, bindings), what the engine receives."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtool.core.channel_config import LogConfig, QueueConfig, RouterConfig
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_scenario, load_text
from evtool.sim.engine import Engine
from evtool.sim.plan import check_plan, plan_for, profile_for

LESSONS = sorted((Path(__file__).resolve().parents[2] / "evtool" / "lessons").glob("*.yaml"))

SMALL = """
evtool: "1"
id: plan-check
run: {seed: 1, duration: 1s}
broker: {profile: nats-jetstream}
channels:
  orders: {kind: queue, capacity: 10, overflow: dead_letter, dead_letter: dlq}
  dlq: {kind: queue, role: dead_letter}
  events: {kind: router, type: fanout, bindings: [{to: orders}]}
  log: {kind: log, partitions: 3}
producers:
  shop: {to: orders, arrival: {process: constant, rate: 10/s}}
consumers:
  billing: {from: orders, processing: 1ms}
  reader: {from: log, group: g, assignment: round_robin, processing: 1ms}
"""


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lesson_has_a_plan_the_engine_runs_from(path: Path) -> None:
    loaded = load_scenario(path)
    plan = plan_for(loaded)
    assert list(plan.channels) == list(loaded.model.channels)
    assert plan.profile == profile_for(loaded)
    engine = Engine(loaded, plan=plan)
    assert engine.plan is plan and engine.profile is plan.profile
    assert set(plan.channels) <= set(engine.broker.channels())  # patterns declare their own (inboxes)


def test_the_plan_carries_the_channel_configs_bindings_and_held_queues() -> None:
    loaded = load_text(SMALL.replace("overflow: dead_letter", "overflow: drop_head"), "small.yaml")
    plan = plan_for(loaded)
    assert isinstance(plan.channels["orders"], QueueConfig) and plan.channels["orders"].capacity == 10
    assert isinstance(plan.channels["events"], RouterConfig) and plan.channels["events"].type == "fanout"
    log = plan.channels["log"]
    assert isinstance(log, LogConfig) and log.partitions == 3
    assert log.assignment == "round_robin"  # the strategy its consumers ask for, kept per log
    assert plan.bindings == (("events", "orders", ""),)
    assert plan.held_queues == ("orders",)  # the dead-letter queue holds its messages by design
    with pytest.raises(TypeError):
        plan.channels["x"] = QueueConfig()  # type: ignore[index]


def test_a_channel_the_profile_cannot_do_is_a_located_error() -> None:
    loaded = load_text(SMALL, "small.yaml")
    with pytest.raises(ScenarioError) as err:
        check_plan(loaded)
    problem = err.value.problems[0]
    assert problem.path == "channels.orders"
    assert problem.line == SMALL.splitlines().index(
        "  orders: {kind: queue, capacity: 10, overflow: dead_letter, dead_letter: dlq}") + 1
    assert "cannot dead-letter at capacity" in problem.message


def test_a_bad_broker_setting_is_a_located_error() -> None:
    text = SMALL.replace("broker: {profile: nats-jetstream}", "broker: {profile: default, settings: {prefetchh: 3}}")
    with pytest.raises(ScenarioError) as err:
        plan_for(load_text(text, "small.yaml"))
    assert err.value.problems[0].path == "broker.settings.prefetchh"
    assert "not a profile setting" in err.value.problems[0].message
