"""What the broker hands out and reports: deliveries and channel statistics."""

from __future__ import annotations

from dataclasses import dataclass

from evtool.core.message import Message


class Delivery:
    """One delivery of a message to a subscriber, under a lease.

    tag             broker-wide delivery tag; pass it to ack / nack / reject
    sub             the subscriber id `Broker.subscribe` returned
    msg             the message
    attempt         1 for the first delivery to this subscription, then 2, 3, ...
    channel         the channel (queue, topic or log) it came from
    partition       log partition (None for queues)
    offset          log offset (None for queues)
    lease_deadline  when the lease expires (None = no lease)
    count           the profile's delivery counter (see `evtool.core.profiles`)
    redelivered     True when it may have been delivered before (RabbitMQ's redeliver flag)
    """

    __slots__ = ("tag", "sub", "msg", "attempt", "channel", "partition", "offset", "lease_deadline", "count",
                 "redelivered")

    def __init__(self, tag: int, sub: int, msg: Message, attempt: int, channel: str, partition: int | None,
                 offset: int | None, lease_deadline: int | None, count: int, redelivered: bool) -> None:
        self.tag = tag
        self.sub = sub
        self.msg = msg
        self.attempt = attempt
        self.channel = channel
        self.partition = partition
        self.offset = offset
        self.lease_deadline = lease_deadline
        self.count = count
        self.redelivered = redelivered

    def __repr__(self) -> str:
        where = f", partition={self.partition}, offset={self.offset}" if self.partition is not None else ""
        return (f"Delivery(tag={self.tag}, sub={self.sub}, msg={self.msg.id!r}, attempt={self.attempt}, "
                f"channel={self.channel!r}{where})")


@dataclass(frozen=True, slots=True)
class ChannelStats:
    """Counts for one channel (summed over its subscriptions for a topic).

    Queue-like channels (queue, grouped_queue, topic): every message copy that
    entered a subscription queue (`enqueued`) is in exactly one of ready,
    in_flight, delayed, acked, dead_lettered, expired, dropped, kept or
    redriven; `unaccounted` is therefore always 0.

    published           publishes accepted by the channel (duplicates and rejected ones excluded)
    enqueued            message copies that entered a subscription queue
    ready               waiting for delivery (includes expired messages not yet at the head)
    in_flight           delivered, not yet settled
    delayed             waiting for a delay (nack with delay, delayed publish)
    acked               acknowledged
    dead_lettered       moved to the dead-letter channel
    expired             TTL passed with no dead-letter target (removed)
    dropped             discarded (overflow, limit without target, reject without target, restart)
    kept                at the delivery limit and kept undeliverable (NATS advisory)
    redriven            moved out of this (dead-letter) channel by a redrive
    duplicates          publishes dropped by the dedup window
    rejected_publishes  publishes refused (capacity with reject_publish, broker unavailable)
    depth               messages held: ready + in_flight + delayed (log: records retained)
    ready_peak          the most ready at any moment since the engine's last gauge sample
                        (`BrokerPort.restart_peaks`); exact for a queue, at least that for a topic of
                        several groups (the largest group's peak, or the ready sum now); None where
                        not tracked (a log's lag)

    For a log, `ready` is the total lag of its consumer groups, `in_flight` the
    delivered records not yet acked and `acked` the acked deliveries.
    """

    published: int = 0
    enqueued: int = 0
    ready: int = 0
    in_flight: int = 0
    delayed: int = 0
    acked: int = 0
    dead_lettered: int = 0
    expired: int = 0
    dropped: int = 0
    kept: int = 0
    redriven: int = 0
    duplicates: int = 0
    rejected_publishes: int = 0
    depth: int = 0
    ready_peak: int | None = None

    @property
    def unaccounted(self) -> int:
        """Enqueued copies not in any state (always 0 for queue-like channels)."""
        return self.enqueued - (self.ready + self.in_flight + self.delayed + self.acked + self.dead_lettered
                                + self.expired + self.dropped + self.kept + self.redriven)
