"""What the real-broker runtime keeps per subscription: the scenario side of a subscription (`Sub`) and the counts
of one subscription queue tallied from the trace (`Tally`); see `evtool.transports.runtime`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any


class Sub:
    """A subscription the runtime knows: the scenario side of it."""

    __slots__ = ("sid", "channel", "group", "key", "consumer", "instance", "alive")

    def __init__(self, sid: int, channel: str, group: str | None, consumer: str, instance: int) -> None:
        self.sid = sid
        self.channel = channel
        self.group = group
        self.key = (channel, group)
        self.consumer = consumer
        self.instance = instance
        self.alive = True


class ReadyCount(Counter[str]):
    """Ready copies per message id, with their total and the highest total since `restart_peak`: the
    depth a sampled gauge would miss between two samples (`ChannelStats.ready_peak`)."""

    __slots__ = ("total", "peak", "_raised_from")

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.peak = 0
        self._raised_from: int | None = None   # the peak before the last increase raised it

    def __setitem__(self, mid: str, n: int) -> None:
        before = self.total
        total = before + n - self.get(mid, 0)
        self.total = total
        if total > before:
            self._raised_from = self.peak if total > self.peak else None
        if total > self.peak:
            self.peak = total
        dict.__setitem__(self, mid, n)        # Counter keeps dict's

    def unraise(self) -> None:
        """The last increase was a publish counted ready before the broker answered it, and is now held as
        pending (`Tally.hold`): the broker never held it ready, so the peak it raised is taken back."""
        if self._raised_from is not None:
            self.peak = max(self._raised_from, self.total)
            self._raised_from = None

    def __delitem__(self, mid: str) -> None:
        self.total -= self.get(mid, 0)
        super().__delitem__(mid)

    # Every other way of changing a Counter goes through the two methods above, so `total` stays the sum of the
    # counts: dict's own `pop`, `popitem`, `clear`, `setdefault` and `update` would bypass them.

    def pop(self, mid: str, *default: int) -> int:  # type: ignore[override]
        """Remove `mid` and return its count (`default`, when given, if it has none)."""
        if mid not in self:
            if default:
                return default[0]
            raise KeyError(mid)
        n = self[mid]
        del self[mid]
        return n

    def popitem(self) -> tuple[str, int]:
        """Remove and return the last (message id, count) pair."""
        mid, n = super().popitem()
        self.total -= n
        return mid, n

    def clear(self) -> None:
        """No copies are ready (the peak of the interval stays)."""
        super().clear()
        self.total = 0

    def setdefault(self, mid: str, default: int = 0) -> int:  # type: ignore[override]
        """The count of `mid`, set to `default` first when it has none."""
        if mid not in self:
            self[mid] = default
        return self[mid]

    def update(self, other: Any = None, /, **kwargs: int) -> None:  # type: ignore[override]
        """Add counts (as `Counter.update`), one message id at a time."""
        for mid, n in _counts(other, kwargs):
            self[mid] = self.get(mid, 0) + n

    def subtract(self, other: Any = None, /, **kwargs: int) -> None:  # type: ignore[override]
        """Subtract counts (as `Counter.subtract`), one message id at a time."""
        for mid, n in _counts(other, kwargs):
            self[mid] = self.get(mid, 0) - n

    def restart_peak(self) -> None:
        """A new interval: the peak is the total now."""
        self.peak = self.total


def _counts(other: Any, kwargs: dict[str, int]) -> Iterator[tuple[str, int]]:
    """(message id, count) pairs of a Counter method's arguments: a mapping, or an iterable of ids (one each)."""
    for source in (other, kwargs):
        if source is not None:
            yield from (source.items() if hasattr(source, "items") else ((mid, 1) for mid in source))


class Tally:
    """Counts of one subscription queue (a queue, or one group of a topic or log), from the trace."""

    __slots__ = ("enqueued", "acked", "dead_lettered", "expired", "dropped", "kept", "redriven", "ready", "delayed",
                 "limbo", "pending")

    def __init__(self) -> None:
        self.enqueued = self.acked = self.dead_lettered = self.expired = self.dropped = self.kept = 0
        self.redriven = 0
        # per message id: copies waiting on the broker, held for a delay, or between client and broker
        # (rejected and not yet seen dead, held by a crashed consumer until its lease or a claim, or handed out
        # by the broker with the delivery still on its way to the client: `handed_out`)
        self.ready = ReadyCount()
        self.delayed: Counter[str] = Counter()
        self.limbo: Counter[str] = Counter()
        # per message id: copies published and not yet answered by the broker (see `hold`): not ready yet
        self.pending: Counter[str] = Counter()

    def take(self, mid: str) -> None:
        """A copy of `mid` leaves the waiting states (delivered or observed gone). A delivery may come before
        its publish's confirm (they travel on different channels): it then takes the pending copy."""
        for bag in (self.delayed, self.limbo, self.ready, self.pending):
            if bag.get(mid, 0) > 0:
                _less(bag, mid)
                return

    def take_pending(self, mid: str) -> None:
        """The broker refused or dropped a publish of `mid` (refused at capacity, a duplicate): its pending
        copy leaves (any copy when none is pending)."""
        if self.pending[mid] > 0:
            self.pending[mid] -= 1
            if not self.pending[mid]:
                del self.pending[mid]
        else:
            self.take(mid)

    def hold(self, mid: str) -> None:
        """A publish of `mid` awaits the broker's answer: its copy counted ready at publish is pending."""
        if self.ready.get(mid, 0) > 0:
            _less(self.ready, mid)
            self.ready.unraise()
            pending = self.pending
            pending[mid] = pending.get(mid, 0) + 1

    def handed_out(self, mid: str) -> bool:
        """The broker handed a copy of `mid` to a consumer and the delivery has not reached the client yet: it is
        no longer ready (nor pending) but between broker and client, until the delivery takes it (`take`).
        False when no ready or pending copy is left to move."""
        for bag in (self.ready, self.pending):
            if bag.get(mid, 0) > 0:
                _less(bag, mid)
                limbo = self.limbo
                limbo[mid] = limbo.get(mid, 0) + 1
                return True
        return False

    def stored(self, mid: str) -> None:
        """The broker stored a pending publish of `mid` (confirm, PubAck): ready now, unless delivered already."""
        if self.pending.get(mid, 0) > 0:
            _less(self.pending, mid)
            ready = self.ready
            ready[mid] = ready.get(mid, 0) + 1


def _less(bag: Counter[str], mid: str) -> None:
    """One copy of `mid` fewer in `bag` (which holds at least one), its entry gone at none: what
    ``bag[mid] -= 1`` then ``del bag[mid]`` at zero leave, in one or two dict operations (a publish passes
    here three times)."""
    n = bag[mid] - 1
    if n:
        bag[mid] = n
    else:
        del bag[mid]


def hold(tallies: dict[tuple[str, str | None], Tally], leaves: list[str], mid: str) -> None:
    """A publish that ends in `leaves` was issued and awaits the broker's answer (`Tally.hold`)."""
    for key, t in tallies.items():
        if key[0] in leaves:
            t.hold(mid)


def stored(tallies: dict[tuple[str, str | None], Tally], leaves: list[str], mid: str) -> None:
    """The broker answered a held publish: stored in each of `leaves` (those refusing it took theirs first)."""
    for key, t in tallies.items():
        if key[0] in leaves:
            t.stored(mid)
