"""Broker profiles: the documented defaults that make one state machine behave like each broker.

Every broker fits the same per-(message, subscription) state machine
(research §1.8.2); a `Profile` says where a returned message goes, what a
lease expiry does, what the delivery counter counts, what happens at the
limit, and so on. Each profile field carries its source in `Profile.sources`;
`docs/profiles.md` is generated from this module by `profiles_markdown()`
(a test keeps the two equal).

Profiles model one named version each (`Profile.version`). In particular
`rabbitmq-quorum` is RabbitMQ **3.10** (the version this machine runs), which
has no default delivery limit; RabbitMQ 4.0+ sets ``delivery-limit`` 20 by
default: use ``get_profile("rabbitmq-quorum").with_overrides(version="4.0",
max_deliveries=20)`` for that.

Counter conventions (the ``count`` a `Delivery` carries):

* ``deliver`` in `counter_increments_on`: every delivery counts, the first
  included (SQS ``ApproximateReceiveCount``, NATS ``NumDelivered``). The broker
  refuses to deliver a message whose count would pass `max_deliveries`, so at
  most `max_deliveries` deliveries happen.
* otherwise the counter counts failed returns of the listed kinds (RabbitMQ
  quorum ``x-delivery-count``); the first delivery has count 0 and a message is
  dead at the return that makes the count exceed `max_deliveries`, so at most
  ``max_deliveries + 1`` deliveries happen.

In both cases a message is never delivered with ``count > max_deliveries``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

SECOND = 1_000_000_000
MINUTE = 60 * SECOND

REQUEUE_POSITIONS = ("head", "original", "tail", "head_if_limited")
ACK_TIMEOUT_ACTIONS = ("return_message", "close_channel", "none")
COUNTER_EVENTS = ("deliver", "nack", "lease_expired", "crash", "channel_closed")
AT_LIMIT = ("dead_letter", "drop", "keep_with_advisory")
CRASH_RETURNS = ("immediate", "lease", "never")
ACK_EFFECTS = ("delete", "cursor")
LOG_STARTS = ("earliest", "latest")
PRODUCER_DEDUP_IDS = ("message_id", "none")
ASSIGNMENTS = ("range", "round_robin", "cooperative_sticky")
STALE_ACKS = ("settles", "ignored", "refused")
REJECT_ACTIONS = ("dead_letter", "lease_expiry", "stays_pending")
CAPACITY_COUNTS = ("ready", "stored")
OVERFLOW_HEADS = ("dead_letter", "as_configured", "drop")
REJECT_PUBLISHES = ("refused", "head_trimmed")
MESSAGE_EXPIRIES = ("at_head", "anywhere", "none")
GROUP_RECEIVES = ("one", "batch")

_ENUMS: dict[str, tuple[str, ...]] = {
    "requeue_position": REQUEUE_POSITIONS,
    "ack_timeout_action": ACK_TIMEOUT_ACTIONS,
    "at_limit": AT_LIMIT,
    "crash_return": CRASH_RETURNS,
    "ack_effect": ACK_EFFECTS,
    "log_start": LOG_STARTS,
    "assignment": ASSIGNMENTS,
    "stale_ack": STALE_ACKS,
    "reject_action": REJECT_ACTIONS,
    "capacity_counts": CAPACITY_COUNTS,
    "overflow_head": OVERFLOW_HEADS,
    "reject_publish": REJECT_PUBLISHES,
    "message_expiry": MESSAGE_EXPIRIES,
    "producer_dedup_id": PRODUCER_DEDUP_IDS,
    "group_receive": GROUP_RECEIVES,
}


def _f(default: Any, meaning: str) -> Any:
    return field(default=default, metadata={"meaning": meaning})


@dataclass(frozen=True)
class Profile:
    """The documented defaults of one broker (and version); see the module docstring."""

    name: str = _f("default", "profile name used in scenarios (`profile:`)")
    broker: str = _f("evtool", "the broker this profile imitates")
    version: str = _f("1", "the broker version whose documented behaviour is modelled")
    requeue_position: str = _f("tail", "where a returned (nacked, expired-lease, crashed) message goes "
                               "(head_if_limited: head when the queue has a delivery limit, else tail): "
                               "head | original | tail")
    ack_timeout_ns: int | None = _f(30 * SECOND, "lease length: how long a delivery may stay unacked "
                                    "(None = no lease)")
    ack_timeout_action: str = _f("return_message", "what a lease expiry does: return_message (that one "
                                 "message) | close_channel (the consumer's channel: all its unacked "
                                 "return) | none")
    counter_name: str = _f("attempt", "the broker's name for its delivery counter")
    counter_increments_on: frozenset[str] = _f(frozenset({"deliver"}), "what increments the counter: "
                                               "deliver (every delivery, the first included) or the "
                                               "kinds of failed return: nack, lease_expired, crash, "
                                               "channel_closed")
    max_deliveries: int | None = _f(None, "default delivery limit compared with the counter "
                                    "(None = unlimited)")
    at_limit: str = _f("dead_letter", "what happens when the counter passes the limit: dead_letter "
                       "(to the channel's dead_letter target, else drop) | drop | keep_with_advisory")
    dedup_window_ns: int | None = _f(None, "default window in which a repeated dedup id is dropped "
                                     "(None = no dedup); only messages that carry a dedup id are compared")
    producer_dedup_id: str = _f("none", "the dedup id a producer gives its messages unless it says: "
                                "message_id (the message id) | none (no dedup id: never deduplicated)")
    crash_return: str = _f("immediate", "when a crashed consumer's unacked messages return: immediate "
                           "(connection close) | lease (when each lease expires) | never (until claimed)")
    ack_effect: str = _f("delete", "what an ack does in the broker's native model: delete the message "
                         "(queue) or move a cursor (log)")
    prefetch: int = _f(10, "default in-flight limit per subscriber (0 = unlimited)")
    prefetch_cap: int | None = _f(None, "largest prefetch the broker accepts (None = no cap)")
    group_receive: str = _f("one", "what a subscriber of a grouped_queue receives of one message group: one "
                            "(one message, then the group waits until it is settled) | batch (as many "
                            "messages of the group as its free prefetch takes, in order; the group then waits "
                            "until none of them is in flight: SQS FIFO ReceiveMessage)")
    time_unit_ns: int = _f(0, "the unit the broker counts delays and leases in: a nack or publish delay and "
                           "a lease are rounded up to a whole number of it (0 = exact)")
    log_start: str = _f("earliest", "where a new consumer group starts on a log with no committed "
                        "offset: earliest | latest")
    session_timeout_ns: int = _f(45 * SECOND, "how long a crashed log-group member keeps its "
                                 "partitions before it is evicted and the group rebalances")
    assignment: str = _f("range", "default partition assignment strategy: range | round_robin | "
                         "cooperative_sticky")
    stale_ack: str = _f("refused", "an ack with the tag of an earlier delivery of a message that was redelivered "
                        "(or returned) since: settles (the message is acked, NATS, Redis XACK) | ignored "
                        "(the call succeeds, the message stays: SQS old receipt handle) | refused (an "
                        "error, nothing changes: RabbitMQ unknown delivery tag, Kafka)")
    reject_action: str = _f("dead_letter", "what a reject (or nack without requeue) does: dead_letter (at "
                            "once, reason rejected; dropped without a target) | lease_expiry (SQS has no "
                            "reject: the message stays invisible until its lease ends, then returns and "
                            "counts as a receive) | stays_pending (Redis has no reject: the entry stays "
                            "pending until claimed after the channel's ack_timeout, or for good without one)")
    capacity_counts: str = _f("ready", "what a channel's capacity counts: ready (RabbitMQ max-length; what is "
                              "lost at a Redis MAXLEN, which trims the oldest entries) | stored (ready, delayed "
                              "and unacked: JetStream MaxMsgs)")
    overflow_head: str = _f("as_configured", "what happens to the message removed from the head at "
                            "capacity: dead_letter (RabbitMQ: dead-lettered, reason overflow, whenever the "
                            "channel has a dead_letter target) | as_configured (overflow drop_head drops, "
                            "overflow dead_letter dead-letters) | drop (deleted silently, JetStream "
                            "DiscardOld; overflow dead_letter is refused)")
    reject_publish: str = _f("refused", "what overflow reject_publish does at capacity: refused (the publish is "
                             "refused and the producer told: RabbitMQ reject-publish, JetStream DiscardNew) | "
                             "head_trimmed (the broker cannot refuse a publish: the new message is stored and the "
                             "oldest goes without anyone being told, as overflow drop_head: Redis XADD MAXLEN)")
    reject_publish_over: int = _f(0, "how many messages over its capacity a queue with overflow reject_publish "
                                  "still accepts before it refuses (RabbitMQ 3.10 quorum queues: 1)")
    reject_publish_resume_pct: int | None = _f(None, "once a queue with overflow reject_publish is over its "
                                               "capacity, it refuses every publish until it holds at most this "
                                               "percentage of its capacity (RabbitMQ 3.10 quorum queues: 80); "
                                               "unset: each publish is judged alone")
    message_expiry: str = _f("at_head", "where a TTL takes effect: at_head (RabbitMQ: removed when it reaches "
                             "the head, dead-lettered when the channel has a target) | anywhere (JetStream "
                             "MaxAge, SQS retention: removed on time wherever it is, ready or unacked, never "
                             "dead-lettered; expired with reason max_age) | none (Redis streams: no entry "
                             "expires, a channel's or a message's ttl has no effect)")
    notes: str = _f("", "what the model leaves out or simplifies for this profile")
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False,
                                    metadata={"meaning": "field -> where the value comes from"})

    def __post_init__(self) -> None:
        for name, valid in _ENUMS.items():
            value = getattr(self, name)
            if value not in valid:
                raise ValueError(f"profile {self.name!r}: {name}={value!r} is not one of {', '.join(valid)}")
        bad = set(self.counter_increments_on) - set(COUNTER_EVENTS)
        if bad:
            raise ValueError(f"profile {self.name!r}: counter_increments_on has {sorted(bad)}; "
                             f"valid: {', '.join(COUNTER_EVENTS)}")
        if self.max_deliveries is not None and self.max_deliveries < 1:
            raise ValueError(f"profile {self.name!r}: max_deliveries must be >= 1 or None")
        if self.prefetch < 0:
            raise ValueError(f"profile {self.name!r}: prefetch must be >= 0")

    @property
    def counts_first_delivery(self) -> bool:
        """True when the first delivery already counts (SQS, NATS); False for return counters."""
        return "deliver" in self.counter_increments_on

    def with_overrides(self, **fields: Any) -> Profile:
        """A copy with some fields replaced; unknown names raise a ValueError listing valid ones."""
        valid = field_names()
        unknown = sorted(set(fields) - set(valid) - {"sources"})
        if unknown:
            raise ValueError(f"unknown profile field(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        if "counter_increments_on" in fields:
            fields["counter_increments_on"] = frozenset(fields["counter_increments_on"])
        sources = dict(self.sources)
        for name in fields:
            sources[name] = "scenario override"
        fields["sources"] = sources
        return dataclasses.replace(self, **fields)

    def source(self, field_name: str) -> str:
        """Where this profile's value of `field_name` comes from."""
        return self.sources.get(field_name, "evtool design choice")


