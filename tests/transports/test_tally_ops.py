"""`Tally.take`, `hold` and `stored` leave the bags, the ready total and its peak exactly as the plain Counter
operations they stand for (``bag[mid] -= 1`` then ``del`` at zero; ``bag[mid] += 1``), over random runs."""

from __future__ import annotations

import random
from collections import Counter

from evtool.transports.tally import ReadyCount, Tally


class _Spelled:
    """The operations written out with Counter arithmetic (what the tally did before its fast paths)."""

    def __init__(self) -> None:
        self.t = Tally()

    @staticmethod
    def _less(bag: Counter[str], mid: str) -> None:
        bag[mid] -= 1
        if not bag[mid]:
            del bag[mid]

    def take(self, mid: str) -> None:
        for bag in (self.t.delayed, self.t.limbo, self.t.ready, self.t.pending):
            if bag[mid] > 0:
                self._less(bag, mid)
                return

    def hold(self, mid: str) -> None:
        if self.t.ready[mid] > 0:
            self._less(self.t.ready, mid)
            self.t.ready.unraise()          # the publish was never ready on the broker (test_depth_peaks.py)
            self.t.pending[mid] += 1

    def stored(self, mid: str) -> None:
        if self.t.pending[mid] > 0:
            self._less(self.t.pending, mid)
            self.t.ready[mid] += 1


def _state(t: Tally) -> tuple[object, ...]:
    ready: ReadyCount = t.ready
    return (dict(ready), ready.total, ready.peak, dict(t.pending), dict(t.delayed), dict(t.limbo))


def test_tally_fast_paths_match_the_counter_arithmetic() -> None:
    rng = random.Random(14)
    for _ in range(200):
        ours, ref = Tally(), _Spelled()
        for _ in range(60):
            op = rng.choice(["arrive", "take", "hold", "stored", "delay", "limbo", "peak"])
            mid = rng.choice("abcd")
            for t in (ours, ref.t):
                if op == "arrive":
                    t.ready[mid] += 1
                elif op == "delay":
                    t.delayed[mid] += 1
                elif op == "limbo":
                    t.limbo[mid] += 1
                elif op == "peak":
                    t.ready.restart_peak()
            if op in ("take", "hold", "stored"):
                getattr(ours, op)(mid)
                getattr(ref, op)(mid)
            assert _state(ours) == _state(ref.t)
