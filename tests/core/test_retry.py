"""Retry policies: pure decisions (research §0.3, §1.8; AWS "Exponential Backoff And Jitter")."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evtool.core.retry import RetryDecision, RetryPolicy

MS = 1_000_000

attempts = st.integers(1, 60)
seeds = st.integers(0, 2**32)
bases = st.integers(0, 10_000 * MS)
caps = st.one_of(st.none(), st.integers(0, 60_000 * MS))
jitters = st.sampled_from(["none", "full", "equal", "decorrelated"])
backoffs = st.sampled_from(["immediate", "fixed", "linear", "exponential"])


def test_max_attempts_counts_the_first_delivery() -> None:
    """`max_attempts=3` = one try and two retries: attempt 3 failing is exhausted."""
    p = RetryPolicy(backoff="fixed", base_ns=5 * MS, max_attempts=3)
    rng = random.Random(1)
    assert p.decide(1, "Boom", True, rng) == RetryDecision("retry", 5 * MS, 1, "redeliver", "dead_letter")
    assert p.decide(2, "Boom", True, rng).action == "retry"
    assert p.decide(3, "Boom", True, rng).action == "exhausted"


def test_not_retryable_by_flag_name_or_filter() -> None:
    """Errors named in non_retryable, outside retry_on, or flagged not retryable are never retried."""
    p = RetryPolicy(retry_on=frozenset({"Timeout"}), non_retryable=frozenset({"BadInput"}))
    rng = random.Random(0)
    assert p.decide(1, "BadInput", True, rng).action == "not_retryable"
    assert p.decide(1, "Other", True, rng).action == "not_retryable"
    assert p.decide(1, "Timeout", False, rng).action == "not_retryable"
    assert p.decide(1, "Timeout", True, rng).action == "retry"


def test_backoff_shapes() -> None:
    """immediate 0; fixed base; linear base*n; exponential base*m^(n-1), capped by max_ns."""
    assert RetryPolicy(backoff="immediate").base_delay_ns(4) == 0
    assert RetryPolicy(backoff="fixed", base_ns=7).base_delay_ns(4) == 7
    assert RetryPolicy(backoff="linear", base_ns=7).base_delay_ns(4) == 28
    assert RetryPolicy(backoff="exponential", base_ns=100, multiplier=3).base_delay_ns(3) == 900
    assert RetryPolicy(backoff="exponential", base_ns=100, max_ns=500).base_delay_ns(10) == 500
    assert RetryPolicy(backoff="exponential", base_ns=1, multiplier=10, max_attempts=None).base_delay_ns(5000) > 0


def test_scenario_names_are_accepted() -> None:
    """The scenario language says `none` and `constant`; they mean immediate and fixed."""
    assert RetryPolicy(backoff="none").backoff == "immediate"
    assert RetryPolicy(backoff="constant").backoff == "fixed"


def test_mode_and_on_exhausted_are_carried() -> None:
    """The policy only carries the mode (in_place, redeliver, republish); the engine acts on it."""
    d = RetryPolicy(mode="republish", on_exhausted="park", max_attempts=1).decide(1, None, True, random.Random())
    assert (d.action, d.mode, d.on_exhausted, d.retry) == ("exhausted", "republish", "park", False)


@pytest.mark.parametrize("bad", [{"backoff": "cubic"}, {"jitter": "some"}, {"mode": "later"},
                                 {"on_exhausted": "explode"}, {"max_attempts": 0}, {"multiplier": 0.5}])
def test_invalid_policies_raise(bad: dict[str, object]) -> None:
    """Unknown names and impossible numbers are rejected with the valid choices."""
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


@given(backoffs, jitters, bases, caps, attempts, seeds)
def test_delay_within_zero_and_cap(backoff: str, jitter: str, base: int, cap: int | None, n: int,
                                   seed: int) -> None:
    """Every delay is within [0, max_ns]."""
    p = RetryPolicy(backoff=backoff, jitter=jitter, base_ns=base, max_ns=cap, max_attempts=None)
    d = p.delay_ns(n, random.Random(seed))
    assert d >= 0
    if cap is not None:
        assert d <= cap


@given(st.integers(1, 1000 * MS), st.floats(1.0, 4.0), st.integers(1, 30))
def test_exponential_growth_without_cap(base: int, mult: float, n: int) -> None:
    """Without jitter or cap, each exponential delay is at least the one before."""
    p = RetryPolicy(base_ns=base, multiplier=mult, max_attempts=None)
    assert p.base_delay_ns(n + 1) >= p.base_delay_ns(n)


@given(bases, attempts, seeds)
def test_full_jitter_within_zero_and_base(base: int, n: int, seed: int) -> None:
    """Full jitter: uniform in [0, d] where d is the un-jittered delay."""
    p = RetryPolicy(jitter="full", base_ns=base, max_attempts=None, max_ns=3600_000 * MS)
    d = p.base_delay_ns(n)
    assert 0 <= p.delay_ns(n, random.Random(seed)) <= d


@given(bases, attempts, seeds)
def test_equal_jitter_within_half_and_base(base: int, n: int, seed: int) -> None:
    """Equal jitter: d/2 + uniform(0, d/2), so within [d/2, d]."""
    p = RetryPolicy(jitter="equal", base_ns=base, max_attempts=None, max_ns=3600_000 * MS)
    d = p.base_delay_ns(n)
    assert d // 2 <= p.delay_ns(n, random.Random(seed)) <= d


@given(st.integers(1, 1000 * MS), st.integers(0, 5000 * MS), attempts, seeds)
def test_decorrelated_jitter_bounds(base: int, prev: int, n: int, seed: int) -> None:
    """Decorrelated: min(cap, uniform(base, previous*3))."""
    cap = 20_000 * MS
    p = RetryPolicy(jitter="decorrelated", base_ns=base, max_ns=cap, max_attempts=None)
    d = p.delay_ns(n, random.Random(seed), previous_delay_ns=prev)
    assert min(base, cap) <= d <= min(max(base, prev * 3), cap)


@given(st.integers(1, 12), st.lists(st.booleans(), min_size=1, max_size=30), seeds)
def test_attempts_never_exceed_max(max_attempts: int, _fails: list[bool], seed: int) -> None:
    """Following the decisions from attempt 1 on, no more than max_attempts attempts ever happen."""
    p = RetryPolicy(max_attempts=max_attempts, jitter="full")
    rng = random.Random(seed)
    attempt = 1
    while p.decide(attempt, "E", True, rng).retry:
        attempt += 1
    assert attempt == max_attempts


def test_same_seed_same_delays() -> None:
    """Randomness comes only from the given Random: the same seed gives the same delays."""
    p = RetryPolicy(jitter="decorrelated", base_ns=MS, max_ns=1000 * MS, max_attempts=None)
    a = [p.delay_ns(n, random.Random(42)) for n in range(1, 20)]
    b = [p.delay_ns(n, random.Random(42)) for n in range(1, 20)]
    assert a == b


@given(backoffs, jitters, bases, caps, st.integers(1, 100), st.sampled_from(["Boom", "Bad", None]), st.booleans(),
       seeds)
def test_a_decision_made_again_is_the_one_a_fresh_policy_makes(backoff: str, jitter: str, base: int,
                                                                cap: int | None, n: int, error: str | None,
                                                                retryable: bool, seed: int) -> None:
    """Decisions without jitter are kept and handed out again; with jitter each one draws, as before."""
    policy = RetryPolicy(backoff=backoff, jitter=jitter, base_ns=base, max_ns=cap, max_attempts=50,
                         non_retryable=frozenset({"Bad"}))
    rng_a, rng_b = random.Random(seed), random.Random(seed)
    first = [policy.decide(a, error, retryable, rng_a) for a in (n, n, 1, n)]
    fresh = [RetryPolicy(backoff=backoff, jitter=jitter, base_ns=base, max_ns=cap, max_attempts=50,
                         non_retryable=frozenset({"Bad"})).decide(a, error, retryable, rng_b) for a in (n, n, 1, n)]
    assert first == fresh
    assert rng_a.getstate() == rng_b.getstate()
    if jitter == "none" and n <= 64:
        assert first[0] is first[1] is first[3]
