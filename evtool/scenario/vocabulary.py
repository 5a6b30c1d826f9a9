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