def field_names() -> list[str]:
    """The overridable profile fields, in declaration order."""
    return [f.name for f in dataclasses.fields(Profile) if f.name != "sources"]


_RMQ_CONFIRMS = "https://www.rabbitmq.com/docs/confirms"
_RMQ_CONSUMERS = "https://www.rabbitmq.com/docs/consumers (consumer_timeout)"
_RMQ_QQ = "https://www.rabbitmq.com/docs/quorum-queues"
_RMQ_PREFETCH = "https://www.rabbitmq.com/docs/consumer-prefetch"
_RMQ_DLX = "https://www.rabbitmq.com/docs/dlx"
_SQS_CMV = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html"
_SQS_VIS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html"
_SQS_DLQ = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
_SQS_FIFO = ("https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
             "FIFO-queues-understanding-logic.html")
_SQS_FIFO_RECEIVE = "https://repost.aws/knowledge-center/sqs-fifo-messages-not-returned"
_SQS_KEYS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html"
_SQS_SEND = "SQS API SendMessage (MessageDeduplicationId)"
_SQS_RECEIVE = "SQS API ReceiveMessage (MaxNumberOfMessages 1-10)"
_KAFKA_CONSUMER = "Kafka ConsumerConfig.java (apache/kafka @1eb7644)"
_KAFKA_SHARE = "Kafka ShareGroupConfig.java, KIP-932 share groups (apache/kafka @1eb7644)"
_KAFKA_DESIGN = "https://kafka.apache.org/documentation/#semantics"
_NATS_CONSUMERS = "https://docs.nats.io/nats-concepts/jetstream/consumers"
_NATS_DLQ = "https://docs.nats.io/using-nats/developing-with-nats/js/consumers (dead letter queues)"
_NATS_STREAMS = "https://docs.nats.io/nats-concepts/jetstream/streams (Duplicates)"
_NATS_HEADERS = "https://docs.nats.io/nats-concepts/jetstream/headers (Nats-Msg-Id)"
_REDIS_STREAMS = "https://redis.io/docs/latest/develop/data-types/streams/"
_REDIS_XREADGROUP = "https://redis.io/docs/latest/commands/xreadgroup/"
_REDIS_XCLAIM = "https://redis.io/docs/latest/commands/xclaim/ and /xautoclaim/"
_REDIS_XGROUP = "https://redis.io/docs/latest/commands/xgroup-create/"
_RESEARCH = "research §1.8 (evtool unified model)"
_SQS_DELETE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html"
_RMQ_MAXLEN = "https://www.rabbitmq.com/docs/maxlength"
_RMQ_TTL = "https://www.rabbitmq.com/docs/ttl"
_NATS_LIMITS = "https://docs.nats.io/nats-concepts/jetstream/streams (MaxMsgs, MaxAge, Discard)"
_REDIS_XACK = "https://redis.io/docs/latest/commands/xack/"
_REDIS_XADD = "https://redis.io/docs/latest/commands/xadd/ (MAXLEN trims the stream, pending entries included)"
_CHECKED = " (checked on the installed broker: tests/core/test_stale_ack.py)"


