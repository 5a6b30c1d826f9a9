"""Issue 13: `evtool runs` at 80 columns (and in a pipe) keeps the run and scenario ids whole; it leaves out
the least important columns instead."""

from __future__ import annotations

import pytest
from rich.console import Console

from evtool.report.runs import render_runs
from evtool.scenario.lessons import lesson_dir
from evtool.store.model import RunRow

LESSONS = sorted(p.stem for p in lesson_dir().glob("*.yaml"))


def _rows() -> list[RunRow]:
    return [RunRow(id=f"{i:012x}", started_at=f"2026-12-04T03:0{i % 10}:00", ended_at=None, scenario_id=name,
                   scenario_path=f"{name}.yaml", seed=2024 if i % 3 else 7, outcome="passed", messages=48_035 * i,
                   events=0, virtual_ns=240 * 10**9, transport="local", profile="default", record_mode="full",
                   overrides={"x": 1} if i % 2 else {}, checks_passed=7, checks_total=7)
            for i, name in enumerate(LESSONS)]


def _text(width: int, quiz: dict[str, str] | None = None) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(render_runs(_rows(), width=width, quiz=quiz))
    return console.export_text()


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_identifying_columns_are_whole_at_every_width(width: int) -> None:
    out = _text(width)
    lines = out.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), out
    assert "…" not in out
    for i, name in enumerate(LESSONS):
        row = next(line for line in lines if f"{i:012x} " in line)
        assert f" {name} " in f"{row} ", (name, out)


def test_at_80_columns_the_less_important_columns_go_first() -> None:
    head = _text(80).splitlines()[0].split()
    assert head[:4] == ["run", "when", "(UTC)", "scenario"] and "outcome" in head and "checks" in head
    assert "virtual" not in head
    head = _text(60).splitlines()[0].split()
    assert "run" in head and "scenario" in head and "outcome" in head and "when" not in head


def test_a_quiz_column_does_not_push_out_the_ids() -> None:
    out = _text(80, quiz={f"{i:012x}": "2/3" for i in range(len(LESSONS))})
    assert "slow-consumer-backpressure" in out and "…" not in out
