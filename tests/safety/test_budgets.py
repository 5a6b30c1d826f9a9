"""Runs are bounded: zero-time loops, event, message and wall-time budgets stop a run as `unknown`."""

from __future__ import annotations

import time
from typing import Any

import pytest

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine, limits_for
from evtool.sim.kernel import Limits

HEAD = """
evtool: "1"
id: t
run: {seed: 1, duration: 1s, budget: {events_per_instant: 3000}}
"""

LOOPS = {
    "dead-letter cycle": """
channels:
  a: {kind: queue, dead_letter: b}
  b: {kind: queue, dead_letter: a}
producers:
  p: {to: a, arrival: {process: once}, count: 1}
consumers:
  ca: {from: a, processing: 0s, fail_if: [{probability: 1.0}]}
  cb: {from: b, processing: 0s, fail_if: [{probability: 1.0}]}
""",
    "forever without backoff": """
channels:
  a: {kind: queue}
producers:
  p: {to: a, arrival: {process: once}, count: 1}
consumers:
  ca: {from: a, processing: 0s, fail_if: [{probability: 1.0}],
       retry: {max_attempts: forever, on_exhausted: drop}}
""",
    "requeue on exhausted": """
channels:
  a: {kind: queue}
producers:
  p: {to: a, arrival: {process: once}, count: 1}
consumers:
  ca: {from: a, processing: 0s, fail_if: [{probability: 1.0}], retry: {max_attempts: 2, on_exhausted: requeue}}
""",
    "self-emission": """
channels:
  a: {kind: queue}
producers:
  p: {to: a, arrival: {process: once}, count: 1}
consumers:
  ca: {from: a, processing: 0s, emit: [{to: a, when: "msg.type != 'x'"}]}
""",
}


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_zero_time_loop_is_stopped_and_named(name: str) -> None:
    loaded = load_text(HEAD + LOOPS[name], "loop.yaml")
    t0 = time.monotonic()
    out = Engine(loaded).run()
    assert time.monotonic() - t0 < 10
    assert out.outcome == "unknown"
    assert out.limit is not None and out.limit.startswith("zero-time loop")
    assert "`ca`" in out.limit and "`a`" in out.limit
    if name == "dead-letter cycle":
        assert "`cb`" in out.limit and "`b`" in out.limit


def test_loop_with_processing_time_is_not_a_zero_time_loop() -> None:
    text = HEAD + LOOPS["forever without backoff"].replace("processing: 0s", "processing: 1ms")
    out = Engine(load_text(text, "loop.yaml"), limits=None).run()
    assert out.limit is None or not out.limit.startswith("zero-time loop")


ORDERS = HEAD + """
channels:
  a: {kind: queue}
producers:
  p: {to: a, arrival: {process: constant, rate: 1000/s}}
consumers:
  c: {from: a, processing: 1ms}
"""


def test_event_budget_stops_the_run_and_names_the_override() -> None:
    loaded = load_text(ORDERS, "o.yaml")
    engine = Engine(loaded, limits=limits_for(loaded, events=500))
    out = engine.run()
    assert out.outcome == "unknown"
    assert engine.kernel.processed == 500
    assert "500 kernel events" in (out.limit or "") and "--max-events" in (out.limit or "")


def test_message_budget_stops_the_run() -> None:
    loaded = load_text(ORDERS, "o.yaml")
    out = Engine(loaded, limits=limits_for(loaded, messages=100)).run()
    assert out.outcome == "unknown"
    assert "--max-messages" in (out.limit or "")
    assert out.summary["published"] < 100 + 5000  # stopped at the first batch past the budget


def test_wall_budget_stops_the_run() -> None:
    text = ORDERS.replace("duration: 1s", "duration: 1h")
    loaded = load_text(text, "o.yaml")
    t0 = time.monotonic()
    out = Engine(loaded, limits=limits_for(loaded, wall_s=0.2)).run()
    assert time.monotonic() - t0 < 5
    assert out.outcome == "unknown" and "--max-wall" in (out.limit or "")


def test_budget_from_the_scenario() -> None:
    loaded = load_text(ORDERS.replace("events_per_instant: 3000", "events: 300"), "o.yaml")
    assert limits_for(loaded) == Limits(events=300, messages=2_000_000, wall_s=None, per_instant=50_000,
                                        memory=300_000_000)
    assert Engine(loaded).run().outcome == "unknown"


