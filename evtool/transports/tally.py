"""What the real-broker runtime keeps per subscription: the scenario side of a subscription (`Sub`) and the counts
of one subscription queue tallied from the trace (`Tally`); see `evtool.transports.runtime`."""

from __future__ import annotations

from collections import Counter


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


class Tally:
    """Counts of one subscription queue (a queue, or one group of a topic or log), from the trace."""

    __slots__ = ("enqueued", "acked", "dead_lettered", "expired", "dropped", "kept", "redriven", "ready", "delayed",
                 "limbo")

    def __init__(self) -> None:
        self.enqueued = self.acked = self.dead_lettered = self.expired = self.dropped = self.kept = 0
        self.redriven = 0
        # per message id: copies waiting on the broker, held for a delay, or between client and broker
        # (rejected and not yet seen dead, or held by a crashed consumer until its lease or a claim)
        self.ready: Counter[str] = Counter()
        self.delayed: Counter[str] = Counter()
        self.limbo: Counter[str] = Counter()

    def take(self, mid: str) -> None:
        """A copy of `mid` leaves the waiting states (delivered or observed gone)."""
        for bag in (self.delayed, self.limbo, self.ready):
            if bag[mid] > 0:
                bag[mid] -= 1
                if not bag[mid]:
                    del bag[mid]
                return
