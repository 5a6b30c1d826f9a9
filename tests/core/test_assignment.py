"""Partition assignment strategies (Kafka Range, RoundRobin, CooperativeSticky; research §1.2)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from evtool.core.assignment import assign


def test_range_gives_contiguous_ranges_extra_to_first() -> None:
    """RangeAssignor: contiguous ranges, the first P % n members get one more."""
    assert assign("range", [3, 1, 2], 7) == {1: [0, 1, 2], 2: [3, 4], 3: [5, 6]}


def test_round_robin() -> None:
    """RoundRobinAssignor: partition p to member p % n (members sorted)."""
    assert assign("round_robin", [2, 1], 5) == {1: [0, 2, 4], 2: [1, 3]}


def test_sticky_moves_only_what_it_must() -> None:
    """CooperativeSticky: when a member joins, only the surplus moves to it."""
    before = assign("cooperative_sticky", [1, 2], 6)
    after = assign("cooperative_sticky", [1, 2, 3], 6, before)
    moved = sum(1 for m in (1, 2) for p in before[m] if p not in after[m])
    assert moved == 2 and len(after[3]) == 2


members = st.lists(st.integers(1, 50), min_size=1, max_size=8, unique=True)


@given(st.sampled_from(["range", "round_robin", "cooperative_sticky"]), members, st.integers(0, 40), members)
def test_every_partition_owned_once_and_balanced(strategy: str, ms: list[int], n: int, prev_ms: list[int]) -> None:
    """Each partition goes to exactly one member and loads differ by at most one."""
    prev = assign(strategy, prev_ms, n)
    a = assign(strategy, ms, n, prev)
    owned = sorted(p for ps in a.values() for p in ps)
    assert owned == list(range(n))
    loads = [len(ps) for ps in a.values()]
    assert max(loads) - min(loads) <= 1
