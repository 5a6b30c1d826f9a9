"""The bundled lessons on a real Kafka-protocol broker (Tansu here) in real time: the same per-check verdicts
as the core under the ``kafka`` profile, the same partitions, and nothing left on the broker afterwards.

The lessons are shortened with ``--set``-style overrides (their virtual minutes become real seconds), which
change timings only, never the mechanics a check judges."""

from __future__ import annotations

import asyncio

import pytest

from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.routing import partition_for_key
from evtool.scenario.loader import load_scenario, load_text
from evtool.sim.engine import Engine
from evtool.transports import capabilities
from evtool.transports.kafka import KafkaTransport, bootstrap
from evtool.transports.runner import run_on_transport

pytestmark = pytest.mark.broker

POISON_SHORT = ["broker.profile=kafka", "run.duration=4s", "producers.checkout.inject[0].at=1s",
                "consumers.billing.retry.backoff.delay=200ms",
                "expect[3].that=count(handled{consumer=billing, tag!=poison}) > 30"]
"""poison-across-brokers in 4 s: the poison message at 1 s, 200 ms between its deliveries."""

PARTITIONED_SHORT = ["run.duration=7500ms", "run.drain.max=20s", "producers.ledger.arrival.rate=100/s",
                     "consumers.statements.session_timeout=2s", "consumers.statements.commit.interval=1s",
                     "faults[0].at=1s", "faults[1].at=3500ms", "faults[1].restart_after=4s",
                     "expect[3].during=[500ms, 40s]"]
"""partitioned-ordering in 7.5 s: scale-out at 1 s, a crash at 3.5 s (evicted after the 2 s session timeout),
back at 7.5 s. Tansu answers each JoinGroup after about half the session timeout (1 s here) and the members
learn of a rebalance on their next heartbeat, so a rebalance takes 2-2.5 s; a member that joins while one
runs joins the same generation (one `rebalanced` for two changes), so the three membership changes are kept
2.5-4 s apart. (With aiokafka's default 10 s session each rebalance took over 5 s and the test 25 s.)"""


def _verdicts(outcome: object) -> dict[str, str]:
    return {c["name"]: c["status"] for c in outcome.checks}  # type: ignore[attr-defined]


def test_poison_across_brokers_matches_the_core_under_the_kafka_profile(kafka_url: str) -> None:
    """The kafka profile's queue channels are share groups: at the delivery limit (5) the record is archived,
    not dead-lettered (KIP-932: "the record is archived", group.share.delivery.count.limit=5). Tansu has no
    share groups; the adapter's emulation must give the core's verdicts: the broker-DLQ check fails, the rest
    pass, and the poison message is delivered exactly 5 times."""
    loaded = load_scenario("evtool/lessons/poison-across-brokers.yaml", POISON_SHORT)
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, "kafka", url=kafka_url, listeners=[trace.extend])
    assert real.extra["problems"] == []
    assert _verdicts(real) == _verdicts(local) == {
        "poison-dead-lettered-by-broker": "fail", "orders-keep-flowing": "pass", "no-hot-loop": "pass",
        "good-orders-handled": "pass"}
    poison = [e.attempt for e in trace if e.msg == "POISON-1" and e.kind in ("delivered", "redelivered")]
    assert poison == [1, 2, 3, 4, 5]
    dropped = [e for e in trace if e.kind == "dropped" and e.msg == "POISON-1"]
    assert [e.data["reason"] for e in dropped] == ["max_deliveries"]      # type: ignore[index]
    assert any("share groups" in w for w in real.extra["warnings"])


