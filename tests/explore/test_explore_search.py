"""explore's search and shrinking on known fixtures: buggy ones are found, correct ones are not, and
shrinking reaches the known minimal counterexample."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtool.explore.candidate import Candidate, Runner, describe, failed_checks
from evtool.explore.search import Budget, Explorer
from evtool.explore.shrink import Shrinker

FIXTURES = Path(__file__).parent / "fixtures"


def runner(name: str, overrides: dict | None = None) -> Runner:
    path = FIXTURES / name
    return Runner(path.read_text(encoding="utf-8"), str(path), overrides)


def test_buggy_fixture_is_found_within_a_small_budget() -> None:
    """Without idempotency, a pause longer than the lease charges a payment twice; 30 runs suffice."""
    ex = Explorer(runner("charge-twice.yaml"), check="charged-once", seed=1, budget=Budget(runs=30))
    found = ex.search()
    assert found is not None
    assert found.failed == ("charged-once",)
    assert ex.progress.runs <= 30
    assert found.candidate.interventions, "the fault-free runs pass: the failure needs a placed fault"


def test_correct_fixture_has_no_failing_run_within_the_budget() -> None:
    """The idempotent twin: the same search finds nothing (and the capped-scope runs do not count
    `all-charged`, which fails by itself with fewer messages, as a counterexample)."""
    ex = Explorer(runner("charge-once.yaml"), check=None, seed=1, budget=Budget(runs=60))
    assert ex.search() is None
    assert ex.progress.runs == 60
    assert ex.progress.faulty_runs > 40
    assert set(ex.progress.kinds_tried) == {"pause", "crash"}


def test_shrinking_reaches_the_minimal_counterexample() -> None:
    """One payment and one pause of the instance holding it, longer than its 1s lease: nothing less fails."""
    r = runner("charge-twice.yaml")
    found = Explorer(r, check="charged-once", seed=1, budget=Budget(runs=30)).search()
    assert found is not None
    best = Shrinker(r, found, "charged-once").shrink()
    assert dict(best.candidate.overrides) == {"producers.checkout.count": 1}
    (iv,) = best.candidate.interventions
    t, kind, spec = iv
    assert kind == "fault" and spec["action"] == "pause" and spec["target"].startswith("consumer:billing#")
    assert t == 500_000_001  # the first payment (constant 2/s) is taken at 0.5s: the pause comes just after
    assert failed_checks(best.outcome, "charged-once")
    # halving the pause below the lease makes the run pass: it lasts at least the 1s lease (it starts
    # 1ns after the delivery, so a pause of exactly 1s ends just after the lease expired)
    from evtool.scenario.units import parse_duration

    assert parse_duration(spec["for"]) >= 1_000_000_000
    assert describe(iv).startswith("at 0.500000s: pause consumer:billing#")


def test_without_the_pause_the_minimal_run_passes() -> None:
    """The counterexample is minimal: dropping its one fault makes it pass."""
    r = runner("charge-twice.yaml")
    found = Explorer(r, check="charged-once", seed=1, budget=Budget(runs=30)).search()
    assert found is not None
    best = Shrinker(r, found, "charged-once").shrink()
    bare = best.candidate.with_(interventions=())
    assert not failed_checks(r.run(bare), "charged-once")


def test_search_is_deterministic_for_a_seed_and_a_budget_in_runs() -> None:
    def once() -> tuple:
        ex = Explorer(runner("charge-twice.yaml"), check="charged-once", seed=7, budget=Budget(runs=40))
        found = ex.search()
        return (found.candidate.key() if found else None, found.outcome.digest if found else None,
                ex.progress.runs, sorted(ex.progress.points_tried))

    assert once() == once()


def test_a_different_search_seed_tries_other_things() -> None:
    a = Explorer(runner("charge-once.yaml"), check=None, seed=1, budget=Budget(runs=20))
    b = Explorer(runner("charge-once.yaml"), check=None, seed=2, budget=Budget(runs=20))
    a.search()
    b.search()
    assert a.progress.points_tried != b.progress.points_tried


def test_count_dependent_checks_are_no_counterexample_at_a_smaller_scope() -> None:
    """`all-charged` (>= 12) fails by itself with 10 messages; it is left out, not reported."""
    r = runner("charge-once.yaml")
    cand = Candidate(3, (("producers.checkout.count", 10),))
    outcome = r.run(cand)
    assert "all-charged" in failed_checks(outcome, None)
    assert "all-charged" not in failed_checks(outcome, None, r, cand)


@pytest.mark.parametrize(("text", "expected"), [
    ("500 runs", Budget(runs=500)), ("500runs", Budget(runs=500)), ("7", Budget(runs=7)),
    ("60s", Budget(seconds=60.0)), ("2m", Budget(seconds=120.0)), ("1 run", Budget(runs=1)),
])
def test_budget_parses(text: str, expected: Budget) -> None:
    assert Budget.parse(text) == expected


@pytest.mark.parametrize("text", ["0 runs", "-3", "soon", "0s", "runs"])
def test_budget_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        Budget.parse(text)
