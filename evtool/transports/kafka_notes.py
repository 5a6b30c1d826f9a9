"""What a run on a Kafka-protocol broker (Tansu here) does differently from the ``kafka`` profile: the capability
notes printed before a ``--transport kafka`` run (the adapter is `evtool.transports.kafka`)."""

from __future__ import annotations

from evtool.scenario import models as m
from evtool.transports.kafka import DEFAULT_SESSION_NS, NS


def capability_notes(sc: m.Scenario, name: str, spec: object) -> list[str]:
    """What a Kafka broker (Tansu in particular) does differently with channel `name`, and what evtool does."""
    out: list[str] = []
    if isinstance(spec, m.RouterChannel):
        return [f"{name}: Kafka has no exchanges; evtool routes on the client with the same {spec.type} routing "
                "table and produces a copy to each bound channel's topic"]
    consumers = [c for c in sc.consumers.values() if c.from_ == name]
    if isinstance(spec, m.LogChannel):
        if any(getattr(c, "assignment", None) == "cooperative_sticky" for c in consumers):
            out.append(f"{name}: cooperative_sticky runs as round robin with eager rebalancing (aiokafka has no "
                       "cooperative protocol): every rebalance revokes all partitions, then reassigns them")
        if any(c.session_timeout is not None and int(c.session_timeout) < 6 * NS for c in consumers):
            out.append(f"{name}: a session_timeout under 6 s is below Apache Kafka's default "
                       "group.min.session.timeout.ms (6 s), which refuses it; Tansu accepts it")
        if any(c.session_timeout is None for c in consumers):
            out.append(f"{name}: no session_timeout: on the broker evtool uses {DEFAULT_SESSION_NS // NS} s (Tansu "
                       "holds each JoinGroup for about half the session timeout, so a long one makes every join "
                       "slow); the kafka profile keeps Apache Kafka's 45 s, so a crashed member's partitions move "
                       f"after about {DEFAULT_SESSION_NS // NS} s here and after 45 s in the core")
        out.append(f"{name}: the consumer groups join before the run starts (Apache Kafka delays a new group's "
                   "first rebalance by group.initial.rebalance.delay.ms, 3 s; Tansu holds each join for about "
                   "half the session timeout); later joins, leaves and crashes rebalance on the broker, taking "
                   "a second or more, during which the group consumes nothing (aiokafka is eager): latencies "
                   "include these pauses, which the core's instantaneous rebalances do not have")
        return out
    assert isinstance(spec, m.DeliveryChannel)
    if consumers:
        out.append(f"{name}: queue channels stand for KIP-932 share groups, which Tansu and aiokafka do not "
                   "have; evtool emulates them on a classic consumer group (one partition per instance): a nack "
                   "holds the record and hands it back with its count + 1, the delivery limit applies the "
                   "profile's at_limit, a crashed member's records return after its session timeout (the "
                   f"consumer's session_timeout, else {DEFAULT_SESSION_NS // NS} s)")
    if isinstance(spec, m.GroupedQueueChannel):
        out.append(f"{name}: Kafka has no per-key message groups; it runs as a plain queue")
    if spec.ttl is not None:
        out.append(f"{name}: Kafka has no per-message TTL (retention deletes whole segments); ttl is ignored")
    if spec.capacity is not None:
        out.append(f"{name}: Kafka has no queue capacity; capacity is ignored")
    if spec.dedup_window:
        out.append(f"{name}: Kafka has no deduplication window (the idempotent producer drops only its own "
                   "retries); dedup_window is ignored")
    return out