def test_partitioned_ordering_matches_the_core_on_kafka(kafka_url: str) -> None:
    """Per-key order, exclusive ownership, one rebalance per membership change (join, session-timeout
    eviction, rejoin), replays after the crash, bounded lag: the core's verdicts, on real consumer groups."""
    loaded = load_scenario("evtool/lessons/partitioned-ordering.yaml", PARTITIONED_SHORT)
    trace: list[TraceEvent] = []
    local = Engine(loaded).run()
    real = run_on_transport(loaded, "kafka", url=kafka_url, listeners=[trace.extend])
    assert real.extra["problems"] == []
    assert _verdicts(real) == _verdicts(local), real.checks
    assert set(_verdicts(real).values()) == {"pass"}
    reasons = [e.data["reason"] for e in trace if e.kind == "rebalanced" and e.t > 500_000_000]  # type: ignore[index]
    assert reasons == ["join", "session_timeout", "join"]
    # the partition evtool traces for each published record is the one the broker stored it in (the adapter
    # reports any difference as a problem, and there is none)
    pub = [e for e in trace if e.kind == "published" and e.key is not None]
    assert pub and all(e.data["partition"] == partition_for_key(e.key, 6) for e in pub)  # type: ignore[index]
    assert real.drain == "complete"


def test_kafka_capability_notes_say_what_tansu_lacks() -> None:
    """The notes name the share-group emulation and the eager rebalancing before the run."""
    notes = capabilities(load_scenario("evtool/lessons/partitioned-ordering.yaml"), "kafka")
    assert any("eager" in n for n in notes)
    notes = capabilities(load_scenario("evtool/lessons/poison-across-brokers.yaml", ["broker.profile=kafka"]),
                         "kafka")
    assert any("KIP-932" in n for n in notes)


def test_a_run_leaves_no_topics_behind(kafka_url: str) -> None:
    """cleanup deletes every topic the run created (names carry the run's prefix)."""
    from aiokafka.admin import AIOKafkaAdminClient

    loaded = load_text(SMALL)
    real = run_on_transport(loaded, "kafka", url=kafka_url)
    assert _verdicts(real) == {"all": "pass"}
    prefix = real.extra["prefix"]

    async def topics() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(kafka_url))
        await admin.start()
        try:
            return [t for t in await admin.list_topics() if t.startswith(prefix)]
        finally:
            await admin.close()

    assert asyncio.run(topics()) == []


SMALL = """
evtool: "1"
id: t-kafka-small
run: {seed: 4, duration: 1s, drain: {max: 10s}}
broker: {profile: kafka}
channels:
  events: {kind: log, partitions: 3}
producers:
  p: {to: events, arrival: {process: constant, rate: 50/s}, count: 30, key: {dist: round_robin, space: 5}}
consumers:
  c: {from: events, group: g, commit: {mode: per_message}, processing: 1ms}
expect:
  - {name: all, that: "count(handled{consumer=c}) == 30"}
"""


def test_partition_of_is_evtools_partitioner() -> None:
    """Without a broker: the adapter traces evtool's murmur2 partition for keyed messages, 0 without a key."""
    t = KafkaTransport("kafka://127.0.0.1:9092")
    t.parts["events"] = 6
    assert t.partition_of("events", Message("m1", key="acct-003")) == partition_for_key("acct-003", 6)
    assert t.partition_of("events", Message("m2")) == 0
    assert bootstrap("kafka://h:1234") == "h:1234" and bootstrap("h:9") == "h:9"


def test_compare_local_kafka_gives_the_same_verdicts_for_both_lessons(kafka_url: str) -> None:
    """`--compare local,kafka` (compare_runs): the core under the kafka profile and Tansu agree check for check
    on poison-across-brokers and on partitioned-ordering."""
    from evtool.transports.runner import compare_runs, format_comparison

    for path, sets in (("evtool/lessons/poison-across-brokers.yaml", POISON_SHORT),
                       ("evtool/lessons/partitioned-ordering.yaml", PARTITIONED_SHORT)):
        outs = compare_runs(load_scenario(path, sets), ["local", "kafka"], urls={"kafka": kafka_url})
        assert outs["local"].extra["profile"] == outs["kafka"].extra["profile"] == "kafka"
        assert _verdicts(outs["kafka"]) == _verdicts(outs["local"]), format_comparison(outs)
        assert outs["kafka"].extra["problems"] == [] and outs["kafka"].drain == "complete"
