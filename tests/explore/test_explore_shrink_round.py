"""Shrinking ends on round fault lengths (5s, 1s, 500ms rather than 5625ms, 1.5s, 750ms) where the check
still fails, and the counterexample keeps the seed the search found when a smaller run of it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtool.explore.candidate import Candidate, Runner, Tried, failed_checks
from evtool.explore.shrink import Shrinker, is_round, round_lengths
from evtool.scenario.units import parse_duration

FIXTURES = Path(__file__).parent / "fixtures"
MS = 1_000_000


def runner() -> Runner:
    path = FIXTURES / "charge-twice.yaml"
    return Runner(path.read_text(encoding="utf-8"), str(path))


@pytest.mark.parametrize(("ns", "expected"), [
    (5 * 1000 * MS, True), (500 * MS, True), (1500 * MS, True), (20 * MS, True), (MS, True),
    (5625 * MS, False), (6750 * MS, False), (750 * MS, True), (1250 * MS, False), (1_000_001, False), (500_000, False),
])
def test_round_lengths_have_one_significant_digit_or_two_ending_in_5(ns: int, expected: bool) -> None:
    assert is_round(ns) is expected


def test_the_ladder_of_round_lengths() -> None:
    assert round_lengths(25 * MS) == [MS * d for d in range(1, 10)] + [10 * MS, 15 * MS, 20 * MS, 25 * MS]
    ladder = round_lengths(100_000 * MS)
    assert all(is_round(v) for v in ladder) and ladder == sorted(ladder)
    assert [v for v in ladder if 1000 * MS <= v <= 3000 * MS] == [1000 * MS, 1500 * MS, 2000 * MS, 2500 * MS,
                                                                 3000 * MS]


def shrink_pause(length: str) -> str:
    """The fixture's minimal counterexample (one payment, the instance holding it paused past its 1 s lease,
    from 1 ns after the delivery at 0.5 s) with a pause of `length`, shrunk: the pause's length after."""
    r = runner()
    cand = Candidate(3, (("producers.checkout.count", 1),),
                     ((500_000_001, "fault", {"action": "pause", "target": "consumer:billing#0", "for": length}),))
    out = r.run(cand)
    assert failed_checks(out, "charged-once")
    best = Shrinker(r, Tried(cand, out, ("charged-once",)), "charged-once", max_runs=60).shrink()
    assert failed_checks(best.outcome, "charged-once")
    (iv,) = best.candidate.interventions
    return iv[2]["for"]


def test_a_pause_of_5625ms_shrinks_to_the_shortest_round_length_that_still_fails() -> None:
    # the lease is 1 s and the pause starts 1 ns after the delivery: 1s fails, 900ms passes
    assert shrink_pause("5625ms") == "1s"
    assert shrink_pause("1500ms") == "1s"


def test_a_length_with_no_shorter_round_one_failing_becomes_the_next_round_one_above() -> None:
    """Paused from 0.3 s, before the payment is delivered at 0.5 s: it fails from about 1.2 s (the 1 s lease
    from 0.5 s must run out while the pause holds), so 1300ms has no shorter round length that fails (1s
    passes) and becomes 1500ms."""
    r = runner()
    iv = (300_000_000, "fault", {"action": "pause", "target": "consumer:billing#0", "for": "1300ms"})
    cand = Candidate(3, (("producers.checkout.count", 1),), (iv,))
    out = r.run(cand)
    assert failed_checks(out, "charged-once")
    passing = cand.with_(interventions=((iv[0], iv[1], {**iv[2], "for": "1s"}),))
    assert not failed_checks(r.run(passing), "charged-once")
    best = Shrinker(r, Tried(cand, out, ("charged-once",)), "charged-once", max_runs=60).shrink()
    ((_t, _k, spec),) = best.candidate.interventions
    assert spec["for"] == "1500ms"


def test_a_shorter_round_length_that_passes_is_not_taken() -> None:
    r = runner()
    cand = Candidate(3, (("producers.checkout.count", 1),),
                     ((500_000_001, "fault", {"action": "pause", "target": "consumer:billing#0", "for": "900ms"}),))
    assert not failed_checks(r.run(cand), "charged-once")  # below the lease: no double charge
    assert parse_duration(shrink_pause("1300ms")) == 1_000_000_000
