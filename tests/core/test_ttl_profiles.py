"""Message TTL per profile (profile field ``message_expiry``).

RabbitMQ, https://www.rabbitmq.com/docs/ttl : "When both a per-queue and a per-message TTL are
specified, the lower value between the two will be chosen." Expired messages are removed when they
reach the head of the queue and are dead-lettered when the queue has a dead-letter exchange
(https://www.rabbitmq.com/docs/dlx: "The message expires due to per-message TTL").

NATS JetStream, https://docs.nats.io/nats-concepts/jetstream/streams : MaxAge is the "Maximum age of
any message in the Stream"; with DiscardOld "if MaxAge is set to one minute, the server will
automatically delete messages older than one minute". Nothing is dead-lettered. Checked on the installed
NATS 2.9 (nats-py): WorkQueue stream with MaxAge 1 s, two messages, one fetched and left unacked; 2.5 s
later the stream holds 0 messages and the consumer has 0 acks pending: the unacked one went too.

Redis streams, https://redis.io/docs/latest/develop/data-types/streams/ ("Capped streams"): "There is
currently no option to tell the stream to just retain items that are not older than a given period"; an
entry leaves a stream only by XDEL or a trim (MAXLEN, MINID). So under `redis-streams` no message expires
(`message_expiry: none`), as evtool's Redis transport ignores `ttl`; checked on the installed Redis 7.0
(tests/core/test_truth_live.py::test_redis_stream_entries_never_expire_by_age).
"""

from __future__ import annotations

from evtool.core.channel_config import QueueConfig
from evtool.core.message import Message

from .conftest import Rig, S


def _expire_all(rig: Rig, until: int) -> None:
    b = rig.broker
    t = b.next_timer()
    while t is not None and t <= until:
        b.fire_timers(t)
        b.pump(t)
        t = b.next_timer()


def test_rabbitmq_lower_ttl_wins() -> None:
    """Queue TTL 10 s: a message with TTL 5 s expires at 5 s, one with TTL 20 s at 10 s."""
    rig = Rig("rabbitmq-classic")
    b = rig.broker
    b.declare("q", QueueConfig(ttl_ns=10 * S))
    b.publish(0, "q", Message("short", ttl_ns=5 * S))
    b.publish(0, "q", Message("long", ttl_ns=20 * S))
    _expire_all(rig, 60 * S)
    assert [(e.msg, e.t) for e in rig.kinds("expired")] == [("short", 5 * S), ("long", 10 * S)]


def test_rabbitmq_expiry_at_the_head_dead_letters_and_spares_unacked() -> None:
    """RabbitMQ: an unacked message does not expire; a ready one is dead-lettered (reason expired)."""
    rig = Rig("rabbitmq-classic")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(ttl_ns=10 * S, dead_letter="dlq"))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m0", "m1")
    (d0,) = b.pump(0)
    _expire_all(rig, 20 * S)
    assert [e.msg for e in rig.kinds("expired")] == ["m1"]
    assert [e.data["reason"] for e in rig.kinds("dead_lettered")] == ["expired"]
    assert b.ack(20 * S, d0.tag)


def test_jetstream_max_age_removes_unacked_and_ready_silently() -> None:
    """NATS: MaxAge 10 s removes the unacked m0 and the ready m1 at 10 s, no dead letter, reason max_age."""
    rig = Rig("nats-jetstream")
    b = rig.broker
    b.declare("dlq", QueueConfig())
    b.declare("q", QueueConfig(ttl_ns=10 * S, dead_letter="dlq"))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m0", "m1")
    (d0,) = b.pump(0)
    _expire_all(rig, 20 * S)
    expired = rig.kinds("expired")
    assert sorted((e.msg, e.t, e.data["reason"]) for e in expired) == [("m0", 10 * S, "max_age"),
                                                                         ("m1", 10 * S, "max_age")]
    assert not rig.kinds("dead_lettered") and not rig.kinds("lease_expired")
    assert not b.ack(21 * S, d0.tag)
    st = b.stats("q")
    assert (st.expired, st.in_flight, st.ready, st.unaccounted) == (2, 0, 0, 0)
    assert b.idle()


def test_jetstream_max_age_frees_the_consumer_credit() -> None:
    """The deleted unacked message no longer counts against MaxAckPending: the next one is delivered."""
    rig = Rig("nats-jetstream")
    b = rig.broker
    b.declare("q", QueueConfig(ttl_ns=10 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m0")
    b.pump(0)
    rig.publish(5 * S, "q", "m1")
    assert b.pump(5 * S) == []
    b.fire_timers(10 * S)
    assert [d.msg.id for d in b.pump(10 * S)] == ["m1"]


def test_redis_streams_expire_nothing_channel_or_message_ttl() -> None:
    """Redis: a channel TTL of 1 s and a message TTL of 2 s remove nothing, ready or pending; both messages are
    delivered and acked long after (before, the profile expired them anywhere, as JetStream's MaxAge does)."""
    rig = Rig("redis-streams")
    b = rig.broker
    b.declare("q", QueueConfig(ttl_ns=1 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    b.publish(0, "q", Message("m0"))
    b.publish(0, "q", Message("m1", ttl_ns=2 * S))
    (d0,) = b.pump(0)
    _expire_all(rig, 60 * S)
    assert not rig.kinds("expired")
    assert b.ack(60 * S, d0.tag)
    (d1,) = b.pump(60 * S)
    assert d1.msg.id == "m1"
    assert b.ack(61 * S, d1.tag)
    st = b.stats("q")
    assert (st.expired, st.acked, st.ready, st.in_flight) == (0, 2, 0, 0)