DEFAULT = Profile(
    name="default", broker="evtool", version="1",
    notes="evtool's own teaching defaults: redeliveries go to the back of the queue, leases of 30 s "
          "like SQS and NATS, a counter that includes the first delivery, no limit unless a channel "
          "sets max_deliveries.",
    sources={
        "broker": "evtool", "version": "evtool",
        "requeue_position": "evtool design choice (keeps a poison message from blocking the head)",
        "ack_timeout_ns": "evtool design choice (matches SQS and NATS: 30 s)",
        "ack_timeout_action": "evtool design choice (per-message return, as SQS and NATS)",
        "counter_name": "evtool design choice", "counter_increments_on": _RESEARCH,
        "max_deliveries": "evtool design choice", "at_limit": _RESEARCH, "dedup_window_ns": "evtool design choice",
        "producer_dedup_id": "evtool design choice (no dedup unless the scenario asks)",
        "crash_return": "evtool design choice", "ack_effect": _RESEARCH,
        "prefetch": "evtool design choice", "prefetch_cap": "evtool design choice",
        "log_start": "evtool design choice", "session_timeout_ns": _KAFKA_CONSUMER + " session.timeout.ms",
        "assignment": _KAFKA_CONSUMER + " partition.assignment.strategy",
        "stale_ack": "evtool design choice (only the latest delivery's tag counts)",
        "reject_action": "evtool design choice (as RabbitMQ basic.reject without requeue)",
        "capacity_counts": "evtool design choice (as RabbitMQ max-length)",
        "overflow_head": "evtool design choice (the channel's overflow setting decides)",
        "reject_publish": "evtool design choice (refuse, as RabbitMQ reject-publish and JetStream DiscardNew)",
        "reject_publish_over": "evtool design choice (refuse at capacity, as RabbitMQ documents)",
        "reject_publish_resume_pct": "evtool design choice (each publish judged alone)",
        "message_expiry": "evtool design choice (as RabbitMQ)",
        "group_receive": "evtool design choice (one message per group in flight)",
        "time_unit_ns": "evtool design choice (exact: virtual time is in nanoseconds)",
    },
)

RABBITMQ_CLASSIC = Profile(
    name="rabbitmq-classic", broker="rabbitmq", version="3.10",
    requeue_position="original",
    ack_timeout_ns=30 * MINUTE, ack_timeout_action="close_channel",
    counter_name="redelivered", counter_increments_on=frozenset(),
    max_deliveries=None, at_limit="dead_letter", dedup_window_ns=None,
    crash_return="immediate", ack_effect="delete", prefetch=0, prefetch_cap=None,
    log_start="earliest", session_timeout_ns=45 * SECOND, assignment="range",
    stale_ack="refused", reject_action="dead_letter", capacity_counts="ready", overflow_head="dead_letter",
    message_expiry="at_head",
    notes="Classic queues have no delivery counter, only the boolean `redelivered` flag (a Delivery's "
          "`redelivered`), so nothing stops a requeue loop. consumer_timeout is checked about once a "
          "minute by the broker; evtool fires it exactly at the deadline. Log channels stand for "
          "RabbitMQ streams.",
    sources={
        "broker": "https://www.rabbitmq.com/docs/classic-queues",
        "version": "the RabbitMQ installed on this machine (3.10.8)",
        "requeue_position": _RMQ_CONFIRMS + " (requeued to its original position if possible)",
        "ack_timeout_ns": _RMQ_CONSUMERS + " default 30 min",
        "ack_timeout_action": _RMQ_CONSUMERS + " (channel closed with PRECONDITION_FAILED, all unacked requeued)",
        "counter_name": _RMQ_CONSUMERS + " (redeliver flag; not a count)",
        "counter_increments_on": _RMQ_CONSUMERS + " (no counter on classic queues)",
        "max_deliveries": _RMQ_QQ + " (delivery-limit exists for quorum queues only)",
        "at_limit": _RMQ_DLX, "dedup_window_ns": "research §1.6 (no producer dedup)",
        "producer_dedup_id": "research §1.6 (no producer dedup)",
        "crash_return": _RMQ_CONFIRMS + " (unacked deliveries requeued when the channel closes)",
        "ack_effect": "research §1.6",
        "prefetch": _RMQ_PREFETCH + " (a consumer without basic.qos: \"A value of 0 is treated as infinite\"; "
                    "3.10.8 here: 300 of 300 held)",
        "prefetch_cap": _RMQ_CONSUMERS, "log_start": "https://www.rabbitmq.com/docs/streams",
        "session_timeout_ns": "n/a (Kafka default kept for log channels)",
        "assignment": "n/a (Kafka default kept for log channels)",
        "stale_ack": _RMQ_CONFIRMS + " (tags are scoped per channel; an unknown delivery tag is a channel "
                     "error: PRECONDITION_FAILED)",
        "reject_action": _RMQ_DLX + " (basic.reject / basic.nack with requeue=false dead-letters)",
        "capacity_counts": _RMQ_MAXLEN + " (only ready messages count)",
        "overflow_head": _RMQ_MAXLEN + " (drop or dead-letter messages from the front of the queue)",
        "reject_publish": _RMQ_MAXLEN + " (reject-publish: the most recently published messages are discarded and, with publisher confirms, the publisher is informed by a basic.nack)",
        "reject_publish_over": _RMQ_MAXLEN + " (classic queues refuse the publish that would exceed max-length; checked on 3.10.8)",
        "reject_publish_resume_pct": _RMQ_MAXLEN + " (classic queues judge each publish alone; checked on 3.10.8)",
        "message_expiry": _RMQ_TTL + " (expired messages are dead-lettered when they reach the head)",
        "group_receive": "n/a (RabbitMQ has no message groups; a grouped_queue is evtool's own)",
        "time_unit_ns": "n/a (evtool waits out a retry delay itself: basic.nack has no delay; TTLs are milliseconds)",
    },
)

