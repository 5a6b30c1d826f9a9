"""Channel configurations: one frozen dataclass per channel kind.

Conventions shared by every kind: a field left at ``None`` takes the broker
profile's value (`evtool.core.profiles.Profile`); ``0`` switches the feature
off explicitly where the profile would switch it on (``ack_timeout_ns=0`` =
no lease, ``max_deliveries=0`` = unlimited, ``dedup_window_ns=0`` = no dedup).

Kinds (research §1.8.1):

``queue``          destructive, competing consumers, per-message ack, prefetch
``grouped_queue``  a queue that delivers one message at a time per group key, in order (SQS FIFO)
``topic``          every subscription group gets its own copy, from the time it joined
``log``            append-only partitions with retention; consumer groups hold committed offsets
``router``         stateless routing to bound channels: direct | fanout | topic
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from evtool.core.routing import ROUTER_TYPES

OVERFLOWS = ("reject_publish", "drop_head", "dead_letter")
KINDS = ("queue", "grouped_queue", "topic", "log", "router")


def _check(name: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(valid)}")


def _non_negative(**values: int | None) -> None:
    for name, v in values.items():
        if v is not None and v < 0:
            raise ValueError(f"{name} must be >= 0, got {v}")


@dataclass(frozen=True)
class ChannelConfig:
    """Base of every channel configuration; `kind` names the channel kind."""

    kind: ClassVar[str] = ""
    durable: bool = True


@dataclass(frozen=True)
class QueueConfig(ChannelConfig):
    """A queue: competing consumers, per-message ack, leases, dead-lettering.

    capacity          most messages held (None = unbounded); `Profile.capacity_counts` says which:
                      ready ones only (RabbitMQ max-length) or every stored one, unacked included
                      (JetStream MaxMsgs)
    overflow          at capacity: reject_publish | drop_head | dead_letter (the head, reason overflow);
                      `Profile.overflow_head` says whether drop_head dead-letters (RabbitMQ) and
                      whether dead_letter is possible at all (not with JetStream DiscardOld)
    ack_timeout_ns    lease length (None = profile, 0 = no lease)
    ttl_ns            per-channel message TTL (None = none); the lower of it and the message's wins;
                      `Profile.message_expiry` says where it acts: at the head, dead-lettered
                      (RabbitMQ), or anywhere, ready or unacked, silently (JetStream MaxAge)
    max_deliveries    delivery limit (None = profile, 0 = unlimited); see profiles for the counter
    dead_letter       channel that receives dead letters (None = they are dropped)
    dedup_window_ns   window in which a repeated dedup id is dropped (None = profile, 0 = off); only
                      messages with a `Message.dedup_id` are compared
    content_based_dedup  a message without a dedup id gets the SHA-256 of its payload as one
                      (SQS FIFO ContentBasedDeduplication); needs a dedup window
    requeue_position  head | original | tail (None = profile)
    durable           whether the messages survive a broker restart
    """

    kind: ClassVar[str] = "queue"
    capacity: int | None = None
    overflow: str = "drop_head"
    ack_timeout_ns: int | None = None
    ttl_ns: int | None = None
    max_deliveries: int | None = None
    dead_letter: str | None = None
    dedup_window_ns: int | None = None
    content_based_dedup: bool = False
    requeue_position: str | None = None

    def __post_init__(self) -> None:
        _check("overflow", self.overflow, OVERFLOWS)
        if self.requeue_position is not None:
            _check("requeue_position", self.requeue_position, ("head", "original", "tail"))
        _non_negative(capacity=self.capacity, ack_timeout_ns=self.ack_timeout_ns, ttl_ns=self.ttl_ns,
                      max_deliveries=self.max_deliveries, dedup_window_ns=self.dedup_window_ns)


@dataclass(frozen=True)
class GroupedQueueConfig(QueueConfig):
    """A queue with one message in flight per group, in order within the group (SQS FIFO).

    group_key  the header holding the group id (None = the message key). A returned message
               always goes back to the head of its group, whatever requeue_position says.
    """

    kind: ClassVar[str] = "grouped_queue"
    group_key: str | None = None


@dataclass(frozen=True)
class TopicConfig(QueueConfig):
    """A topic: each subscription group gets its own queue with these settings.

    A subscription sees only messages published after it joined. A named group
    keeps its queue (and collects messages) while it has no members; an
    anonymous subscription (group None) has an exclusive queue deleted when it
    leaves, like a RabbitMQ exclusive auto-delete queue.
    """

    kind: ClassVar[str] = "topic"


@dataclass(frozen=True)
class LogConfig(ChannelConfig):
    """A partitioned, append-only log (Kafka topic, RabbitMQ stream, NATS Limits stream).

    partitions          number of partitions
    partitioner         key_hash: keys go to ``murmur2(key) % partitions`` (Kafka's default), keyless
                        messages round-robin | round_robin: every message round-robin, keys ignored
    retention_ns        records older than this are removed (None = kept)
    retention_count     most records kept per partition (None = unbounded)
    dedup_window_ns     drop a repeated dedup id (None = profile, 0 = off)
    dead_letter         channel a rejected record is copied to (a dead-letter topic), else skipped
    session_timeout_ns  how long a crashed member keeps its partitions (None = profile)
    assignment          range | round_robin | cooperative_sticky (None = profile)
    """

    kind: ClassVar[str] = "log"
    partitions: int = 1
    partitioner: str = "key_hash"
    retention_ns: int | None = None
    retention_count: int | None = None
    dedup_window_ns: int | None = None
    dead_letter: str | None = None
    session_timeout_ns: int | None = None
    assignment: str | None = None

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")
        _check("partitioner", self.partitioner, ("key_hash", "round_robin"))
        if self.assignment is not None:
            _check("assignment", self.assignment, ("range", "round_robin", "cooperative_sticky"))
        _non_negative(retention_ns=self.retention_ns, retention_count=self.retention_count,
                      dedup_window_ns=self.dedup_window_ns, session_timeout_ns=self.session_timeout_ns)


@dataclass(frozen=True)
class RouterConfig(ChannelConfig):
    """A router (RabbitMQ exchange): direct | fanout | topic.

    alternate  where unroutable messages go (RabbitMQ alternate exchange); None = dropped
               with an ``unroutable`` event
    """

    kind: ClassVar[str] = "router"
    type: str = "direct"
    alternate: str | None = None

    def __post_init__(self) -> None:
        _check("type", self.type, ROUTER_TYPES)
