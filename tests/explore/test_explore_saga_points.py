"""The points and lengths that let explore make a saga's reply late: `saga_wait` points where a participant
instance holds a command of a compensable step, each offering a length just past the step's whole wait."""

from __future__ import annotations

from collections import Counter

from evtool.explore.candidate import Candidate, Runner
from evtool.explore.points import PointCollector, durations, give_up_after
from evtool.scenario import models as m
from evtool.scenario.lessons import lesson_dir

S = 1_000_000_000


def saga_runner(overrides: dict | None = None) -> Runner:
    return Runner((lesson_dir() / "order-saga.yaml").read_text(encoding="utf-8"), "order-saga", overrides)


def test_a_step_gives_up_after_every_attempts_timeout_and_the_backoffs_between() -> None:
    retry = m.RetryPolicy(max_attempts=3, on_exhausted="compensate",
                          backoff=m.Backoff(type="exponential", initial="500ms", multiplier=2, max="4s"))
    assert give_up_after(1 * S, retry) == 3 * S + 500_000_000 + 1 * S  # order-saga's charge_payment: 4.5 s
    assert give_up_after(2 * S, None) == 2 * S
    capped = m.RetryPolicy(max_attempts=4, on_exhausted="compensate",
                           backoff=m.Backoff(type="exponential", initial="1s", multiplier=10, max="3s"))
    assert give_up_after(1 * S, capped) == 4 * S + 1 * S + 3 * S + 3 * S
    assert give_up_after(1 * S, m.RetryPolicy(max_attempts="forever", on_exhausted="compensate")) is None


def test_lengths_past_compensable_steps_only() -> None:
    lengths = durations(saga_runner().loaded().model)
    assert 6_750_000_000 in lengths  # 1.5 × charge_payment's 4.5 s
    assert 9_900_000_000 in lengths  # 1.5 × reserve_inventory's 6.6 s
    assert 256_500_000_000 not in lengths  # create_shipment (the pivot, no compensation) is left out


def test_saga_wait_points_are_where_a_participant_holds_a_compensable_steps_command() -> None:
    r = saga_runner({"producers.checkout.count": 10})
    col = PointCollector(r.loaded({}).model)
    r.run(Candidate(2024, (("producers.checkout.count", 10),)), col)
    waits = [p for p in col.points if p.where == "saga_wait"]
    assert waits
    by_consumer = Counter(p.consumers[0].partition("#")[0] for p in waits)
    assert set(by_consumer) == {"consumer:inventory", "consumer:payment"}  # never shipping (the pivot)
    for p in waits:
        (target,) = p.consumers  # the one instance holding the command
        assert p.faults == ("pause",)  # held, not crashed: a crash gives the command to another instance
        assert p.lengths == ((6_750_000_000,) if target.startswith("consumer:payment#") else (9_900_000_000,))