def test_a_run_within_budget_is_unchanged() -> None:
    loaded = load_text(ORDERS, "o.yaml")
    out = Engine(loaded).run()
    assert out.limit is None and out.outcome == "passed"


def test_cli_flags_override_the_budget(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from evtool.cli.app import app

    path = tmp_path / "o.yaml"
    path.write_text(ORDERS, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--no-record", "--max-events", "400"],
                                env={"COLUMNS": "300", "CI": "true"})
    assert result.exit_code == 3, result.output
    assert "budget of 400 kernel events" in result.output and "--max-events" in result.output
    result = CliRunner().invoke(app, ["run", str(path), "--no-record", "--max-wall", "soon"],
                                env={"COLUMNS": "300", "CI": "true"})
    assert result.exit_code == 2 and "--max-wall" in result.output


HOLDS = HEAD + """
channels:
  a: {kind: queue}
producers:
  p: {to: a, arrival: {process: constant, rate: 100000/s}, payload: {blob: "{{ 'x' * 200 }}"}}
"""


def test_memory_budget_stops_a_run_that_holds_what_it_makes() -> None:
    """A queue nobody reads grows without end; the memory budget stops it before the event budget."""
    text = HOLDS.replace("duration: 1s", "duration: 1h")
    loaded = load_text(text, "holds.yaml")
    t0 = time.monotonic()
    out = Engine(loaded, limits=limits_for(loaded, memory=20_000_000)).run()
    assert time.monotonic() - t0 < 60
    assert out.outcome == "unknown"
    assert "grew by more than its budget of 20MB" in (out.limit or "")
    assert "--max-memory" in (out.limit or "") and "budget: {memory:" in (out.limit or "")


def test_memory_budget_in_the_scenario_and_its_bounds() -> None:
    from evtool.scenario.errors import ScenarioError

    loaded = load_text(ORDERS.replace("events_per_instant: 3000", "memory: 1GB"), "o.yaml")
    assert limits_for(loaded).memory == 10**9
    assert limits_for(loaded, memory=5_000_000).memory == 5_000_000
    with pytest.raises(ScenarioError):
        load_text(ORDERS.replace("events_per_instant: 3000", "memory: 0B"), "o.yaml")


def test_evtool_run_has_a_default_wall_budget() -> None:
    """Without --max-wall or `run.budget.wall`, `evtool run` bounds the wall time: 1m unpaced, 1m plus the
    paced time when paced; the flag and the scenario's own budget win."""
    import math

    from evtool.cli.session import RunOptions, run_limits
    from evtool.scenario.models.run import DEFAULT_MAX_WALL_S

    loaded = load_text(ORDERS, "o.yaml")  # duration 1s, drain max 1m
    opts = RunOptions(path=__import__("pathlib").Path("o.yaml"))
    assert run_limits(loaded, opts, None, math.inf).wall_s == DEFAULT_MAX_WALL_S
    assert run_limits(loaded, opts, None, 2.0).wall_s == pytest.approx(DEFAULT_MAX_WALL_S + 61 / 2)
    assert run_limits(loaded, opts, 9_000_000_000, 1.0).wall_s == pytest.approx(DEFAULT_MAX_WALL_S + 69)
    opts.max_wall, opts.max_memory = "5s", "1GB"
    lim = run_limits(loaded, opts, None, math.inf)
    assert (lim.wall_s, lim.memory) == (5.0, 10**9)
    own = load_text(ORDERS.replace("events_per_instant: 3000", "wall: 7s"), "o.yaml")
    assert run_limits(own, RunOptions(path=opts.path), None, math.inf).wall_s == 7.0


def test_cli_memory_flag(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from evtool.cli.app import app

    path = tmp_path / "h.yaml"
    path.write_text(HOLDS.replace("duration: 1s", "duration: 1h"), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--no-record", "--max-memory", "20MB"],
                                env={"COLUMNS": "300", "CI": "true"})
    assert result.exit_code == 3, result.output
    assert "budget of 20MB" in result.output and "--max-memory" in result.output
    assert "--max-memory 20MB" in result.output  # the re-run line keeps the budget
    for bad in ("lots", "0B"):
        result = CliRunner().invoke(app, ["run", str(path), "--no-record", "--max-memory", bad],
                                    env={"COLUMNS": "300", "CI": "true"})
        assert result.exit_code == 2 and "--max-memory" in result.output, result.output