RABBITMQ_QUORUM = Profile(
    name="rabbitmq-quorum", broker="rabbitmq", version="3.10",
    requeue_position="head_if_limited",
    ack_timeout_ns=30 * MINUTE, ack_timeout_action="close_channel",
    counter_name="x-delivery-count",
    counter_increments_on=frozenset({"nack", "lease_expired", "crash", "channel_closed"}),
    max_deliveries=None, at_limit="dead_letter", dedup_window_ns=None,
    crash_return="immediate", ack_effect="delete", prefetch=0, prefetch_cap=2000,
    log_start="earliest", session_timeout_ns=45 * SECOND, assignment="range",
    stale_ack="refused", reject_action="dead_letter", capacity_counts="ready", overflow_head="dead_letter",
    message_expiry="at_head", reject_publish_over=1, reject_publish_resume_pct=80,
    notes="RabbitMQ 3.10 semantics: x-delivery-count counts every return; no default delivery limit "
          "(4.0 sets 20, 4.3 stops counting basic.nack). A message is dead-lettered with reason "
          "max_deliveries (RabbitMQ: delivery_limit) at the return that makes the count exceed the limit, "
          "so up to limit+1 deliveries happen. 3.10 returns a message to the head only when the queue has a "
          "delivery limit; without one it goes to the back (checked against RabbitMQ 3.10.8 by the contract "
          "tests).",
    sources={
        "broker": _RMQ_QQ,
        "version": "the RabbitMQ installed on this machine (3.10.8)",
        "requeue_position": _RMQ_QQ + " and the contract test tests/contract (3.10.8: head with "
                            "x-delivery-limit, back of the queue without)",
        "ack_timeout_ns": _RMQ_CONSUMERS + " default 30 min",
        "ack_timeout_action": _RMQ_CONSUMERS + " (x-consumer-timeout with return+cancel arrives in 4.3)",
        "counter_name": _RMQ_QQ + " (x-delivery-count header)",
        "counter_increments_on": _RMQ_QQ + " (every return counts before 4.3)",
        "max_deliveries": _RMQ_QQ + " (x-delivery-limit is opt-in before 4.0; 20 by default since 4.0)",
        "at_limit": _RMQ_DLX + " (dropped or dead-lettered with reason delivery_limit)",
        "dedup_window_ns": "research §1.6 (no producer dedup)",
        "producer_dedup_id": "research §1.6 (no producer dedup)",
        "crash_return": _RMQ_CONFIRMS + " (unacked deliveries requeued when the channel closes)",
        "ack_effect": "research §1.6",
        "prefetch": _RMQ_PREFETCH + " (a consumer without basic.qos: \"A value of 0 is treated as infinite\"; "
                    "3.10.8 here: 300 of 300 held)",
        "prefetch_cap": _RMQ_QQ + " (prefetch capped at 2,000; stated in current docs)",
        "log_start": "https://www.rabbitmq.com/docs/streams",
        "session_timeout_ns": "n/a (Kafka default kept for log channels)",
        "assignment": "n/a (Kafka default kept for log channels)",
        "stale_ack": _RMQ_CONFIRMS + " (tags are scoped per channel; an unknown delivery tag is a channel "
                     "error: PRECONDITION_FAILED)",
        "reject_action": _RMQ_DLX + " (basic.reject / basic.nack with requeue=false dead-letters)",
        "capacity_counts": _RMQ_MAXLEN + " (only ready messages count)",
        "overflow_head": _RMQ_MAXLEN + " (drop or dead-letter messages from the front of the queue)",
        "reject_publish": _RMQ_MAXLEN + " (reject-publish: the most recently published messages are discarded and, with publisher confirms, the publisher is informed by a basic.nack)",
        "reject_publish_over": "measured on the installed RabbitMQ 3.10.8 (aiormq, x-max-length 2, reject-publish: three publishes confirmed, the fourth nacked; tests/semantics/scenarios/quorum-reject-publish-one-over.yaml); " + _RMQ_MAXLEN + " does not describe it",
        "reject_publish_resume_pct": "measured on the installed RabbitMQ 3.10.8 (quorum queue, x-max-length 100, "
                                     "reject-publish: after 101 ready, publishes are nacked until 80 are ready; "
                                     "tests/semantics/scenarios/quorum-reject-publish-resumes-at-80-percent.yaml); "
                                     "rabbit_fifo's evaluate_limit unblocks publishers below ?LOW_LIMIT (0.8); "
                                     + _RMQ_MAXLEN + " does not describe it",
        "message_expiry": _RMQ_TTL + " (expired messages are dead-lettered when they reach the head)",
        "group_receive": "n/a (RabbitMQ has no message groups; a grouped_queue is evtool's own)",
        "time_unit_ns": "n/a (evtool waits out a retry delay itself: basic.nack has no delay; TTLs are milliseconds)",
    },
)

