"""What a real broker cannot do of a scenario, said before the run starts, with what evtool does instead.

Each warning names the scenario element, what the broker lacks (from the
semantics reference, research §1.1, §1.4, §1.5) and evtool's substitute.
"""

from __future__ import annotations

from evtool.core.profiles import Profile, get_profile
from evtool.scenario import models as m
from evtool.scenario.loader import LoadedScenario
from evtool.transports.base import PATTERN_TRANSPORTS, PROFILE_OF, check_transport


def _has_delayed_redeliver(sc: m.Scenario, channel: str) -> bool:
    for c in sc.consumers.values():
        if c.from_ != channel or c.retry is None or c.retry.mode != "redeliver":
            continue
        if c.retry.backoff.type != "none":
            return True
    return False


def _profile(sc: m.Scenario) -> Profile:
    """The scenario's profile with its `broker.settings` applied (what the core runs with)."""
    p = get_profile(sc.broker.profile)
    return p.with_overrides(**sc.broker.settings) if sc.broker.settings else p


def _limit(sc: m.Scenario, spec: m.DeliveryChannel) -> int | None:
    """The channel's delivery limit as the topology plans it (the profile's default when unset)."""
    md = spec.max_deliveries
    if md == "unlimited" or md == 0:
        return None
    return _profile(sc).max_deliveries if md is None else int(md)


def capabilities(loaded: LoadedScenario | m.Scenario, transport: str) -> list[str]:
    """Warnings for `transport` about `loaded`: each says what is missing and what evtool does instead."""
    check_transport(transport)
    sc = loaded.model if isinstance(loaded, LoadedScenario) else loaded
    out: list[str] = []
    profile = sc.broker.profile
    expected = PROFILE_OF[transport]
    if transport == "rabbitmq":
        if profile not in ("rabbitmq-quorum", "rabbitmq-classic"):
            out.append(f"the scenario's profile is {profile!r}; on RabbitMQ the run behaves as {expected!r} "
                       "(quorum queues: returned messages go back near the head, x-delivery-count counts returns)")
    elif transport == "sqs":
        if profile not in ("sqs-standard", "sqs-fifo"):
            out.append(f"the scenario's profile is {profile!r}; on SQS the run behaves as 'sqs-standard' (or "
                       "'sqs-fifo' for FIFO queues)")
    elif profile != expected:
        out.append(f"the scenario's profile is {profile!r}; on {transport} the run behaves as {expected!r}")
    if sc.broker.hop_latency not in (0, "0s"):
        out.append("broker.hop_latency is ignored: the real network is the hop")
    if sc.patterns and transport not in PATTERN_TRANSPORTS:
        out.append(f"patterns ({', '.join(sc.patterns)}) are left out of a run on {transport}: they run on the "
                   f"local engine and on {', '.join(PATTERN_TRANSPORTS)}; on {transport} they have not been run "
                   "against the core yet (their private reply queues and groups are not declared there, and a "
                   "request-reply inbox's name, `<pattern>.<requester>#<i>.inbox`, is not a legal Kafka topic "
                   "name)")
    for f in sc.faults:
        if f.enabled and f.action == "broker_restart":
            out.append(f"fault {f.name or f.action}: evtool does not restart a real broker; it closes every "
                       "consumer's connection for the downtime and reconnects them (what clients see of a "
                       "restart; the broker keeps its own durable state)")
    for name, spec in sc.channels.items():
        out.extend(_channel_warnings(sc, transport, name, spec))
    return out


