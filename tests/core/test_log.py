"""Partitioned logs and consumer groups (Kafka classic protocol, research §1.2)."""

from __future__ import annotations

from evtool.core.channel_config import LogConfig, QueueConfig
from evtool.core.message import Message
from evtool.core.routing import partition_for_key

from .conftest import Rig, S


def test_keys_pick_partitions_and_order_holds_per_partition() -> None:
    """Keyed records go to murmur2(key) % n; order is guaranteed only within a partition."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig(partitions=3))
    b.subscribe(0, "log", "c", 1, group="g", start_from="earliest")
    for i in range(12):
        b.publish(i, "log", Message(f"m{i}", key=f"k{i % 4}"))
    ds = b.pump(20)
    assert len(ds) == 12
    for d in ds:
        assert d.partition == partition_for_key(d.msg.key, 3)
    for p in range(3):
        offs = [d.offset for d in ds if d.partition == p]
        assert offs == sorted(offs) == list(range(len(offs)))
    assert rig.kinds("published")[0].data == {"partition": partition_for_key("k0", 3), "offset": 0}


def test_keyless_and_round_robin_partitioner() -> None:
    """Keyless records (or partitioner round_robin) spread evenly over partitions."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig(partitions=2, partitioner="round_robin"))
    for i in range(4):
        b.publish(0, "log", Message(f"m{i}", key="same"))
    assert [e.data["partition"] for e in rig.kinds("published")] == [0, 1, 0, 1]


def test_join_rebalances_with_range() -> None:
    """A join triggers a rebalance; RangeAssignor gives contiguous ranges (§1.2)."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig(partitions=4))
    b.subscribe(0, "log", "c", 1, group="g")
    b.subscribe(0, "log", "c", 2, group="g")
    last = rig.kinds("rebalanced")[-1]
    assert last.data["assignment"] == {"c#1": [0, 1], "c#2": [2, 3]}
    assert last.data["reason"] == "join"
    st = b.log_group_state("log", "g")
    assert st["owner"] == ["c#1", "c#1", "c#2", "c#2"]


def test_crash_stalls_until_session_timeout_then_rereads_from_commit() -> None:
    """A crashed member keeps its partitions until session.timeout.ms; the next owner re-reads from the last
    commit, so processed-but-uncommitted records come again (duplicates, §1.2, §1.7.8)."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig(partitions=1, session_timeout_ns=10 * S))
    s1 = b.subscribe(0, "log", "c", 1, group="g", start_from="earliest")
    for i in range(4):
        b.publish(0, "log", Message(f"m{i}"))
    ds = b.pump(0)
    for d in ds[:2]:
        b.ack(1, d.tag)
    assert b.commit_processed(1, s1) == {0: 2}
    b.ack(1, ds[2].tag)                       # processed, never committed
    b.unsubscribe(2, s1, reason="crash")
    s2 = b.subscribe(3, "log", "c", 2, group="g")
    assert b.pump(3) == []                    # partition 0 still belongs to the crashed member
    assert b.next_timer() == 2 + 10 * S
    b.fire_timers(12 * S)
    assert rig.kinds("rebalanced")[-1].data["reason"] == "session_timeout"
    again = b.pump(12 * S)
    assert [(d.msg.id, d.attempt, d.sub) for d in again] == [("m2", 2, s2), ("m3", 2, s2)]
    assert not b.commit(12 * S, s1, 0, 4)     # the evicted member cannot commit


def test_a_crashed_members_unprocessed_records_are_held_until_the_session_timeout() -> None:
    """Kafka consumer config `session.timeout.ms`: "If no heartbeats are received by the broker before the
    expiration of this session timeout, then the broker will remove this consumer from the group and initiate
    a rebalance." (https://kafka.apache.org/documentation/#consumerconfigs_session.timeout.ms)

    Until then the records the crashed member was handed and never processed wait for it: the channel reports
    them in flight and the broker is not idle, so a drain cannot end `complete` with them (found by
    tests/property, issue 11). After the eviction they are lag, then in flight on the live member."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig(partitions=1, session_timeout_ns=10 * S))
    s1 = b.subscribe(0, "log", "c", 1, group="g", start_from="earliest")
    s2 = b.subscribe(0, "log", "c", 2, group="g")
    for i in range(3):
        b.publish(0, "log", Message(f"m{i}"))
    ds = b.pump(0)
    assert {d.sub for d in ds} == {s1} and len(ds) == 3
    b.ack(1, ds[0].tag)                       # processed (not committed): not held, but read again later
    b.unsubscribe(2, s1, reason="crash")
    st = b.stats("log")
    assert (st.ready, st.in_flight) == (0, 2)
    assert not b.idle()
    assert b.pump(3) == []                    # the partition stalls with the crashed member
    b.fire_timers(2 + 10 * S)
    assert rig.kinds("rebalanced")[-1].data["reason"] == "session_timeout"
    assert b.stats("log").ready == 3 and not b.idle()   # from the committed offset (none: the start)
    again = b.pump(2 + 10 * S)
    assert [(d.msg.id, d.sub) for d in again] == [("m0", s2), ("m1", s2), ("m2", s2)]
    for d in again:
        b.ack(3 + 10 * S, d.tag)
    assert b.idle()


def test_records_past_the_commit_of_a_group_without_members_keep_the_broker_busy() -> None:
    """A group whose members are all gone still has records waiting past its committed offset: they are
    reported ready (lag) and the broker is not idle, as a work queue whose consumers are gone."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig(partitions=2))
    s1 = b.subscribe(0, "log", "c", 1, group="g", start_from="earliest")
    b.publish(0, "log", Message("m0", key="a"))
    b.publish(0, "log", Message("m1", key="b"))
    b.unsubscribe(1, s1, reason="leave")
    assert b.stats("log").ready == 2
    assert not b.idle()