SQS_STANDARD = Profile(
    name="sqs-standard", broker="sqs", version="2024-docs",
    requeue_position="tail",
    ack_timeout_ns=30 * SECOND, ack_timeout_action="return_message",
    counter_name="ApproximateReceiveCount", counter_increments_on=frozenset({"deliver"}),
    max_deliveries=None, at_limit="dead_letter", dedup_window_ns=None,
    crash_return="lease", ack_effect="delete", prefetch=1, prefetch_cap=None,
    log_start="earliest", session_timeout_ns=45 * SECOND, assignment="range",
    stale_ack="ignored", reject_action="lease_expiry", capacity_counts="ready", overflow_head="as_configured",
    message_expiry="anywhere", time_unit_ns=SECOND,
    notes="A nack is ChangeMessageVisibility(0) (or the given delay, in whole seconds rounded up). Standard queues promise only "
          "best-effort order; evtool returns messages to the tail. The receive count is exact here, "
          "not approximate. The message moves to the DLQ on the receive that would exceed "
          "maxReceiveCount. prefetch stands for MaxNumberOfMessages per receive (1 unless the consumer "
          "asks for up to 10); each handler slot of a consumer receives for itself.",
    sources={
        "broker": "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/",
        "version": "AWS SQS developer guide as read for research §1.3 (no versions; a managed service)",
        "requeue_position": _SQS_VIS + " (message becomes visible again; standard queues: best-effort order)",
        "ack_timeout_ns": _SQS_VIS + " (VisibilityTimeout default 30 s, 0-12 h)",
        "ack_timeout_action": _SQS_VIS, "counter_name": _SQS_DLQ,
        "counter_increments_on": _SQS_DLQ + " (ApproximateReceiveCount: every receive)",
        "max_deliveries": _SQS_DLQ + " (no limit unless a RedrivePolicy sets maxReceiveCount 1-1000)",
        "at_limit": _SQS_DLQ + " (moved to the DLQ after maxReceiveCount is exceeded)",
        "dedup_window_ns": _SQS_KEYS + " (dedup is FIFO-only)",
        "producer_dedup_id": _SQS_KEYS + " (standard queues have no MessageDeduplicationId)",
        "crash_return": _SQS_VIS + " (nothing returns before the visibility timeout)",
        "ack_effect": "DeleteMessage (research §1.3)",
        "prefetch": _SQS_RECEIVE + " (\"Valid values: 1 to 10. Default: 1.\")",
        "prefetch_cap": "research §1.3 (about 120,000 in flight per standard queue)",
        "log_start": "n/a (no log channels)", "session_timeout_ns": "n/a (no log channels)",
        "assignment": "n/a (no log channels)",
        "stale_ack": _SQS_DELETE + " (an old ReceiptHandle: the request succeeds, the message might not "
                     "be deleted)",
        "reject_action": _SQS_VIS + " (no reject call: a message not deleted becomes visible when the "
                         "visibility timeout ends; " + _SQS_DLQ + " moves it after maxReceiveCount)",
        "capacity_counts": "n/a (SQS queues have no length limit)",
        "overflow_head": "n/a (SQS queues have no length limit)",
        "reject_publish": "n/a (SQS queues have no length limit)",
        "reject_publish_over": "n/a (no reject-publish overflow on this broker; evtool refuses at capacity)",
        "reject_publish_resume_pct": "n/a (no reject-publish overflow on this broker)",
        "message_expiry": _SQS_DELETE + " (messages left longer than the retention period are deleted)",
        "group_receive": "n/a on standard queues (MessageGroupId gives fair queues there, not a group lock)",
        "time_unit_ns": _SQS_CMV + " (VisibilityTimeout: \"The new value for the message's visibility timeout "
                        "(in seconds).\", an integer; SendMessage DelaySeconds is whole seconds too; the SQS "
                        "transport rounds up the same way)",
    },
)

SQS_FIFO = SQS_STANDARD.with_overrides(
    name="sqs-fifo", requeue_position="head", dedup_window_ns=5 * MINUTE, producer_dedup_id="message_id",
    group_receive="batch",
    notes="Use a grouped_queue channel with group_key MessageGroupId (or the message key). A receive "
          "(prefetch = MaxNumberOfMessages) returns as many messages of one group as it can, in order, "
          "then other groups; the group gets nothing more until none of those is in flight, so a failed "
          "message blocks its group until it is deleted or moved to the DLQ, while the rest of its batch "
          "may still be handled after it. A returned message goes back to the head of its group. Producers send their message id "
          "as MessageDeduplicationId (the API requires one); a channel with content_based_dedup hashes "
          "the payload of a message without one.",
)
SQS_FIFO.sources.update({
    "requeue_position": _SQS_FIFO + " (strict order within a message group)",
    "group_receive": _SQS_FIFO_RECEIVE + " (\"When you specify a MaxNumberOfMessages parameter in the "
                     "ReceiveMessage API call, SQS returns as many messages with the same message group ID as "
                     "possible.\"; core: tests/core/test_fifo_batch_receive.py; the same receives on moto: tests/transports/test_fifo_receive_moto.py)",
    "dedup_window_ns": _SQS_KEYS + " (MessageDeduplicationId: 5-minute interval)",
    "producer_dedup_id": _SQS_SEND + " (every FIFO message needs a MessageDeduplicationId, unless the queue "
                         "has ContentBasedDeduplication: channel option content_based_dedup)",
})

