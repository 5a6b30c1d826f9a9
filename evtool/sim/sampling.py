"""Turn scenario distributions into fast samplers of integer nanoseconds."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from evtool.scenario import models as m

Sampler = Callable[[random.Random], int]

_Z99 = 2.3263478740408408  # the standard normal's 99th percentile


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
        return lambda rng: rng.randint(lo, hi) if hi > lo else lo
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


class KeyPicker:
    """Draws message keys from a KeyDist."""

    __slots__ = ("_kind", "_space", "_fmt", "_value", "_next", "_cum")

    def __init__(self, spec: m.KeyDist) -> None:
        self._kind = spec.dist
        self._space = spec.space or 1
        self._fmt = spec.format
        self._value = spec.value
        self._next = 0
        self._cum: list[float] = []
        if spec.dist == "zipf":
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
            import bisect

            n = min(bisect.bisect_left(self._cum, rng.random()), self._space - 1)
        elif kind == "round_robin":
            n = self._next % self._space
            self._next += 1
        else:  # sequence
            n = self._next
            self._next += 1
        return self._fmt.format(n=n)
