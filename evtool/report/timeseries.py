"""Time series computed from a trace, for the HTML report's charts: depth, throughput, latency.

One streaming pass, bounded memory: a fixed number of buckets over the run's
virtual duration; per bucket a capped, deterministic sample of latencies; and
the set of messages currently in each channel (the broker's own state).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from evtool.core.events import TraceEvent

# An event of these kinds takes its message out of the event's channel (or,
# for dead_lettered, out of data.from and into the dead-letter channel).
LEAVES = frozenset({"acked", "rejected", "expired", "dropped", "parked", "dead_lettered"})
SAMPLES_PER_BUCKET = 2000


@dataclass(frozen=True)
class Series:
    """Charts' data: bucket start times and per-bucket values."""

    t_ns: tuple[int, ...]                        # start of each bucket
    width_ns: int                                # bucket width
    depth: dict[str, tuple[int, ...]]            # channel -> messages in it at the end of each bucket
    published_per_s: tuple[float, ...]
    acked_per_s: tuple[float, ...]
    failed_per_s: tuple[float, ...]
    latency_ms: dict[str, tuple[float | None, ...]]  # "p50"/"p99" -> per-bucket publish-to-ack latency


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def trace_series(events: Iterable[TraceEvent], duration_ns: int, buckets: int = 90,
                 max_channels: int = 8) -> Series:
    """Bucket a trace (in time order) into `buckets` intervals over `duration_ns`."""
    duration_ns = max(duration_ns, 1)
    width = max(1, -(-duration_ns // buckets))
    n = -(-duration_ns // width) + 1
    published = [0] * n
    acked = [0] * n
    failed = [0] * n
    depth_now: dict[str, set[str]] = {}
    depth: dict[str, list[int]] = {}
    lat: list[list[float]] = [[] for _ in range(n)]
    seen = [0] * n
    rng = random.Random(0)  # deterministic reservoir sampling
    born: dict[str, int] = {}
    alive: dict[str, int] = {}  # msg -> channels it is in (to forget `born` when it leaves all)
    current = 0

    def close_until(b: int) -> None:
        nonlocal current
        while current < b:
            for ch, members in depth_now.items():
                depth.setdefault(ch, [0] * n)[current] = len(members)
            current += 1

    def enter(ch: str, msg: str) -> None:
        members = depth_now.setdefault(ch, set())
        if msg not in members:
            members.add(msg)
            alive[msg] = alive.get(msg, 0) + 1

    def leave(ch: str | None, msg: str) -> None:
        members = depth_now.get(ch) if ch is not None else None
        if members is not None and msg in members:
            members.discard(msg)
            left = alive.get(msg, 1) - 1
            if left <= 0:
                alive.pop(msg, None)
                born.pop(msg, None)
            else:
                alive[msg] = left

    for e in events:
        b = min(n - 1, e.t // width)
        if b > current:
            close_until(b)
        msg = e.msg
        k = e.kind
        if k == "published":
            published[b] += 1
            if msg is not None and msg not in born:
                born[msg] = e.t
        elif k == "failed":
            failed[b] += 1
        if msg is None:
            continue
        if k in ("enqueued", "redriven") and e.channel is not None:
            enter(e.channel, msg)
        elif k in LEAVES:
            if k == "acked":
                acked[b] += 1
                start = born.get(msg)
                if start is not None:
                    seen[b] += 1
                    sample = lat[b]
                    value = (e.t - start) / 1e6
                    if len(sample) < SAMPLES_PER_BUCKET:
                        sample.append(value)
                    else:
                        j = rng.randrange(seen[b])
                        if j < SAMPLES_PER_BUCKET:
                            sample[j] = value
            if k == "dead_lettered":
                leave(str(e.data.get("from")) if e.data and e.data.get("from") else None, msg)
                if e.channel is not None:
                    enter(e.channel, msg)
            else:
                leave(e.channel, msg)
    close_until(n)
    per_s = 1e9 / width
    # Keep the busiest channels (by peak depth) so the chart stays readable.
    top = sorted(depth, key=lambda ch: (-max(depth[ch]), ch))[:max_channels]
    return Series(
        t_ns=tuple(i * width for i in range(n)), width_ns=width,
        depth={ch: tuple(depth[ch]) for ch in sorted(top)},
        published_per_s=tuple(x * per_s for x in published), acked_per_s=tuple(x * per_s for x in acked),
        failed_per_s=tuple(x * per_s for x in failed),
        latency_ms={"p50": tuple(_pct(s, 0.5) for s in lat), "p99": tuple(_pct(s, 0.99) for s in lat)},
    )
