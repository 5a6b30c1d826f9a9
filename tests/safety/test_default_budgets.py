"""Issue 11: with no budget flag, `evtool run` bounds every hostile file: a default wall-time budget (one
minute, plus the paced time of a paced run) and a memory budget (300 MB of resident growth) stop what the
event and message budgets let run for minutes or to gigabytes. Measured on the whole corpus without flags
(see the closing note of issue 11); here the same mechanisms with smaller numbers, so the test is fast."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.cli.session import RunOptions, run_limits
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_scenario
from evtool.scenario.models.run import DEFAULT_MAX_MEMORY, DEFAULT_MAX_WALL_S
from evtool.scenario.units import parse_size

HOSTILE = Path(__file__).parent / "hostile"


def _loadable() -> list[Path]:
    out = []
    for path in sorted(HOSTILE.glob("*.yaml")):
        try:
            load_scenario(path)
        except ScenarioError:
            continue
        out.append(path)
    return out


def test_every_hostile_file_that_loads_gets_a_wall_and_a_memory_budget_by_default() -> None:
    files = _loadable()
    assert len(files) >= 10
    for path in files:
        loaded = load_scenario(path)
        limits = run_limits(loaded, RunOptions(path=path), None, math.inf)
        own = loaded.model.run.budget.wall
        assert limits.wall_s == (own / 1e9 if own else DEFAULT_MAX_WALL_S), path.name
        assert limits.memory == parse_size(DEFAULT_MAX_MEMORY), path.name
    assert DEFAULT_MAX_WALL_S <= 120 and parse_size(DEFAULT_MAX_MEMORY) <= 500_000_000  # "a few hundred MB"


def _run(path: Path, *flags: str) -> tuple[int, str, float]:
    t0 = time.monotonic()
    result = CliRunner().invoke(app, ["run", str(path), "--no-record", "--quiet", *flags],
                                env={"COLUMNS": "300", "CI": "true"})
    return result.exit_code, result.output, time.monotonic() - t0


def test_memory_budget_stops_the_long_virtual_time_file(tmp_path: Path) -> None:
    """It held a delivery per lease expiry and reached 1.3 GB within its event budget; the memory budget
    (here 30MB, by default 300MB) stops it as unknown, naming the budget and its override. In a fresh
    interpreter, as a user runs it: a long-lived test process reuses memory it freed before, so its
    resident size would grow later than the run's own."""
    import os
    import subprocess
    import sys

    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "evtool", "run", str(HOSTILE / "long-virtual-time.yaml"),
                           "--no-record", "--quiet", "--max-memory", "30MB"], capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path,
                          env={**os.environ, "COLUMNS": "300", "CI": "true",
                               "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    code, out, wall = proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0
    assert code == 3, out
    assert "resident memory grew by more than its budget of 30MB (raise it with --max-memory" in out
    assert wall < 60


@pytest.mark.parametrize("name", ["self-emit-fanout.yaml", "long-duration.yaml"])
def test_wall_budget_stops_the_files_that_ran_for_minutes(name: str) -> None:
    code, out, wall = _run(HOSTILE / name, "--max-wall", "2s")
    assert code == 3, out
    assert "stopped early: budget exceeded: the run took longer than its wall-time budget of 2s" in out
    assert wall < 30


def test_show_says_again_why_a_recorded_run_stopped_early(tmp_path: Path) -> None:
    env = {"COLUMNS": "300", "CI": "true", "EVTOOL_DB": str(tmp_path / "runs.db")}
    result = CliRunner().invoke(app, ["run", str(HOSTILE / "self-emit-fanout.yaml"), "--quiet", "--max-wall", "1s"],
                                env=env)
    assert result.exit_code == 3, result.output
    shown = CliRunner().invoke(app, ["show", "last"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "stopped early: budget exceeded: the run took longer than its wall-time budget of 1s" in shown.output
    assert "UNKNOWN" in shown.output
