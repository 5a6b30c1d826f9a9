"""Partition assignment strategies for log consumer groups.

Pure functions from (members, partition count, previous assignment) to a new
assignment ``{member: [partitions]}``. Members are sorted, as Kafka's assignors
sort member ids, so the result is deterministic.

``range``               contiguous ranges; the first ``P % n`` members get one extra
                        (Kafka RangeAssignor, one topic)
``round_robin``         partition p goes to member ``p % n`` (RoundRobinAssignor)
``cooperative_sticky``  keep every partition where it was as long as the balance allows, move only
                        the surplus (CooperativeStickyAssignor)

`is_cooperative` tells the broker whether a rebalance revokes only moved
partitions (cooperative) or everything first (eager).
"""

from __future__ import annotations

STRATEGIES = ("range", "round_robin", "cooperative_sticky")


def is_cooperative(strategy: str) -> bool:
    """True for incremental (cooperative) rebalancing, False for eager revoke-all."""
    return strategy == "cooperative_sticky"


def assign(strategy: str, members: list[int], partitions: int,
           previous: dict[int, list[int]] | None = None) -> dict[int, list[int]]:
    """Assign `partitions` partitions to `members` with `strategy`."""
    ms = sorted(members)
    if not ms:
        return {}
    if strategy == "range":
        return _range(ms, partitions)
    if strategy == "round_robin":
        out: dict[int, list[int]] = {m: [] for m in ms}
        for p in range(partitions):
            out[ms[p % len(ms)]].append(p)
        return out
    if strategy == "cooperative_sticky":
        return _sticky(ms, partitions, previous or {})
    raise ValueError(f"unknown assignment {strategy!r}; valid: {', '.join(STRATEGIES)}")


def _range(ms: list[int], partitions: int) -> dict[int, list[int]]:
    n = len(ms)
    per, extra = divmod(partitions, n)
    out: dict[int, list[int]] = {}
    start = 0
    for i, m in enumerate(ms):
        size = per + (1 if i < extra else 0)
        out[m] = list(range(start, start + size))
        start += size
    return out


def _sticky(ms: list[int], partitions: int, previous: dict[int, list[int]]) -> dict[int, list[int]]:
    n = len(ms)
    floor, extra = divmod(partitions, n)
    # `extra` members may hold floor+1; prefer those that already hold the most
    keep: dict[int, list[int]] = {}
    taken: set[int] = set()
    order = sorted(ms, key=lambda m: (-len(previous.get(m, [])), m))
    big = 0
    for m in order:
        owned = [p for p in sorted(previous.get(m, [])) if p < partitions and p not in taken]
        quota = floor + 1 if big < extra and len(owned) > floor else floor
        if quota == floor + 1:
            big += 1
        keep[m] = owned[:quota]
        taken.update(keep[m])
    free = [p for p in range(partitions) if p not in taken]
    for p in free:
        # fill the least loaded member; ties go to the lowest id
        m = min(ms, key=lambda x: (len(keep[x]), x))
        keep[m].append(p)
    # after filling, no member may exceed floor+1 and only `extra` may reach it: the fill above
    # always picks the least loaded member, so this holds by construction
    return {m: sorted(keep[m]) for m in ms}
