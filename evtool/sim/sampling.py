"""Turn scenario distributions into fast samplers of integer nanoseconds."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from evtool.scenario import models as m

Sampler = Callable[[random.Random], int]

_Z99 = 2.3263478740408408  # the standard normal's 99th percentile


def _inline_randbelow_ok() -> bool:
    """Whether this Python's `Random._randbelow` is the `getrandbits` rejection loop the uniform sampler inlines
    (CPython's `_randbelow_with_getrandbits`): compared draw for draw on a few widths."""
    if random.Random._randbelow is not getattr(random.Random, "_randbelow_with_getrandbits", None):  # noqa: SLF001
        return False
    for width in (1, 2, 3, 5_000_001, 2**40 + 3):
        a, b = random.Random(width), random.Random(width)
        bits = width.bit_length()
        for _ in range(16):
            r = b.getrandbits(bits)
            while r >= width:
                r = b.getrandbits(bits)
            if a._randbelow(width) != r:  # noqa: SLF001
                return False
    return True


_INLINE_RANDBELOW = _inline_randbelow_ok()


def duration_sampler(dist: object) -> Sampler:
    """A function rng -> ns for a DurationDist (a plain int means constant)."""
    if isinstance(dist, int):
        value = dist
        return lambda rng: value
    if isinstance(dist, m.ConstantDist):
        value = dist.value
        return lambda rng: value
    if isinstance(dist, m.UniformDist):
        lo, hi = dist.min, dist.max
        if hi <= lo:
            return lambda rng: lo
        width = hi - lo + 1
        if _INLINE_RANDBELOW:
            # `randint(lo, hi)` is `lo + _randbelow(hi - lo + 1)`, and `_randbelow` is the rejection loop
            # over `getrandbits(width.bit_length())` below (checked at import): the same draws, in one call
            bits = width.bit_length()

            def uniform(rng: random.Random) -> int:
                r = rng.getrandbits(bits)
                while r >= width:
                    r = rng.getrandbits(bits)
                return lo + r

            return uniform
        # `randint(lo, hi)` is `lo + _randbelow(hi - lo + 1)` (random.randrange with a step of 1): the same
        # draws, without the two argument-checking calls in between
        return lambda rng: lo + rng._randbelow(width)  # noqa: SLF001
    if isinstance(dist, m.ExponentialDist):
        rate = 1.0 / dist.mean
        return lambda rng: int(rng.expovariate(rate))
    if isinstance(dist, m.NormalDist):
        mu, sd = dist.mean, dist.stddev
        return lambda rng: max(0, int(rng.gauss(mu, sd)))
    if isinstance(dist, m.LognormalDist):
        mu = math.log(dist.median)
        sigma = (math.log(dist.p99) - mu) / _Z99
        return lambda rng: int(rng.lognormvariate(mu, sigma))
    raise TypeError(f"not a duration distribution: {dist!r}")


def mean_ns(dist: object) -> float:
    """The mean of a duration distribution (for explanations and sizing)."""
    if isinstance(dist, int):
        return float(dist)
    if isinstance(dist, m.ConstantDist):
        return float(dist.value)
    if isinstance(dist, m.UniformDist):
        return (dist.min + dist.max) / 2
    if isinstance(dist, m.ExponentialDist | m.NormalDist):
        return float(dist.mean)
    if isinstance(dist, m.LognormalDist):
        mu = math.log(dist.median)
        sigma = (math.log(dist.p99) - mu) / _Z99
        return math.exp(mu + sigma * sigma / 2)
    raise TypeError(f"not a duration distribution: {dist!r}")


ZIPF_TABLE_MAX = 100_000
"""Zipf key spaces up to this size use a cumulative table (fast, and the draws runs recorded so far used);
larger ones are sampled by rejection-inversion, so a `space: 1e11` never lists its keys."""


class ZipfSampler:
    """Rejection-inversion sampling of a bounded Zipf law (Hörmann & Derflinger 1996), in O(1) memory.

    Draws k in 1..n with P(k) proportional to k^-s; the expected number of loops per draw is below 1.1.
    This follows the algorithm as Apache Commons RNG writes it (RejectionInversionZipfSampler).
    """

    __slots__ = ("_n", "_s", "_h_x1", "_h_n", "_cut")

    def __init__(self, n: int, s: float) -> None:
        self._n = n
        self._s = s
        self._h_x1 = self._h_integral(1.5) - 1.0
        self._h_n = self._h_integral(n + 0.5)
        self._cut = 2.0 - self._h_integral_inverse(self._h_integral(2.5) - self._h(2.0))

    def _h(self, x: float) -> float:
        return math.exp(-self._s * math.log(x))

    def _h_integral(self, x: float) -> float:
        log_x = math.log(x)
        return _helper2((1.0 - self._s) * log_x) * log_x

    def _h_integral_inverse(self, x: float) -> float:
        t = max(x * (1.0 - self._s), -1.0)
        return math.exp(_helper1(t) * x)

    def sample(self, rng: random.Random) -> int:
        """One draw, 1-based."""
        n = self._n
        while True:
            u = self._h_n + rng.random() * (self._h_x1 - self._h_n)
            x = self._h_integral_inverse(u)
            k = min(max(int(x + 0.5), 1), n)
            if k - x <= self._cut or u >= self._h_integral(k + 0.5) - self._h(k):
                return k


def _helper1(x: float) -> float:
    """log1p(x) / x, exact near zero."""
    return math.log1p(x) / x if abs(x) > 1e-8 else 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))


def _helper2(x: float) -> float:
    """expm1(x) / x, exact near zero."""
    return math.expm1(x) / x if abs(x) > 1e-8 else 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))


class KeyPicker:
    """Draws message keys from a KeyDist."""

    __slots__ = ("_kind", "_space", "_fmt", "_value", "_next", "_cum", "_zipf")

    def __init__(self, spec: m.KeyDist) -> None:
        self._kind = spec.dist
        self._space = spec.space or 1
        self._fmt = spec.format
        self._value = spec.value
        self._next = 0
        self._cum: list[float] = []
        self._zipf: ZipfSampler | None = None
        if spec.dist == "zipf" and self._space > ZIPF_TABLE_MAX:
            self._zipf = ZipfSampler(self._space, spec.s)
        elif spec.dist == "zipf":
            weights = [1.0 / (k ** spec.s) for k in range(1, self._space + 1)]
            total = sum(weights)
            acc = 0.0
            for w in weights:
                acc += w / total
                self._cum.append(acc)

    def pick(self, rng: random.Random) -> str:
        """The next key."""
        kind = self._kind
        if kind == "fixed":
            return str(self._value)
        if kind == "uniform":
            n = rng.randrange(self._space)
        elif kind == "zipf":
            if self._zipf is not None:
                n = self._zipf.sample(rng) - 1
            else:
                import bisect

                n = min(bisect.bisect_left(self._cum, rng.random()), self._space - 1)
        elif kind == "round_robin":
            n = self._next % self._space
            self._next += 1
        else:  # sequence
            n = self._next
            self._next += 1
        return self._fmt.format(n=n)