def test_nack_seeks_back_head_of_line() -> None:
    """A seek-back retry redelivers the failed record and everything after it: the partition is blocked (§1.2)."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig(partitions=1))
    b.subscribe(0, "log", "c", 1, group="g", prefetch=1, start_from="earliest")
    for i in range(3):
        b.publish(0, "log", Message(f"m{i}"))
    (d0,) = b.pump(0)
    b.ack(0, d0.tag)
    (d1,) = b.pump(0)
    b.nack(1, d1.tag, delay_ns=5 * S)
    assert b.pump(2) == []                    # paused: nothing from this partition
    b.fire_timers(b.next_timer())  # type: ignore[arg-type]
    (r,) = b.pump(1 + 5 * S)
    assert (r.msg.id, r.attempt, r.offset) == ("m1", 2, 1)


def test_reject_skips_and_copies_to_dead_letter_topic() -> None:
    """Skipping a poison record (the app's choice) moves past it; a DLT gets a copy (§1.2)."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("dlt", QueueConfig())
    b.declare("log", LogConfig(dead_letter="dlt"))
    s = b.subscribe(0, "log", "c", 1, group="g", start_from="earliest")
    b.publish(0, "log", Message("bad"))
    b.publish(0, "log", Message("good"))
    bad, good = b.pump(0)
    b.reject(1, bad.tag)
    b.ack(1, good.tag)
    assert b.commit_processed(1, s) == {0: 2}
    assert b.stats("dlt").ready == 1
    assert rig.kinds("rejected")[0].data["skipped"] is True


def test_start_from_latest_skips_history() -> None:
    """auto.offset.reset=latest: a new group sees only records written after it started (§1.2)."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig())
    b.publish(0, "log", Message("old"))
    b.subscribe(1, "log", "c", 1, group="g")
    b.publish(2, "log", Message("new"))
    assert [d.msg.id for d in b.pump(2)] == ["new"]
    b.subscribe(3, "log", "d", 1, group="h", start_from="earliest")
    assert [d.msg.id for d in b.pump(3)] == ["old", "new"]


def test_retention_drops_unread_records() -> None:
    """Retention removes old records whether or not a group read them (§1.2 retention)."""
    rig = Rig()
    b = rig.broker
    b.declare("log", LogConfig(retention_count=2))
    b.subscribe(0, "log", "c", 1, group="g", prefetch=1)
    for i in range(4):
        b.publish(0, "log", Message(f"m{i}"))
    (d,) = b.pump(0)
    assert d.msg.id == "m2"
    assert rig.kinds("dropped")[0].data["count"] == 2
    assert b.stats("log").depth == 2


def test_cooperative_sticky_revokes_only_moved_partitions() -> None:
    """Cooperative rebalancing revokes only the partitions that move; eager revokes everything (§1.2)."""
    for strategy, expected_revokes in (("cooperative_sticky", 1), ("range", 2)):
        rig = Rig("kafka")
        b = rig.broker
        b.declare("log", LogConfig(partitions=2, assignment=strategy))
        b.subscribe(0, "log", "c", 1, group="g")
        b.subscribe(1, "log", "c", 2, group="g")
        revokes = [e for e in rig.events if e.kind == "partition_revoked" and e.t == 1]
        assert len(revokes) == expected_revokes, strategy


def test_revoked_ack_is_refused() -> None:
    """After a rebalance moves a partition, the old owner's ack and commit fail (CommitFailedException)."""
    rig = Rig("kafka")
    b = rig.broker
    b.declare("log", LogConfig(partitions=2))
    s1 = b.subscribe(0, "log", "c", 1, group="g", start_from="earliest")
    b.publish(0, "log", Message("m0"))          # keyless: round-robin over the two partitions
    b.publish(0, "log", Message("m1"))
    ds = b.pump(0)
    b.subscribe(1, "log", "c", 2, group="g")            # range: c#2 takes partition 1
    moved = [d for d in ds if d.partition == 1]
    assert moved and not b.ack(2, moved[0].tag)
    assert not b.commit(2, s1, 1, 1)


def test_durable_log_survives_restart() -> None:
    """A restart keeps a durable log's records and commits; positions go back to the commit."""
    rig = Rig()
    b = rig.broker
    b.declare("log", LogConfig())
    s = b.subscribe(0, "log", "c", 1, group="g")
    for i in range(3):
        b.publish(0, "log", Message(f"m{i}"))
    ds = b.pump(0)
    b.ack(1, ds[0].tag)
    b.commit_processed(1, s)
    b.restart(2)
    b.subscribe(3, "log", "c", 1, group="g")
    assert [d.msg.id for d in b.pump(3)] == ["m1", "m2"]
    assert rig.kinds("broker_restarted")[0].data["lost"] == 0
