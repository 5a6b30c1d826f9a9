"""`channels:`: queues, grouped queues, topics, logs and routers."""


from typing import Annotated, Literal

from pydantic import Field, field_validator

from evtool.scenario.models.base import Model, _custom
from evtool.scenario.types import Duration, Name, PositiveDuration

# --------------------------------------------------------------------------- channels

Overflow = Literal["reject_publish", "drop_head", "dead_letter"]


class DeliveryChannel(Model):
    """Fields shared by channels that deliver with acks (queues and subscriptions)."""

    capacity: int | None = Field(None, ge=1, description="most ready messages; none means unbounded")
    overflow: Overflow = "reject_publish"
    ack_timeout: PositiveDuration | None = Field(None, description="the lease; default from the profile")
    ttl: PositiveDuration | None = Field(None, description="message time to live (expires at the head)")
    max_deliveries: int | Literal["unlimited"] | None = Field(None, description="broker-side delivery limit")
    dead_letter: Name | None = Field(None, description="channel that receives dead letters")
    dedup_window: Duration | None = Field(None, description="drop a message whose dedup id was seen within this "
                                          "window (default from the profile)")
    content_based_dedup: bool = Field(False, description="a message without a dedup id gets the SHA-256 of its "
                                      "payload as one (SQS FIFO ContentBasedDeduplication)")
    durable: bool = True
    requeue_position: Literal["head", "original", "tail"] | None = None
    role: Literal["normal", "dead_letter", "retry", "parking_lot"] = "normal"
    description: str | None = None

    @field_validator("max_deliveries")
    @classmethod
    def _max_deliveries(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and v < 1:
            raise _custom("evtool_range", "max_deliveries must be at least 1 (or `unlimited`)",
                          "0 and -1 do not mean unlimited here; write `unlimited`")
        return v


class QueueChannel(DeliveryChannel):
    """Point to point: competing consumers, per-message ack, prefetch."""

    kind: Literal["queue"]


class GroupedQueueChannel(DeliveryChannel):
    """A queue that hands out one message per group at a time, in order (SQS FIFO)."""

    kind: Literal["grouped_queue"]
    group_by: str = Field("key", description="`key`, or `header.NAME`")


class TopicChannel(DeliveryChannel):
    """Publish-subscribe: each consumer group gets its own copy of every message."""

    kind: Literal["topic"]


class Retention(Model):
    """How long a log keeps entries, independently of consumption."""

    time: Duration | Literal["forever"] = "forever"
    count: int | None = Field(None, ge=1)


class LogChannel(Model):
    """A partitioned, append-only log with consumer groups and committed offsets (Kafka)."""

    kind: Literal["log"]
    partitions: int = Field(1, ge=1, le=1024)
    partitioner: Literal["key_hash", "round_robin"] = "key_hash"
    retention: Retention = Field(default_factory=Retention)
    durable: bool = True
    description: str | None = None


class Binding(Model):
    """A router's binding to a channel."""

    to: Name
    pattern: str = Field("", description="routing key (direct) or pattern with `*` and `#` (topic)")


class RouterChannel(Model):
    """Stateless routing by key (an AMQP exchange): direct, fanout or topic."""

    kind: Literal["router"]
    type: Literal["direct", "fanout", "topic"]
    bindings: list[Binding] = Field(min_length=1)
    description: str | None = None


Channel = Annotated[
    QueueChannel | GroupedQueueChannel | TopicChannel | LogChannel | RouterChannel,
    Field(discriminator="kind"),
]