KAFKA = Profile(
    name="kafka", broker="kafka", version="trunk-1eb7644",
    requeue_position="head",
    ack_timeout_ns=30 * SECOND, ack_timeout_action="return_message",
    counter_name="delivery count (share groups)", counter_increments_on=frozenset({"deliver"}),
    max_deliveries=5, at_limit="drop", dedup_window_ns=None,
    crash_return="lease", ack_effect="cursor", prefetch=500, prefetch_cap=None,
    log_start="latest", session_timeout_ns=45 * SECOND, assignment="range",
    stale_ack="refused", reject_action="dead_letter", capacity_counts="ready", overflow_head="as_configured",
    message_expiry="anywhere",
    notes="Log channels are Kafka topics: no broker redelivery and no counter; a nack seeks the "
          "partition back (head-of-line blocking), a reject skips the record; a crashed member keeps its "
          "partitions until session_timeout_ns, then the group rebalances and the next owner re-reads "
          "from the last commit. The lease, counter and limit fields apply to queue channels, which "
          "stand for KIP-932 share groups (lock 30 s, delivery count limit 5, then archived).",
    sources={
        "broker": _KAFKA_DESIGN, "version": "apache/kafka source @1eb7644 (Oct 2024), research §1.2",
        "requeue_position": _KAFKA_SHARE + " (released records are re-acquired first)",
        "ack_timeout_ns": _KAFKA_SHARE + " group.share.record.lock.duration.ms=30000",
        "ack_timeout_action": _KAFKA_SHARE + " (lock expiry releases the record)",
        "counter_name": _KAFKA_SHARE, "counter_increments_on": _KAFKA_SHARE + " (each acquisition)",
        "max_deliveries": _KAFKA_SHARE + " group.share.delivery.count.limit=5",
        "at_limit": _KAFKA_SHARE + " (the record is archived)",
        "dedup_window_ns": "research §1.2 (the idempotent producer dedups producer retries only)",
        "producer_dedup_id": "research §1.2 (no message-level dedup id)",
        "crash_return": _KAFKA_SHARE + " (acquisition locks expire)",
        "ack_effect": _KAFKA_DESIGN + " (consuming does not delete; a commit stores the next offset)",
        "prefetch": _KAFKA_CONSUMER + " max.poll.records=500",
        "prefetch_cap": _KAFKA_CONSUMER + " (max.poll.records has no upper bound)",
        "log_start": _KAFKA_CONSUMER + " auto.offset.reset=latest",
        "session_timeout_ns": _KAFKA_CONSUMER + " session.timeout.ms=45000 (KIP-735: 10 s before Kafka 3.0)",
        "assignment": _KAFKA_CONSUMER + " partition.assignment.strategy=[Range, CooperativeSticky]",
        "stale_ack": _KAFKA_SHARE + " (acknowledging a record whose acquisition lock expired fails); log "
                     "channels: a commit from a member that lost the partition fails (rebalance)",
        "reject_action": _KAFKA_SHARE + " (REJECT archives the record)",
        "capacity_counts": "n/a (topics have no length limit; retention.bytes counts stored records)",
        "overflow_head": "n/a (no dead-lettering in Kafka)",
        "reject_publish": "n/a (topics have no length limit)",
        "reject_publish_over": "n/a (no reject-publish overflow on this broker; evtool refuses at capacity)",
        "reject_publish_resume_pct": "n/a (no reject-publish overflow on this broker)",
        "message_expiry": "https://kafka.apache.org/documentation/#topicconfigs_retention.ms (retention "
                          "deletes records whether consumed or not)",
        "group_receive": "n/a (per-key order comes from partitions)",
        "time_unit_ns": "n/a (no broker-side delay; a paused partition resumes when the client says; session timeouts are milliseconds)",
    },
)

NATS_JETSTREAM = Profile(
    name="nats-jetstream", broker="nats", version="docs-9885608",
    requeue_position="tail",
    ack_timeout_ns=30 * SECOND, ack_timeout_action="return_message",
    counter_name="NumDelivered", counter_increments_on=frozenset({"deliver"}),
    max_deliveries=None, at_limit="keep_with_advisory", dedup_window_ns=2 * MINUTE,
    crash_return="lease", ack_effect="delete", prefetch=1000, prefetch_cap=None,
    log_start="earliest", session_timeout_ns=45 * SECOND, assignment="range",
    stale_ack="settles", reject_action="dead_letter", capacity_counts="stored", overflow_head="drop",
    message_expiry="anywhere",
    notes="Queue channels stand for a WorkQueue stream with a durable pull consumer. MaxDeliver "
          "defaults to -1 (infinite); when set, the message that reaches it stays in the stream and an "
          "advisory is published (max_deliveries_reached); it is no longer delivered. BackOff lists "
          "are not modelled; MaxAckPending is applied per subscriber, not per consumer.",
    sources={
        "broker": _NATS_CONSUMERS, "version": "nats.docs @9885608, research §1.4",
        "requeue_position": "research §1.4 (redeliveries arrive after newer messages; inferred)",
        "ack_timeout_ns": _NATS_CONSUMERS + " AckWait 30 s",
        "ack_timeout_action": _NATS_CONSUMERS + " (redelivered after AckWait)",
        "counter_name": _NATS_CONSUMERS + " (NumDelivered in the delivery metadata)",
        "counter_increments_on": _NATS_CONSUMERS + " (MaxDeliver counts every delivery attempt)",
        "max_deliveries": _NATS_CONSUMERS + " MaxDeliver -1",
        "at_limit": _NATS_DLQ + " (the message stays in the stream; MAX_DELIVERIES advisory)",
        "dedup_window_ns": _NATS_STREAMS + " 2 min (checked on NATS 2.9.10: duplicate_window 120 s)",
        "producer_dedup_id": _NATS_HEADERS + " (only a publish with a Nats-Msg-Id header is deduplicated; "
                             "clients send none unless asked)",
        "crash_return": _NATS_CONSUMERS + " (AckWait expiry redelivers)",
        "ack_effect": _NATS_STREAMS + " (WorkQueuePolicy deletes on ack; LimitsPolicy keeps)",
        "prefetch": _NATS_CONSUMERS + " MaxAckPending 1000 (NATS 2.9.10 here: a new consumer reports 1000)",
        "prefetch_cap": "n/a (no cap documented)",
        "log_start": _NATS_CONSUMERS + " DeliverPolicy all",
        "session_timeout_ns": "n/a (Kafka default kept for log channels)",
        "assignment": "n/a (Kafka default kept for log channels)",
        "stale_ack": _NATS_CONSUMERS + " (AckWait: the ack from the first consumer will be considered; "
                     "nats-server issue 6937)" + _CHECKED,
        "reject_action": _NATS_CONSUMERS + " (AckTerm stops redelivery; the dead_letter target stands for "
                         "the application's advisory-driven DLQ)",
        "capacity_counts": _NATS_LIMITS + " (MaxMsgs counts every message stored, unacked ones too)",
        "overflow_head": _NATS_LIMITS + " (DiscardOld deletes the oldest messages; there is no DLX)",
        "reject_publish": _NATS_LIMITS + " (DiscardNew: new messages are refused once the stream is at its limit, and the publish acknowledgement is an error)",
        "reject_publish_over": _NATS_LIMITS + " (DiscardNew refuses the publish that would exceed MaxMsgs)",
        "reject_publish_resume_pct": "n/a (no reject-publish overflow on this broker)",
        "message_expiry": _NATS_LIMITS + " (MaxAge deletes messages older than the limit, acked or not)",
        "group_receive": "n/a (JetStream has no message groups; a grouped_queue is evtool's own)",
        "time_unit_ns": "exact (NakWithDelay and AckWait are Go durations, nanoseconds)",
    },
)

REDIS_STREAMS = Profile(
    name="redis-streams", broker="redis", version="docs-1044224",
    requeue_position="head",
    ack_timeout_ns=None, ack_timeout_action="none",
    counter_name="delivery_count", counter_increments_on=frozenset({"deliver"}),
    max_deliveries=None, at_limit="dead_letter", dedup_window_ns=None,
    crash_return="never", ack_effect="cursor", prefetch=0, prefetch_cap=None,
    log_start="latest", session_timeout_ns=45 * SECOND, assignment="range",
    stale_ack="settles", reject_action="stays_pending", capacity_counts="ready", overflow_head="drop",
    reject_publish="head_trimmed", message_expiry="none",
    notes="Queue channels stand for a stream with one consumer group: entries stay pending (in flight) "
          "until XACK; nothing is redelivered automatically, a crashed consumer's entries wait for "
          "Broker.claim (XCLAIM/XAUTOCLAIM), which increments the count. A nack stands for re-reading "
          "your own pending entries (XREADGROUP 0), so the message goes back to the head. The DLQ is "
          "an application convention: set max_deliveries and dead_letter on the channel to model it.",
    sources={
        "broker": _REDIS_STREAMS, "version": "redis-doc @1044224, research §1.5",
        "requeue_position": _REDIS_XREADGROUP + " (pending entries are re-read first with ID 0)",
        "ack_timeout_ns": _REDIS_STREAMS + " (no lease; only idle time)",
        "ack_timeout_action": _REDIS_STREAMS, "counter_name": "https://redis.io/docs/latest/commands/xpending/",
        "counter_increments_on": _REDIS_XCLAIM + " (each delivery and claim increments it)",
        "max_deliveries": _REDIS_STREAMS + " (no limit; the DLQ is an app convention)",
        "at_limit": _REDIS_STREAMS + " (recipe: XADD to another stream, then XACK)",
        "dedup_window_ns": "research §1.6 (no dedup)",
        "producer_dedup_id": "research §1.6 (no dedup)",
        "crash_return": _REDIS_XCLAIM + " (pending entries wait for a claim)",
        "ack_effect": "https://redis.io/docs/latest/commands/xack/ (removes from the PEL only)",
        "prefetch": _REDIS_XREADGROUP + " (COUNT is optional: without it every new entry is returned; "
                    "Redis 7.0.15 here: 300 of 300)",
        "prefetch_cap": "n/a (no cap documented)",
        "log_start": _REDIS_XGROUP + " ($ = only new entries, the usual choice)",
        "session_timeout_ns": "n/a (Kafka default kept for log channels)",
        "assignment": "n/a (Kafka default kept for log channels)",
        "stale_ack": _REDIS_XACK + " (XACK names the group and the id, not the consumer)" + _CHECKED,
        "reject_action": _REDIS_XCLAIM + " (Redis has no reject: an entry not XACKed stays in the PEL until a consumer claims it after min-idle-time, modelled by the channel's ack_timeout; without one it stays pending)",
        "capacity_counts": "https://redis.io/docs/latest/commands/xtrim/ (MAXLEN keeps the newest entries, acked and pending ones counted; the unread entries are the newest, so one is lost only when more than the capacity are unread; a pending entry trimmed stays in the PEL and its XACK still settles it). Checked on the installed Redis 7.0.15: tests/core/test_truth_live.py and the atlas; a trimmed pending entry re-read later comes back empty, which evtool does not model",
        "overflow_head": _REDIS_XADD + " (trimmed entries are gone; no dead-lettering)",
        "reject_publish": "https://redis.io/docs/latest/commands/xtrim/ (XADD trims as XTRIM does: \"Redis enforces this by removing the oldest entries - that is, the entries with the lowest stream IDs - so that only the newest entries are kept\"; XADD has no option to refuse an entry; checked on the installed Redis 7.0.15: tests/core/test_truth_live.py)",
        "reject_publish_over": "n/a (Redis cannot refuse a publish: see reject_publish)",
        "reject_publish_resume_pct": "n/a (no reject-publish overflow on this broker)",
        "message_expiry": "https://redis.io/docs/latest/develop/data-types/streams/ (\"There is currently no "
                          "option to tell the stream to just retain items that are not older than a given "
                          "period\": an entry leaves a stream by XDEL or a trim, MAXLEN or MINID, never by "
                          "age; and a trim keeps the removed entries' references in the groups' pending lists, "
                          "https://redis.io/docs/latest/commands/xtrim/ KEEPREF, the default). evtool's Redis "
                          "transport ignores ttl (transports.capabilities); so does the core under this "
                          "profile, and `evtool validate` warns",
        "group_receive": "n/a (Redis streams have no message groups; a grouped_queue is evtool's own)",
        "time_unit_ns": "n/a (no broker-side delay; XAUTOCLAIM min-idle-time is milliseconds)",
    },
)

PROFILES: dict[str, Profile] = {p.name: p for p in (
    DEFAULT, RABBITMQ_CLASSIC, RABBITMQ_QUORUM, SQS_STANDARD, SQS_FIFO, KAFKA, NATS_JETSTREAM, REDIS_STREAMS)}


def get_profile(name: str) -> Profile:
    """The built-in profile called `name`; a KeyError lists the valid names."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}") from None


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, frozenset):
        return ", ".join(sorted(value)) or "(nothing)"
    if isinstance(value, int) and not isinstance(value, bool) and value >= SECOND and value % SECOND == 0:
        s = value // SECOND
        return f"{s // 60} min" if s % 60 == 0 else f"{s} s"
    return str(value)


ATLAS: dict[str, tuple[tuple[str, str], ...]] = {
    "requeue_position": (("rabbitmq-classic", "classic-nack-requeue-original-position"), ("rabbitmq-quorum", "quorum-requeue-back-without-limit"), ("rabbitmq-quorum", "quorum-requeue-head-with-limit"), ("redis-streams", "redis-nack-rereads-own-pending-first"),),
    "ack_timeout_ns": (("sqs-standard", "sqs-crash-returns-after-visibility-timeout"), ("nats-jetstream", "nats-late-ack-first-delivery-accepted"),),
    "ack_timeout_action": (("rabbitmq-quorum", "rabbitmq-consumer-timeout-late-ack-refused"), ("nats-jetstream", "nats-late-ack-first-delivery-accepted"), ("sqs-standard", "sqs-crash-returns-after-visibility-timeout"),),
    "counter_increments_on": (("rabbitmq-quorum", "quorum-crash-counts-toward-limit"), ("sqs-standard", "sqs-maxreceivecount-redrive"), ("nats-jetstream", "nats-maxdeliver-keeps-message"),),
    "max_deliveries": (("rabbitmq-classic", "classic-no-delivery-limit"), ("rabbitmq-quorum", "quorum-delivery-limit-dlx"), ("kafka", "kafka-share-group-delivery-limit"),),
    "at_limit": (("rabbitmq-quorum", "quorum-delivery-limit-dlx"), ("rabbitmq-quorum", "quorum-delivery-limit-no-dlx-drops"), ("nats-jetstream", "nats-maxdeliver-keeps-message"), ("redis-streams", "redis-delivery-limit-app-dlq"), ("kafka", "kafka-share-group-delivery-limit"), ("sqs-standard", "sqs-maxreceivecount-redrive"),),
    "dedup_window_ns": (("nats-jetstream", "nats-dedup-with-msg-id"), ("nats-jetstream", "nats-dedup-outside-window"), ("sqs-fifo", "sqs-fifo-dedup-id-within-5-minutes"), ("sqs-fifo", "sqs-fifo-dedup-after-5-minutes"), ("sqs-standard", "sqs-standard-no-dedup"), ("redis-streams", "redis-no-dedup"),),
    "producer_dedup_id": (("nats-jetstream", "nats-no-dedup-without-msg-id"), ("nats-jetstream", "nats-republish-copy-not-deduplicated"), ("sqs-fifo", "sqs-fifo-dedup-id-within-5-minutes"), ("sqs-fifo", "sqs-fifo-content-based-dedup"),),
    "crash_return": (("sqs-standard", "sqs-crash-returns-after-visibility-timeout"), ("rabbitmq-quorum", "quorum-crash-counts-toward-limit"),),
    "prefetch": (("rabbitmq-classic", "classic-prefetch-default-unlimited"), ("nats-jetstream", "nats-maxackpending-default"), ("rabbitmq-quorum", "quorum-prefetch-unlimited-explicit"), ("sqs-standard", "sqs-receive-at-most-10"),),
    "log_start": (("kafka", "kafka-new-group-starts-latest"), ("kafka", "kafka-earliest-group-reads-history"),),
    "session_timeout_ns": (("kafka", "kafka-session-timeout-45s"),),
    "stale_ack": (("nats-jetstream", "nats-late-ack-first-delivery-accepted"), ("redis-streams", "redis-late-xack-by-id-from-any-consumer"), ("sqs-standard", "sqs-delete-with-old-receipt-handle"), ("rabbitmq-quorum", "rabbitmq-consumer-timeout-late-ack-refused"),),
    "reject_action": (("sqs-standard", "sqs-failure-without-retry-visibility-timeout"), ("redis-streams", "redis-failure-without-retry-stays-pending"), ("rabbitmq-quorum", "quorum-reject-dead-letters-rejected"), ("rabbitmq-classic", "classic-reject-without-dlx-drops"), ("nats-jetstream", "nats-term-stops-redelivery"),),
    "capacity_counts": (("rabbitmq-classic", "classic-maxlen-counts-ready-only"), ("nats-jetstream", "nats-maxmsgs-counts-unacked"), ("redis-streams", "redis-maxlen-trims-unread-beyond-capacity"),),
    "reject_publish": (("redis-streams", "redis-maxlen-trims-unread-beyond-capacity"), ("nats-jetstream", "nats-maxmsgs-counts-unacked"),),
    "overflow_head": (("rabbitmq-classic", "classic-drop-head-dead-letters-maxlen"), ("rabbitmq-classic", "classic-drop-head-without-dlx-drops"), ("nats-jetstream", "nats-discard-old-silent"),),
    "reject_publish_over": (("rabbitmq-quorum", "quorum-reject-publish-one-over"), ("rabbitmq-classic", "classic-maxlen-counts-ready-only"),),
    "reject_publish_resume_pct": (("rabbitmq-quorum", "quorum-reject-publish-resumes-at-80-percent"),),
    "message_expiry": (("rabbitmq-quorum", "ttl-expires-only-at-head"), ("rabbitmq-quorum", "queue-ttl-dead-letters-expired"), ("nats-jetstream", "nats-maxage-silent"), ("redis-streams", "redis-stream-entries-never-expire"),),
    "group_receive": (("sqs-fifo", "sqs-fifo-receive-batch-same-group"),),
}
"""field -> (profile, scenario) of the semantics atlas (tests/semantics/scenarios) that shows the field's value
at work on the core and, where a transport exists, on the real broker; a test keeps it equal to the files."""


def profiles_markdown() -> str:
    """The text of docs/profiles.md: one table per profile (field, value, meaning, source)."""
    meanings = {f.name: f.metadata.get("meaning", "") for f in dataclasses.fields(Profile)}
    out = [
        "# Broker profiles",
        "",
        "Generated from `evtool/core/profiles.py` by `profiles_markdown()`; a test keeps this file equal",
        "to the code. A scenario picks a profile with `profile:` and may override any field; unknown",
        "field names are rejected with the list of valid ones.",
        "",
        "How the delivery counter works: when `deliver` is in `counter_increments_on`, every delivery",
        "counts (the first included) and at most `max_deliveries` deliveries happen. Otherwise the",
        "counter counts failed returns (RabbitMQ quorum `x-delivery-count`), the first delivery has",
        "count 0, and the message dies at the return that makes the count exceed `max_deliveries`",
        "(at most `max_deliveries + 1` deliveries). Either way no delivery has `count > max_deliveries`.",
        "",
        "The `atlas` column names the scenarios of the semantics atlas (`tests/semantics/scenarios/`) that run",
        "under this profile and depend on the field: each quotes the broker's documentation and runs on the",
        "core and, where evtool has a transport for the broker, on the real broker (`tests/semantics/README.md`).",
        "",
    ]
    for p in PROFILES.values():
        out += [f"## `{p.name}`", "", p.notes, "",
                "| field | value | meaning | source | atlas |", "|---|---|---|---|---|"]
        for name in field_names():
            if name in ("name", "notes"):
                continue
            cells = (_show(getattr(p, name)), meanings[name], p.source(name))
            value, meaning, source = (c.replace("|", "\\|") for c in cells)
            proofs = ", ".join(f"`{sc}`" for prof, sc in ATLAS.get(name, ()) if prof == p.name) or "–"
            out.append(f"| `{name}` | {value} | {meaning} | {source} | {proofs} |")
        out.append("")
    from evtool.scenario.presets import presets_markdown  # the frameworks' retry defaults, cited the same way

    out.append(presets_markdown())
    return "\n".join(out)


def whole_units(ns: int, unit_ns: int) -> int:
    """`ns` rounded up to a whole number of `unit_ns` (a broker that counts in seconds: 500 ms -> 1 s)."""
    return -(-ns // unit_ns) * unit_ns if unit_ns > 0 and ns > 0 else ns
