"""Routing rules: AMQP topic matching, router tables and the stable partitioner.

Topic patterns follow RabbitMQ's topic exchange exactly
(https://www.rabbitmq.com/tutorials/amqp-concepts, /docs/exchanges): keys and
patterns are split on ``.``; ``*`` matches exactly one word and ``#`` matches
zero or more words. Words may be empty (``a..b`` has three words, the middle
one empty) and the empty key has zero words, so ``#`` matches it and ``*``
does not. ``a.#`` therefore matches ``a`` and ``#.c`` matches ``c``: the cases
kombu's and FastStream's in-memory emulators get wrong (research §1.8.4).

Partitioning uses Kafka's own keyed partitioner,
``toPositive(murmur2(key)) % partitions`` (BuiltInPartitioner.partitionForKey),
so a key lands on the same partition as with a real Kafka client. Python's
``hash()`` is salted per process and must never be used for this.
"""

from __future__ import annotations

from functools import lru_cache

ROUTER_TYPES = ("direct", "fanout", "topic")


def split_words(s: str) -> tuple[str, ...]:
    """Split a routing key or pattern into words; the empty string has zero words."""
    return tuple(s.split(".")) if s else ()


@lru_cache(maxsize=4096)
def topic_matches(pattern: str, key: str) -> bool:
    """True when routing `key` matches topic binding `pattern` (``*`` one word, ``#`` zero or more)."""
    return _match(split_words(pattern), split_words(key))


def _match(pat: tuple[str, ...], words: tuple[str, ...]) -> bool:
    # Iterative matcher with backtracking to the last '#': linear in practice
    # and never recursive, so long keys cannot blow the stack.
    pi = wi = 0
    star_pi = -1  # index of the last '#' seen in the pattern
    star_wi = 0   # word index that '#' is currently assumed to extend to
    np, nw = len(pat), len(words)
    while wi < nw:
        if pi < np and pat[pi] == "#":
            star_pi, star_wi = pi, wi
            pi += 1
        elif pi < np and (pat[pi] == "*" or pat[pi] == words[wi]):
            pi += 1
            wi += 1
        elif star_pi >= 0:
            # let the last '#' swallow one more word and retry after it
            star_wi += 1
            wi = star_wi
            pi = star_pi + 1
        else:
            return False
    while pi < np and pat[pi] == "#":
        pi += 1
    return pi == np


def binding_matches(router_type: str, pattern: str, key: str | None) -> bool:
    """Whether a binding with `pattern` on a router of `router_type` takes a message with `key`."""
    if router_type == "fanout":
        return True
    k = key or ""
    if router_type == "direct":
        return pattern == k
    if router_type == "topic":
        return topic_matches(pattern, k)
    raise ValueError(f"unknown router type {router_type!r}; valid: {', '.join(ROUTER_TYPES)}")


class RouteTable:
    """The bindings of one router, with a per-key cache of the resulting targets.

    A target bound twice (by two patterns that both match) gets one copy, as
    in RabbitMQ where a queue receives a message at most once per publish.
    """

    __slots__ = ("type", "bindings", "_cache")

    def __init__(self, router_type: str) -> None:
        if router_type not in ROUTER_TYPES:
            raise ValueError(f"unknown router type {router_type!r}; valid: {', '.join(ROUTER_TYPES)}")
        self.type = router_type
        self.bindings: list[tuple[str, str]] = []  # (target, pattern) in bind order
        self._cache: dict[str, tuple[str, ...]] = {}

    def bind(self, target: str, pattern: str) -> None:
        """Add a binding (idempotent, like ``queue.bind``)."""
        if (target, pattern) not in self.bindings:
            self.bindings.append((target, pattern))
            self._cache.clear()

    def unbind(self, target: str, pattern: str) -> None:
        """Remove a binding if present."""
        if (target, pattern) in self.bindings:
            self.bindings.remove((target, pattern))
            self._cache.clear()

    def targets(self, key: str | None) -> tuple[str, ...]:
        """Every target the key routes to, in bind order, each once."""
        k = key or ""
        hit = self._cache.get(k)
        if hit is None:
            seen: dict[str, None] = {}
            rtype = self.type
            for target, pattern in self.bindings:
                if target not in seen and binding_matches(rtype, pattern, k):
                    seen[target] = None
            hit = tuple(seen)
            if len(self._cache) > 8192:
                self._cache.clear()
            self._cache[k] = hit
        return hit


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (Utils.murmur2) as a signed 32-bit int, bit for bit."""
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        j = i * 4
        k = data[j] | (data[j + 1] << 8) | (data[j + 2] << 16) | (data[j + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    base = n4 * 4
    if rest == 3:
        h ^= data[base + 2] << 16
    if rest >= 2:
        h ^= data[base + 1] << 8
    if rest >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


@lru_cache(maxsize=65536)
def partition_for_key(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for `key` (UTF-8) among `partitions`."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions
