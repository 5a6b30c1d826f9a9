"""The trace vocabulary: the names of every fact a run can report.

It is part of the scenario language (lesson triggers, expectations and
selectors name these kinds), so it lives in the lowest layer; the core's
`TraceEvent` (evtool.core.events) carries one of these kinds.
"""

from __future__ import annotations

# kind -> one-line meaning. The docs and the selector validation read this
# table, so adding a kind here is how a new fact becomes part of the language.
KINDS: dict[str, str] = {
    # publishing
    "published": "a producer (or a handler, or a pattern) published a message to a channel",
    "publish_rejected": "the channel refused a publish (capacity reached with overflow: reject_publish, or broker down)",
    "duplicate_dropped": "a publish was dropped by the channel's dedup window (a dedup id seen within it)",
    "routed": "a router or topic forwarded a message to a bound channel or subscription",
    "unroutable": "a router had no binding that matched the routing key; the message was dropped",
    "enqueued": "a message became ready on a queue, subscription or partition",
    # delivery state machine
    "delivered": "a message was handed to a consumer instance under a lease (attempt = delivery count)",
    "handled": "a handler finished successfully (data.duplicate tells an idempotency hit)",
    "failed": "a handler failed with an error (data.error, data.retryable)",
    "acked": "the consumer acknowledged the delivery; the message is done for this subscription",
    "nacked": "the consumer negatively acknowledged (data.requeue, data.delay)",
    "rejected": "the consumer rejected the delivery without requeue",
    "returned": "a delivery went back to ready (data.reason: nack, lease_expired, crash, channel_closed; data.position)",
    "lease_expired": "an in-flight delivery's ack timeout passed without an ack",
    "retry_scheduled": "a retry was decided (data.delay, data.mode: in_place, redeliver, republish)",
    "redelivered": "a message was delivered again after a return (attempt > 1)",
    "delayed": "a message was parked until a later time (backoff or per-message delay)",
    "dead_lettered": "a message moved to its dead-letter target (data.reason: rejected, expired, max_deliveries, overflow; data.count)",
    "expired": "a message's TTL passed (RabbitMQ rule: checked at the head of the queue)",
    "dropped": "a message was discarded (overflow drop_head, on_exhausted: drop, at limit without a dead-letter target)",
    "parked": "a message was moved to a parking lot channel for a human",
    "redriven": "a dead letter was sent back to its original channel",
    "max_deliveries_reached": "a message hit its delivery limit and stays (NATS advisory: the message is kept)",
    # logs and groups
    "committed": "a consumer group committed an offset (data.partition, data.offset)",
    "rebalanced": "a consumer group reassigned partitions (data.group, data.reason, data.assignment)",
    "partition_assigned": "a partition was given to a member (data.group, data.partition)",
    "partition_revoked": "a partition was taken from a member (data.group, data.partition)",
    "claimed": "a pending entry was claimed by another consumer (Redis XCLAIM)",
    # side effects
    "emitted": "a handler emitted a follow-up message (causation = the handled message)",
    "effect_applied": "a handling that then failed had already applied some of its effects (`effects`, `of`, "
                      "`bkey`); a successful handling's effects are part of `handled`",
    # actors and faults
    "instance_started": "a consumer instance started",
    "instance_crashed": "a consumer instance crashed (in-flight work is lost; unacked messages return)",
    "instance_restarted": "a crashed consumer instance came back",
    "instance_paused": "a consumer instance stopped taking work",
    "instance_resumed": "a paused consumer instance took work again",
    "channel_closed": "a consumer's channel was closed by the broker (RabbitMQ classic ack timeout)",
    "fault_started": "a fault from the timeline (or injected by hand) began (actor = fault name)",
    "fault_ended": "a fault ended",
    "broker_restarted": "the broker restarted; only durable state survived (data.lost)",
    "user_intervention": "a person acted in the dashboard (data.action); recorded for replay",
    # request-response
    "request_sent": "a requester sent a request (data.correlation_id, data.request_id)",
    "reply_received": "a requester got the reply to a pending request",
    "request_timed_out": "a request's timeout passed with no reply",
    "reply_orphaned": "a reply arrived for a request nobody waits for any more (late reply)",
    "request_fell_back": "a requester gave up and used its fallback",
    # sagas
    "saga_started": "a saga instance began",
    "saga_step_completed": "a saga step succeeded",
    "saga_step_failed": "a saga step failed (data.step, data.error)",
    "saga_compensating": "a saga began compensating (data.reason)",
    "saga_compensated": "a saga finished compensating",
    "saga_completed": "a saga finished all its steps",
    "saga_stuck": "a saga could not finish or compensate (dead-lettered for a human)",
    # event sourcing, CQRS, outbox
    "event_appended": "an event was appended to an aggregate's stream (data.version)",
    "concurrency_conflict": "an append failed its expected-version check",
    "aggregate_loaded": "an aggregate's state was rebuilt by replay (data.replayed, data.from_snapshot)",
    "snapshot_taken": "an aggregate snapshot was stored (data.version)",
    "upcast": "an old event version was upcast on read (data.from, data.to)",
    "projection_updated": "a projection applied an event (data.position, data.lag)",
    "projection_rebuilt": "a projection dropped its read model and replayed from zero",
    "stale_read": "a query read the read model before the projection caught up",
    "outbox_written": "an event was written to the outbox in the same transaction as the state change",
    "outbox_relayed": "the outbox relay published an event",
    "dual_write_lost": "a dual write committed the state but lost the event",
    "dual_write_ghost": "a dual write published an event for a state change that never committed",
    # batching
    "batch_handled": "a batch consumer handled a batch (data.size)",
    # run
    "lesson_step": "a lesson step triggered (data.index)",
    "alert_raised": "an alert threshold was crossed (data.alert)",
    "load_ended": "the load phase ended; producers stopped",
    "drain_ended": "everything drained: nothing ready, in flight or delayed",
    "drain_timed_out": "the drain maximum passed with work still pending",
    "run_ended": "the run ended",
}


# --------------------------------------------------------------------------- words from elsewhere
#
# A student arrives with another broker's words (or the words of the article the
# lessons follow). When one of them appears where evtool expects its own word (a
# key, a channel kind, a value) the loader's hint names evtool's word for it.
# word (normalised: lower case, `_` between parts) -> (whose word, evtool's way to say it)

_RABBIT, _KAFKA, _SQS, _NATS, _REDIS = "RabbitMQ", "Kafka", "SQS", "NATS", "Redis"
_GENERIC, _ARTICLE = "general messaging", "the article's"

FOREIGN: dict[str, tuple[str, str]] = {
    # kinds of channel
    "exchange": (_RABBIT, "a channel with `kind: router` (and `type: direct | fanout | topic`) routes by key; "
                 "`kind: topic` gives every group a copy"),
    "amqp_exchange": (_RABBIT, "`kind: router` with `type: direct | fanout | topic`"),
    "fanout": (_GENERIC, "`kind: topic` (every group gets a copy), or `kind: router` with `type: fanout`"),
    "direct": (_RABBIT, "`kind: router` with `type: direct`"),
    "headers": (_RABBIT, "`kind: router` with `type: direct | fanout | topic` (headers exchanges are not modelled)"),
    "quorum_queue": (_RABBIT, "`kind: queue` (pick the broker's behaviour with `--transport rabbitmq` or a profile)"),
    "classic_queue": (_RABBIT, "`kind: queue`"),
    "pubsub": (_GENERIC, "`kind: topic` (each group gets every message) or `kind: router` (routes by key)"),
    "pub_sub": (_GENERIC, "`kind: topic` (each group gets every message) or `kind: router` (routes by key)"),
    "publish_subscribe": (_GENERIC, "`kind: topic` (each group gets every message)"),
    "broadcast": (_GENERIC, "`kind: topic` (each group gets every message)"),
    "sns": (_SQS, "an SNS topic fanning out to queues is `kind: topic`; each consumer group is a subscription"),
    "sns_topic": (_SQS, "`kind: topic`; each consumer group is a subscription"),
    "fifo": (_SQS, "an SQS FIFO queue is `kind: grouped_queue` (one message per key at a time, in order)"),
    "fifo_queue": (_SQS, "`kind: grouped_queue` (one message per key at a time, in order)"),
    "standard_queue": (_SQS, "`kind: queue`"),
    "stream": (f"{_KAFKA}/{_NATS}/{_REDIS}", "a partitioned append-only log with groups and offsets is `kind: log`"),
    "jetstream": (_NATS, "a JetStream stream is `kind: log` (replayable) or `kind: topic` (a copy per group)"),
    "subject": (_NATS, "a subject is a channel name here; wildcard subjects are a `kind: router` with `type: topic`"),
    "kafka_topic": (_KAFKA, "a Kafka topic is `kind: log` (evtool's `topic` is publish-subscribe)"),
    "partitioned": (_KAFKA, "`kind: log` with `partitions: N`"),
    "message_queue": (_GENERIC, "`kind: queue`"),
    "mq": (_GENERIC, "`kind: queue`"),
    "work_queue": (_GENERIC, "`kind: queue` (competing consumers)"),
    "task_queue": (_GENERIC, "`kind: queue` (competing consumers)"),
    "point_to_point": (_GENERIC, "`kind: queue`"),
    "event_bus": (_ARTICLE, "an event bus is `kind: topic` (every subscriber group gets every event)"),
    "bus": (_ARTICLE, "an event bus is `kind: topic` (every subscriber group gets every event)"),
    "event_channel": (_ARTICLE, "an event channel is any channel: `kind: queue | topic | log | router`"),
    "event_stream": (_ARTICLE, "`kind: log` (an append-only, replayable stream)"),
    "event_store": (_ARTICLE, "an event store is the `event_sourced_aggregate` pattern (under `patterns:`)"),
    "dlq": (_GENERIC, "declare a channel (`kind: queue`, `role: dead_letter`) and name it in `dead_letter:`"),
    "dead_letter_queue": (_GENERIC, "declare a channel (`kind: queue`, `role: dead_letter`) and name it in "
                          "`dead_letter:`"),
    # Chinese words from the article
    "队列": (_ARTICLE, "`kind: queue`"),
    "消息队列": (_ARTICLE, "`kind: queue`"),
    "主题": (_ARTICLE, "`kind: topic`"),
    "事件总线": (_ARTICLE, "`kind: topic`"),
    "事件通道": (_ARTICLE, "any channel: `kind: queue | topic | log | router`"),
    "发布订阅": (_ARTICLE, "`kind: topic`"),
    "交换机": (_RABBIT, "`kind: router`"),
    "分区": (_KAFKA, "`kind: log` with `partitions: N`"),
    "死信队列": (_ARTICLE, "a channel with `role: dead_letter`, named in `dead_letter:`"),
    "消费者组": (_KAFKA, "a consumer's `group:`"),
    # sections
    "queues": (_GENERIC, "declare every channel under `channels:` with its `kind:` (queue, topic, log, router)"),
    "topics": (_GENERIC, "declare every channel under `channels:` with its `kind:` (queue, topic, log, router)"),
    "exchanges": (_RABBIT, "declare it under `channels:` with `kind: router`"),
    "streams": (_GENERIC, "declare it under `channels:` with `kind: log`"),
    "subscribers": (_GENERIC, "subscribers are `consumers:`; each has `from:` and a `group:`"),
    "subscriptions": (_GENERIC, "a subscription is a consumer `group:` reading a `kind: topic` channel"),
    "publishers": (_GENERIC, "publishers are `producers:` (each has `to:` and an `arrival:`)"),
    "listeners": (_GENERIC, "listeners are `consumers:`"),
    "handlers": (_GENERIC, "a consumer's handling is `processing:`, `fail_if:`, `effects:`, `emit:` or `handles:`"),
    "events": (_ARTICLE, "events are messages: `producers:` publish them, `consumers:` handle them"),
    "生产者": (_ARTICLE, "`producers:`"),
    "消费者": (_ARTICLE, "`consumers:`"),
    # consumers and groups
    "consumer_group": (f"{_KAFKA}/{_REDIS}", "a consumer's `group:` (consumers with the same group share the work)"),
    "group_id": (_KAFKA, "a consumer's `group:`"),
    "subscription": (_GENERIC, "a subscription is a consumer `group:` on a `kind: topic` channel"),
    "subscriber": (_GENERIC, "a subscriber is a consumer; its subscription is its `group:`"),
    "queue_group": (_NATS, "a consumer's `group:` (members of a group compete for messages)"),
    "deliver_group": (_NATS, "a consumer's `group:`"),
    "durable_name": (_NATS, "a consumer's `group:` (a durable consumer keeps its place)"),
    "durable_consumer": (_NATS, "a consumer's `group:`"),
    "consumer_tag": (_RABBIT, "the consumer's name (its key under `consumers:`)"),
    "xgroup": (_REDIS, "a consumer's `group:` on a `kind: log` channel"),
    "replicas": (_GENERIC, "`instances:`"),
    "workers": (_GENERIC, "`instances:` (or `concurrency:` inside one instance)"),
    "threads": (_GENERIC, "`concurrency:`"),
    "parallelism": (_GENERIC, "`instances:` or `concurrency:`"),
    "topic": (_GENERIC, "the channel a consumer reads is `from:`, a producer writes `to:`"),
    "queue": (_GENERIC, "the channel a consumer reads is `from:`, a producer writes `to:`"),
    "source": (_GENERIC, "a consumer reads `from:`"),
    "subscribe": (_GENERIC, "a consumer reads `from:`"),
    "publish_to": (_GENERIC, "a producer writes `to:`"),
    "destination": (_GENERIC, "a producer writes `to:`"),
    # delivery and acks
    "prefetch_count": (_RABBIT, "`prefetch:` (unacked deliveries per instance)"),
    "basic_qos": (_RABBIT, "`prefetch:`"),
    "qos": (_RABBIT, "`prefetch:`"),
    "max_ack_pending": (_NATS, "`prefetch:`"),
    "max_in_flight": (_GENERIC, "`prefetch:`"),
    "auto_ack": (_RABBIT, "`ack: auto`"),
    "no_ack": (_RABBIT, "`ack: auto`"),
    "autoack": (_RABBIT, "`ack: auto`"),
    "ack_mode": (_GENERIC, "`ack: manual | auto`"),
    "visibility_timeout": (_SQS, "`ack_timeout:` on the channel (the lease before a message returns)"),
    "ack_wait": (_NATS, "`ack_timeout:` on the channel"),
    "consumer_timeout": (_RABBIT, "`ack_timeout:` on the channel"),
    "min_idle_time": (_REDIS, "`ack_timeout:` (a pending entry is claimed after it)"),
    "max_deliver": (_NATS, "`max_deliveries:` on the channel"),
    "delivery_limit": (_RABBIT, "`max_deliveries:` on the channel (quorum queue x-delivery-limit)"),
    "max_receive_count": (_SQS, "`max_deliveries:` on the channel, with `dead_letter:`"),
    "redrive_policy": (_SQS, "`dead_letter:` plus `max_deliveries:` on the channel"),
    "dead_letter_target_arn": (_SQS, "`dead_letter:` (a channel name)"),
    "dead_letter_exchange": (_RABBIT, "`dead_letter:` (a channel name)"),
    "dlx": (_RABBIT, "`dead_letter:` (a channel name)"),
    "dead_letter_routing_key": (_RABBIT, "`dead_letter:` names the channel directly"),
    "dead_letter_queue_name": (_GENERIC, "`dead_letter:` (a channel name)"),
    "message_ttl": (_RABBIT, "`ttl:` on the channel"),
    "message_retention_period": (_SQS, "`ttl:` on the channel"),
    "max_age": (_NATS, "`ttl:` on a queue, or `retention: {time: …}` on a log"),
    "retention_ms": (_KAFKA, "`retention: {time: 7d}` on a `kind: log` channel"),
    "retention_period": (_GENERIC, "`retention: {time: …}` on a log, `ttl:` on a queue"),
    "max_length": (_RABBIT, "`capacity:` (with `overflow:`)"),
    "max_msgs": (_NATS, "`capacity:`"),
    "maxlen": (_REDIS, "`retention: {count: N}` on a `kind: log` channel"),
    "queue_size": (_GENERIC, "`capacity:`"),
    "x_overflow": (_RABBIT, "`overflow: reject_publish | drop_head | dead_letter`"),
    "reject_publish_dlx": (_RABBIT, "`overflow: reject_publish` with a `dead_letter:`"),
    "deduplication": (_GENERIC, "`dedup_window:` on the channel, or a consumer's `idempotency:`"),
    "content_based_deduplication": (_SQS, "`content_based_dedup: true`"),
    "message_deduplication_id": (_SQS, "a message's dedup id, kept for `dedup_window:`"),
    "message_group_id": (_SQS, "the message `key` (a `kind: grouped_queue` orders per key)"),
    "routing_key": (_RABBIT, "a message's `key`; a binding's `pattern:` matches it"),
    "binding_key": (_RABBIT, "a binding's `pattern:`"),
    "filter_subject": (_NATS, "a router binding's `pattern:`"),
    "num_partitions": (_KAFKA, "`partitions:` on a `kind: log` channel"),
    "partition_count": (_KAFKA, "`partitions:`"),
    "replication_factor": (_KAFKA, "not modelled: one broker core holds the log (use `durable:`)"),
    "auto_offset_reset": (_KAFKA, "`start_from: earliest | latest | committed`"),
    "deliver_policy": (_NATS, "`start_from: earliest | latest | committed`"),
    "offset": (_KAFKA, "`start_from: earliest | latest | committed`; commits are `commit:`"),
    "enable_auto_commit": (_KAFKA, "`commit: {mode: periodic, interval: 5s}` (or `per_message`, `per_batch`)"),
    "auto_commit": (_KAFKA, "`commit: {mode: periodic, interval: 5s}`"),
    "auto_commit_interval_ms": (_KAFKA, "`commit: {interval: 5s}`"),
    "partition_assignment_strategy": (_KAFKA, "`assignment: range | round_robin | cooperative_sticky`"),
    "session_timeout_ms": (_KAFKA, "`session_timeout:` (a duration, e.g. 45s)"),
    "max_poll_records": (_KAFKA, "`batch: {size: N, max_wait: 100ms}`"),
    "batch_size": (_GENERIC, "`batch: {size: N, max_wait: 100ms}`"),
    "max_number_of_messages": (_SQS, "`batch: {size: N, max_wait: 100ms}`"),
    "delay_seconds": (_SQS, "a per-message delay is a fault (`action: delay`) or a retry `backoff:`"),
    # retries
    "retries": (_GENERIC, "`retry: {max_attempts: N, on_exhausted: …}` (max_attempts counts the first attempt)"),
    "max_retries": (_GENERIC, "`max_attempts:` counts the first attempt too: 3 retries is `max_attempts: 4`"),
    "retry_count": (_GENERIC, "`max_attempts:` counts the first attempt too: 3 retries is `max_attempts: 4`"),
    "retry_attempts": (_GENERIC, "`max_attempts:` (counts the first attempt)"),
    "max_redeliveries": (_GENERIC, "`max_attempts:` (counts the first attempt)"),
    "retry_delay": (_GENERIC, "`backoff: {type: constant, delay: 1s}`"),
    "retry_backoff": (_GENERIC, "`backoff: {type: exponential, initial: 1s, multiplier: 2}`"),
    "requeue": (_RABBIT, "a nack with requeue is a retry with `mode: redeliver`; after the last attempt, "
                "`on_exhausted: requeue`"),
    "nak": (_NATS, "a nack is a retry (`retry:` with `mode: redeliver`)"),
    "term": (_NATS, "terminating a message is `non_retryable:` errors with `on_exhausted: dead_letter` or `drop`"),
    "xclaim": (_REDIS, "claiming a pending entry happens after `ack_timeout:`"),
    "xautoclaim": (_REDIS, "claiming a pending entry happens after `ack_timeout:`"),
    "重试": (_ARTICLE, "`retry: {max_attempts: N, on_exhausted: …}`"),
    # values
    "beginning": (_GENERIC, "`earliest`"),
    "smallest": (_KAFKA, "`earliest`"),
    "largest": (_KAFKA, "`latest`"),
    "all": (_NATS, "`earliest` (deliver all)"),
    "new": (_NATS, "`latest` (deliver new)"),
    "end": (_GENERIC, "`latest`"),
    "by_start_sequence": (_NATS, "`earliest`, `latest` or `committed`"),
    "sticky": (_KAFKA, "`cooperative_sticky`"),
    "roundrobin": (_KAFKA, "`round_robin`"),
    "cooperative": (_KAFKA, "`cooperative_sticky`"),
    "drop_new": (_GENERIC, "`reject_publish` (the new message is refused)"),
    "reject": (_RABBIT, "`reject_publish`, or for a handler: `on_exhausted: dead_letter` or `drop`"),
    "nack": (_GENERIC, "a retry with `mode: redeliver`, or `on_exhausted: requeue`"),
    "discard": (_GENERIC, "`drop`"),
    "redrive": (_SQS, "`redrive` is a fault action (`action: redrive`); after the last attempt, `dead_letter`"),
    "at_least_once": (_GENERIC, "the default: manual acks (`ack: manual`)"),
    "at_most_once": (_GENERIC, "`ack: auto` (acked on delivery)"),
    "exactly_once": (_GENERIC, "at-least-once delivery plus `idempotency:` on the consumer (check: effectively_once)"),
    "effectively_once": (_GENERIC, "`idempotency:` on the consumer, and the check `effectively_once`"),
}


def _normal(word: str) -> str:
    import re

    w = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", word.strip())  # maxReceiveCount -> max_Receive_Count
    w = re.sub(r"[\s.\-]+", "_", w.lower()).strip("_")
    return w.removeprefix("x_") if w.removeprefix("x_") in FOREIGN else w


def foreign_hint(word: object) -> str | None:
    """A hint for a word another broker (or the article) uses: whose word it is and evtool's word for it."""
    if not isinstance(word, str) or not word.strip():
        return None
    key = _normal(word)
    entry = FOREIGN.get(key)
    if entry is None:
        return None
    who, ours = entry
    return f"`{word}` is {who} vocabulary; in evtool: {ours}"