def _channel_warnings(sc: m.Scenario, transport: str, name: str, spec: object) -> list[str]:
    if transport in ("kafka", "sqs"):
        # their notes live beside their adapters (evtool.transports.kafka / .sqs), which import no client here
        from evtool.transports import kafka_notes as kafka
        from evtool.transports import sqs

        return (kafka if transport == "kafka" else sqs).capability_notes(sc, name, spec)
    out: list[str] = []
    if isinstance(spec, m.RouterChannel):
        if transport != "rabbitmq":
            out.append(f"{name}: {transport} has no exchanges; evtool routes on the client with the same "
                       f"{spec.type} routing table and publishes a copy to each bound channel")
        return out
    if isinstance(spec, m.LogChannel):
        if transport == "rabbitmq":
            out.append(f"{name}: log channels run as a fanout exchange with one queue per consumer group "
                       "(partitions and offsets are not modelled; a group starting from earliest has its queue "
                       "declared when the run starts, so it holds every message, one starting from latest gets "
                       "its queue when it joins)")
        elif spec.partitions > 1:
            out.append(f"{name}: {spec.partitions} partitions run as one stream (per-partition order and "
                       "rebalancing are not modelled)")
        return out
    assert isinstance(spec, m.DeliveryChannel)
    if isinstance(spec, m.GroupedQueueChannel):
        out.append(f"{name}: {transport} has no per-key message groups; it runs as a plain queue (order within "
                   "a group is not enforced)")
    if spec.requeue_position is not None:
        out.append(f"{name}: requeue_position {spec.requeue_position} cannot be chosen on {transport}; the "
                   "broker's own rule applies")
    dl = spec.dead_letter
    md = spec.max_deliveries
    consumed = any(c.from_ == name for c in sc.consumers.values())
    if transport == "rabbitmq":
        classic = sc.broker.profile == "rabbitmq-classic" or not spec.durable or sc.broker.persistence == "memory"
        if classic and md not in (None, "unlimited", 0):
            out.append(f"{name}: a classic queue has no delivery limit (x-delivery-limit is for quorum queues); "
                       "max_deliveries is not enforced")
        elif _limit(sc, spec) is not None and _profile(sc).at_limit != "dead_letter":
            out.append(f"{name}: broker.settings.at_limit {_profile(sc).at_limit} cannot be had on RabbitMQ: at "
                       "x-delivery-limit a quorum queue dead-letters (or drops, without a dead_letter target)")
        if spec.ack_timeout is not None:
            out.append(f"{name}: ack_timeout {spec.ack_timeout / 1e9:g}s cannot be set per queue on RabbitMQ "
                       "3.10; the server's consumer_timeout applies (default 30 min, closes the channel)")
        if spec.dedup_window:
            out.append(f"{name}: RabbitMQ has no deduplication; dedup_window is ignored")
        if spec.capacity is not None and spec.overflow == "drop_head" and dl is not None:
            out.append(f"{name}: with a dead-letter target RabbitMQ dead-letters the dropped head (reason "
                       "maxlen) where the core drops it")
        if _has_delayed_redeliver(sc, name):
            out.append(f"{name}: RabbitMQ has no delayed requeue; for a retry with backoff evtool holds the "
                       "delivery for the delay, then nacks it (it counts against prefetch meanwhile)")
    elif transport == "nats":
        limited = _limit(sc, spec) is not None
        at_limit = _profile(sc).at_limit
        if limited and at_limit == "keep_with_advisory":
            out.append(f"{name}: at MaxDeliver the message stays in the stream (advisory); recorded as "
                       "max_deliveries_reached, as the nats-jetstream profile does"
                       + (f"; {dl} receives only rejected messages (+TERM, then evtool's copy)" if dl else ""))
        elif limited:
            out.append(f"{name}: NATS JetStream has no dead-letter queue; broker.settings.at_limit is "
                       f"{at_limit}, so evtool emulates it: on the MaxDeliver advisory it reads the message, "
                       + (f"publishes a copy to {dl}" if at_limit == "dead_letter" and dl else "drops it")
                       + " and deletes it from a WorkQueue stream (the core does the same under this setting)")
        elif dl is not None:
            out.append(f"{name}: NATS JetStream has no dead-letter queue; a reject is +TERM, then evtool "
                       f"publishes a copy to {dl}")
        if spec.ttl is not None:
            out.append(f"{name}: NATS has no per-message expiry at the head; ttl becomes the stream's MaxAge "
                       "(old messages are removed wherever they are, without a dead letter, and no client is "
                       "told): evtool records a message expired when a consumer that has read everything finds "
                       "it missing (data.observed: missing), so the drain does not wait for it")
        if spec.capacity is not None and spec.overflow == "dead_letter":
            out.append(f"{name}: overflow dead_letter is not possible on NATS; the oldest message is discarded")
        if spec.capacity is not None and spec.overflow != "reject_publish":
            out.append(f"{name}: DiscardOld removes the oldest message at MaxMsgs and no client is told: evtool "
                       "records it dropped (reason overflow, data.observed: missing) when a consumer that has "
                       "read everything finds it missing, so the drain does not wait for it")
        if consumed and spec.ack_timeout is None:
            out.append(f"{name}: no ack_timeout set: NATS AckWait is 30 s, so a crashed consumer's messages "
                       "come back after 30 s")
    else:  # redis
        if consumed and spec.ack_timeout is not None:
            out.append(f"{name}: Redis never redelivers by itself; evtool runs a claimer (XPENDING IDLE + XCLAIM) "
                       f"that gives entries idle for longer than {spec.ack_timeout / 1e9:g}s (the channel's "
                       "ack_timeout, the application's min-idle-time) to a live consumer; a nack is a claim by the "
                       "same consumer after the retry delay")
        elif consumed:
            out.append(f"{name}: Redis never redelivers by itself and the channel has no ack_timeout (the "
                       "min-idle-time of an application's XAUTOCLAIM): a crashed consumer's entries stay pending, "
                       "as in the redis-streams profile; a nack is a claim by the same consumer after the retry "
                       "delay")
        if _limit(sc, spec) is not None and _profile(sc).at_limit == "keep_with_advisory":
            out.append(f"{name}: Redis has no delivery limit; at max_deliveries evtool leaves the entry pending "
                       "and never claims it again (max_deliveries_reached), as the profile's at_limit says")
        elif dl is not None or _limit(sc, spec) is not None:
            own = get_profile(sc.broker.profile)
            run = _profile(sc) if own.broker == "redis" else get_profile(PROFILE_OF["redis"]).with_overrides(
                **(sc.broker.settings or {}))
            if run.reject_action == "stays_pending":
                out.append(f"{name}: Redis has no dead-letter stream and no reject: a rejected entry is not "
                           "XACKed and stays pending (no dead letter, as the redis-streams profile says; "
                           "broker.settings reject_action: dead_letter asks for the recipe); at the delivery limit "
                           "evtool applies the documented recipe: XADD to the dead-letter stream, then XACK")
            else:
                out.append(f"{name}: Redis has no dead-letter stream; evtool applies the documented recipe: at the "
                           "limit (or on a reject) XADD to the dead-letter stream, then XACK")
        if spec.ttl is not None:
            out.append(f"{name}: Redis streams have no message TTL; ttl is ignored, as in the redis-streams profile")
        if spec.capacity is not None:
            out.append(f"{name}: capacity becomes XADD MAXLEN (exact trimming of the oldest entries, acked and "
                       "pending ones included, without dead letters or publish refusal, and no client is told: "
                       "overflow reject_publish cannot refuse, as in the redis-streams profile): evtool records a "
                       "trimmed entry dropped (reason overflow, data.observed: missing) when a consumer that "
                       "has read everything finds it missing, so the drain does not wait for it")
        if spec.dedup_window:
            out.append(f"{name}: Redis has no deduplication; dedup_window is ignored")
    return out
