"""Topic routing (golden table), router tables and Kafka's keyed partitioner."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evtool.core.routing import RouteTable, binding_matches, murmur2, partition_for_key, topic_matches

from .routing_cases import ROUTING_CASES


def test_golden_table_is_big_enough() -> None:
    """The contract tests reuse this table; it must cover at least 40 cases without duplicates."""
    assert len(ROUTING_CASES) >= 40
    assert len({(p, k) for p, k, _ in ROUTING_CASES}) == len(ROUTING_CASES)


@pytest.mark.parametrize(("pattern", "key", "expected"), ROUTING_CASES)
def test_topic_golden_table(pattern: str, key: str, expected: bool) -> None:
    """RabbitMQ topic rule: `*` is exactly one word, `#` zero or more (research §1.1, §1.8.4)."""
    assert topic_matches(pattern, key) is expected


_word = st.sampled_from(["a", "b", "c", ""])
_pword = st.sampled_from(["a", "b", "*", "#"])


def _reference(pat: list[str], words: list[str]) -> bool:
    # the plain recursive definition, as in research §1.8.4's reference matcher
    if not pat:
        return not words
    if pat[0] == "#":
        return _reference(pat[1:], words) or (bool(words) and _reference(pat, words[1:]))
    if not words:
        return False
    return (pat[0] == "*" or pat[0] == words[0]) and _reference(pat[1:], words[1:])


@given(st.lists(_pword, max_size=6), st.lists(_word, max_size=6))
def test_matcher_agrees_with_recursive_definition(pat: list[str], words: list[str]) -> None:
    """The iterative matcher equals the recursive definition of `*` / `#` on random inputs."""
    pattern, key = ".".join(pat), ".".join(words)
    # joining drops the distinction between [] and [""]: re-split the same way the matcher does
    pw = pattern.split(".") if pattern else []
    kw = key.split(".") if key else []
    assert topic_matches(pattern, key) == _reference(pw, kw)


def test_direct_and_fanout_bindings() -> None:
    """direct: exact equality of binding and routing key; fanout ignores the key (research §1.1)."""
    assert binding_matches("direct", "a.b", "a.b")
    assert not binding_matches("direct", "a.*", "a.b")
    assert binding_matches("fanout", "whatever", "a.b")
    assert binding_matches("direct", "", None)


def test_route_table_delivers_one_copy_per_target() -> None:
    """A queue bound with two matching patterns receives one copy (research §1.1 bindings)."""
    rt = RouteTable("topic")
    rt.bind("q1", "a.#")
    rt.bind("q1", "*.b")
    rt.bind("q2", "x.#")
    assert rt.targets("a.b") == ("q1",)
    assert rt.targets("x") == ("q2",)
    assert rt.targets("zzz") == ()
    rt.unbind("q1", "a.#")
    assert rt.targets("a.c") == ()


def test_unknown_router_type_lists_valid_ones() -> None:
    """Router types are direct, fanout and topic."""
    with pytest.raises(ValueError, match="direct, fanout, topic"):
        RouteTable("headers")


@pytest.mark.parametrize(("key", "expected"), [
    ("21", -973932308), ("foobar", -790332482), ("abc", 479470107),
    ("a-little-bit-long-string", -985981536), ("a-little-bit-longer-string", -1486304829),
    ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
])
def test_murmur2_matches_kafka(key: str, expected: int) -> None:
    """Kafka UtilsTest.testMurmur2 vectors: keys land on the same partitions as a Kafka client (§1.2)."""
    assert murmur2(key.encode()) == expected


@given(st.text(max_size=20), st.integers(1, 64))
def test_partition_is_stable_and_in_range(key: str, n: int) -> None:
    """toPositive(murmur2(key)) % n is in range and independent of Python's salted hash()."""
    p = partition_for_key(key, n)
    assert 0 <= p < n
    assert p == (murmur2(key.encode()) & 0x7FFFFFFF) % n
