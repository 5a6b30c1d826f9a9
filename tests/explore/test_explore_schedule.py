"""Schedule choices: the optional kernel orders simultaneous events of different actors by a drawn
permutation, keeps each actor's own order, and a run with `explore.schedule` repeats exactly."""

from __future__ import annotations

from pathlib import Path

from evtool.explore.candidate import Candidate, Runner
from evtool.sim.kernel import PRIO_FAULT, ChoosingKernel, Kernel

FIXTURES = Path(__file__).parent / "fixtures"


class Actor:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def act(self, arg: str) -> None:
        self.log.append(f"{self.name}:{arg}")


def order(kernel: Kernel, log: list[str]) -> list[str]:
    a, b, c = Actor("a", log), Actor("b", log), Actor("c", log)
    kernel.at(5, a.act, "1")
    kernel.at(5, b.act, "1")
    kernel.at(5, a.act, "2")
    kernel.at(5, c.act, "1")
    kernel.at(5, c.act, "fault", PRIO_FAULT)
    while kernel.step():
        pass
    return log


def test_the_default_kernel_keeps_insertion_order() -> None:
    assert order(Kernel(), []) == ["c:fault", "a:1", "b:1", "a:2", "c:1"]


def test_choices_reorder_actors_but_never_one_actors_events_or_other_priorities() -> None:
    seen = set()
    for schedule in range(40):
        log = order(ChoosingKernel(schedule), [])
        assert log[0] == "c:fault"  # faults first at their instant, as always
        assert log.index("a:1") < log.index("a:2")  # one actor's events keep their order
        assert sorted(log) == sorted(["c:fault", "a:1", "b:1", "a:2", "c:1"])
        seen.add(tuple(log))
    assert len(seen) > 1, "the choices never changed anything"
    assert order(ChoosingKernel(7), []) == order(ChoosingKernel(7), [])  # the same N, the same order


def test_a_run_with_a_schedule_choice_repeats_exactly() -> None:
    path = FIXTURES / "charge-twice.yaml"
    runner = Runner(path.read_text(encoding="utf-8"), str(path))
    cand = Candidate(3, (("explore.schedule", 12345),))
    assert runner.run(cand).digest == runner.run(cand).digest
    # the engine picks the choosing kernel only when asked
    from evtool.sim.engine import Engine

    assert type(Engine(runner.loaded()).kernel) is Kernel
    assert type(Engine(runner.loaded(cand.overrides)).kernel) is ChoosingKernel


TIES = """
evtool: "1"
id: explore-ties
run: {seed: 1, duration: 2s}
channels:
  a: {kind: queue}
  b: {kind: queue}
producers:
  pa: {to: a, arrival: {process: constant, rate: 10/s}, count: 10}
  pb: {to: b, arrival: {process: constant, rate: 10/s}, count: 10}
consumers:
  ca: {from: a, processing: 20ms}
  cb: {from: b, processing: JITTER}
"""


def test_the_report_counts_instants_where_different_actors_fall_together() -> None:
    from evtool.explore.points import PointCollector

    def ties(processing: str) -> int:
        runner = Runner(TIES.replace("JITTER", processing), "ties.yaml")
        col = PointCollector(runner.loaded().model)
        runner.run(Candidate(1), col)
        return col.ties

    # both consumers finish every message at the same instants: a choice point per message
    assert ties("20ms") >= 9
    # random processing times: never at the same nanosecond
    assert ties("{dist: lognormal, median: 20ms, p99: 40ms}") == 0


def test_points_tried_are_counted_per_seed_round() -> None:
    from evtool.explore.search import Budget, Explorer

    path = FIXTURES / "charge-once.yaml"
    ex = Explorer(Runner(path.read_text(encoding="utf-8"), str(path)), check=None, seed=1, budget=Budget(runs=40))
    assert ex.search() is None
    placed = sum(ex.progress.kinds_tried.values())
    rounds = {r for r, _i, _k in ex.progress.points_tried}
    assert len(rounds) > 1 and len(ex.progress.points_tried) <= placed
    # the same point index in two seeds' runs is two points, not one
    by_index = {(i, k) for _r, i, k in ex.progress.points_tried}
    assert len(ex.progress.points_tried) >= len(by_index)
