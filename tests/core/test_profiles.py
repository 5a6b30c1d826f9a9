"""Broker profiles: documented defaults, overrides and the generated docs (research §1.1-§1.6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtool.core.profiles import MINUTE, PROFILES, SECOND, field_names, get_profile, profiles_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "profiles.md"


def test_all_requested_profiles_exist() -> None:
    """The eight profiles named in the product brief are built in."""
    assert set(PROFILES) == {"default", "rabbitmq-classic", "rabbitmq-quorum", "sqs-standard", "sqs-fifo",
                             "kafka", "nats-jetstream", "redis-streams"}


def test_every_field_of_every_profile_has_a_source() -> None:
    """Each profile field carries where its value comes from."""
    for p in PROFILES.values():
        for name in field_names():
            if name in ("name", "notes"):
                continue
            assert name in p.sources, (p.name, name)
            assert p.sources[name]


def test_rabbitmq_classic_defaults() -> None:
    """Classic: requeue to original position, consumer_timeout 30 min closes the channel, no counter,
    prefetch 0 = unlimited (research §1.1)."""
    p = get_profile("rabbitmq-classic")
    assert p.requeue_position == "original"
    assert (p.ack_timeout_ns, p.ack_timeout_action) == (30 * MINUTE, "close_channel")
    assert p.counter_increments_on == frozenset() and p.max_deliveries is None
    assert p.crash_return == "immediate" and p.prefetch == 0 and p.ack_effect == "delete"


def test_rabbitmq_quorum_is_version_3_10() -> None:
    """Quorum on 3.10: x-delivery-count counts every return, the first delivery does not count,
    no default delivery limit (20 only since 4.0), prefetch capped at 2,000 (research §1.1)."""
    p = get_profile("rabbitmq-quorum")
    assert p.version == "3.10" and p.max_deliveries is None
    assert p.counter_name == "x-delivery-count" and not p.counts_first_delivery
    assert {"nack", "crash", "lease_expired"} <= p.counter_increments_on
    assert p.prefetch_cap == 2000 and p.at_limit == "dead_letter"
    v4 = p.with_overrides(version="4.0", max_deliveries=20)
    assert v4.max_deliveries == 20 and v4.source("max_deliveries") == "scenario override"


def test_sqs_defaults() -> None:
    """SQS: visibility 30 s returns the one message, every receive counts, crash = wait for the lease,
    FIFO adds a 5 min dedup window and head-of-group returns (research §1.3)."""
    std, fifo = get_profile("sqs-standard"), get_profile("sqs-fifo")
    for p in (std, fifo):
        assert (p.ack_timeout_ns, p.ack_timeout_action) == (30 * SECOND, "return_message")
        assert p.counts_first_delivery and p.crash_return == "lease" and p.max_deliveries is None
    assert std.dedup_window_ns is None and fifo.dedup_window_ns == 5 * MINUTE
    assert fifo.requeue_position == "head"


def test_kafka_defaults() -> None:
    """Kafka: ack moves a cursor, session.timeout.ms 45 s, range assignor first, auto.offset.reset latest,
    max.poll.records 500; queue channels are share groups with delivery count limit 5 (research §1.2)."""
    p = get_profile("kafka")
    assert p.ack_effect == "cursor" and p.session_timeout_ns == 45 * SECOND
    assert p.assignment == "range" and p.log_start == "latest" and p.prefetch == 500
    assert p.max_deliveries == 5


def test_nats_defaults() -> None:
    """NATS JetStream: AckWait 30 s, MaxDeliver -1 (unlimited), at the limit the message stays with an
    advisory, Duplicates window 2 min, MaxAckPending 1000 (research §1.4)."""
    p = get_profile("nats-jetstream")
    assert p.ack_timeout_ns == 30 * SECOND and p.max_deliveries is None
    assert p.at_limit == "keep_with_advisory" and p.dedup_window_ns == 2 * MINUTE and p.prefetch == 1000
    assert p.counts_first_delivery and p.requeue_position == "tail"


def test_redis_defaults() -> None:
    """Redis Streams: no lease, nothing returns on its own (claim only), ack only moves the PEL (§1.5)."""
    p = get_profile("redis-streams")
    assert p.ack_timeout_ns is None and p.ack_timeout_action == "none"
    assert p.crash_return == "never" and p.ack_effect == "cursor"


def test_unknown_override_lists_valid_fields() -> None:
    """A scenario may override any field; a typo is rejected with the valid names."""
    with pytest.raises(ValueError, match="unknown profile field\\(s\\) max_delivery; valid: name, broker"):
        get_profile("default").with_overrides(max_delivery=3)


def test_override_values_are_validated() -> None:
    """Enum fields only take their documented values."""
    with pytest.raises(ValueError, match="head, original, tail"):
        get_profile("default").with_overrides(requeue_position="middle")
    with pytest.raises(ValueError, match="counter_increments_on"):
        get_profile("default").with_overrides(counter_increments_on={"ack"})


def test_unknown_profile_lists_valid_names() -> None:
    """get_profile names the valid profiles."""
    with pytest.raises(KeyError, match="rabbitmq-classic"):
        get_profile("activemq")


def test_docs_match_code() -> None:
    """docs/profiles.md is generated from the code; regenerate with profiles_markdown() after a change."""
    assert DOCS.read_text() == profiles_markdown()


def test_truth_fields_per_broker() -> None:
    """The documented behaviours behind stale acks, reject, capacity and TTL (tests/core/test_stale_ack.py,
    test_sqs_reject.py, test_capacity.py and test_ttl_profiles.py quote the sources and run them)."""
    rows = {name: (p.stale_ack, p.reject_action, p.capacity_counts, p.overflow_head, p.message_expiry)
            for name, p in PROFILES.items()}
    assert rows["nats-jetstream"] == ("settles", "dead_letter", "stored", "drop", "anywhere")
    assert rows["redis-streams"][:1] == ("settles",)
    assert rows["sqs-standard"][:2] == rows["sqs-fifo"][:2] == ("ignored", "lease_expiry")
    for rmq in ("rabbitmq-classic", "rabbitmq-quorum"):
        assert rows[rmq] == ("refused", "dead_letter", "ready", "dead_letter", "at_head")
    assert rows["kafka"][0] == "refused"
    with pytest.raises(ValueError, match="stale_ack"):
        get_profile("default").with_overrides(stale_ack="maybe")
