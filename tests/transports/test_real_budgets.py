"""Run budgets (issue 11) hold on real brokers too: `run.budget` and --max-messages / --max-wall stop a real
run (outcome unknown, the limit said), and the broker is cleaned up as after any run."""

from __future__ import annotations

import time

import pytest

from evtool.scenario.loader import load_text
from evtool.sim.engine import limits_for
from evtool.transports.runner import run_on_transport

pytestmark = pytest.mark.broker

ENDLESS = """
evtool: "1"
id: t-budget
run: {seed: 1, duration: 60s, drain: {max: 10s}}
channels:
  jobs: {kind: queue}
producers:
  p: {to: jobs, arrival: {process: constant, rate: 50/s}}
consumers:
  c: {from: jobs, processing: 1ms}
expect:
  - {name: some, that: "count(acked{consumer=c}) > 0"}
"""


def test_max_messages_stops_a_real_run(redis_url: str) -> None:
    """--max-messages 20 stops a 60 s run after about 0.4 s (50/s): unknown, with the budget's message."""
    loaded = load_text(ENDLESS)
    t0 = time.monotonic()
    out = run_on_transport(loaded, "redis", url=redis_url, limits=limits_for(loaded, messages=20))
    assert time.monotonic() - t0 < 15
    assert out.outcome == "unknown"
    assert out.limit is not None and "budget of 20 messages" in out.limit
    assert 20 < out.summary["counts"]["published"] <= 30


def test_run_budget_wall_in_the_scenario_stops_a_real_run(redis_url: str) -> None:
    """`run: {budget: {wall: 1s}}` in the scenario, no command-line override: the run stops after ~1 s."""
    loaded = load_text(ENDLESS.replace("drain: {max: 10s}}", "drain: {max: 10s}, budget: {wall: 1s}}"))
    t0 = time.monotonic()
    out = run_on_transport(loaded, "redis", url=redis_url)
    assert time.monotonic() - t0 < 12
    assert out.outcome == "unknown"
    assert out.limit is not None and "wall-time budget of 1s" in out.limit
