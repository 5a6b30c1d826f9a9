"""Time series computed from a trace, for the HTML report's charts: depth, throughput, latency.

One streaming pass, bounded memory: a fixed number of buckets over the run's
virtual duration; per bucket a capped, deterministic sample of latencies; and
the set of messages currently in each channel.

Depth follows the engine's trace conventions (evtool/core/broker.py): a
message enters a channel with `published` or `enqueued` (a topic copy, a
delay that elapsed, a dead letter, a redrive; for a topic the copy is kept
per subscription group) and leaves it when it is acked, dead-lettered
(emitted at the channel it died in), redriven (emitted at the dead-letter
channel), expired, dropped or skipped. Latency is the engine's own
publish-to-handled figure (`handled` data.latency) where the trace has it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from evtool.core.events import TraceEvent

# An event of these kinds takes its message (copy) out of the event's channel.
LEAVES = frozenset({"acked", "rejected", "expired", "dropped", "parked", "dead_lettered", "redriven",
                    "unroutable", "duplicate_dropped"})
ENTERS = frozenset({"published", "enqueued"})
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
    depth_now: dict[str, set[tuple[str, str | None]]] = {}  # channel -> (message, group) copies in it
    depth: dict[str, list[int]] = {}
    lat: list[list[float]] = [[] for _ in range(n)]
    seen = [0] * n
    rng = random.Random(0)  # deterministic reservoir sampling
    born: dict[str, int] = {}
    alive: dict[str, int] = {}  # msg -> copies still somewhere (to forget `born` when none is left)
    current = 0

    def close_until(b: int) -> None:
        nonlocal current
        while current < b:
            for ch, members in depth_now.items():
                depth.setdefault(ch, [0] * n)[current] = len(members)
            current += 1

    def enter(ch: str, copy: tuple[str, str | None]) -> None:
        members = depth_now.setdefault(ch, set())
        if copy not in members:
            members.add(copy)
            alive[copy[0]] = alive.get(copy[0], 0) + 1

    def leave(ch: str, copy: tuple[str, str | None]) -> None:
        members = depth_now.get(ch)
        if members is None:
            return
        if copy not in members:
            copy = (copy[0], None)  # a log or topic record published without a group yet
            if copy not in members:
                return
        members.discard(copy)
        left = alive.get(copy[0], 1) - 1
        if left <= 0:
            alive.pop(copy[0], None)
            born.pop(copy[0], None)
        else:
            alive[copy[0]] = left

    def sample(b: int, value: float) -> None:
        seen[b] += 1
        bucket = lat[b]
        if len(bucket) < SAMPLES_PER_BUCKET:
            bucket.append(value)
        else:
            j = rng.randrange(seen[b])
            if j < SAMPLES_PER_BUCKET:
                bucket[j] = value

    engine_latency = False
    for e in events:
        b = min(n - 1, e.t // width)
        if b > current:
            close_until(b)
        msg = e.msg
        k = e.kind
        data = e.data
        if k == "published":
            published[b] += 1
            if msg is not None and msg not in born:
                born[msg] = e.t
        elif k == "failed":
            failed[b] += 1
        elif k == "acked":
            acked[b] += 1
        elif k == "handled" and data and not data.get("duplicate") and data.get("latency") is not None:
            engine_latency = True
            sample(b, data["latency"] / 1e6)
        if msg is None or e.channel is None:
            continue
        group = data.get("group") if data else None
        if k in ENTERS:
            if group is not None and (msg, None) in depth_now.get(e.channel, ()):
                leave(e.channel, (msg, None))  # the topic's publish becomes this group's copy
            enter(e.channel, (msg, group))
        elif k in LEAVES:
            if k == "acked" and not engine_latency:
                start = born.get(msg)
                if start is not None:
                    sample(b, (e.t - start) / 1e6)
            leave(e.channel, (msg, group))
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
