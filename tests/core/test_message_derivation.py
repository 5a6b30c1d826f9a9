"""Deriving one message from another: `Message.follow_up` (a new message it caused) and
`Message.republish` (the same message published again by the application)."""

from __future__ import annotations

from evtool.core.message import DeathRecord, Message

S = 1_000_000_000


def _original(**kw: object) -> Message:
    fields: dict[str, object] = dict(channel="orders", key="k1", headers={"h": "1"}, payload={"a": 1}, type="Placed",
                                     version=2, published_at=5, seq=7, causation_id="c0", correlation_id="conv-1",
                                     tag="poison", producer="shop", reply_to="inbox", ttl_ns=30 * S,
                                     deaths=(DeathRecord("orders", "rejected", 1, 3, 3, "k1"),), dedup_id="d1")
    fields.update(kw)
    return Message("m1", **fields)  # type: ignore[arg-type]


def test_a_follow_up_is_a_new_message_caused_by_this_one() -> None:
    out = _original().follow_up("e1", "billing", producer="svc", now=9 * S, type="Charged", payload={"x": 2})
    assert (out.id, out.channel, out.producer, out.published_at, out.type, out.payload) == \
        ("e1", "billing", "svc", 9 * S, "Charged", {"x": 2})
    assert out.causation_id == "m1"
    assert out.correlation_id == "conv-1"          # the conversation goes on
    assert out.key == "k1"                         # the key of the message it follows, unless given
    assert (out.version, out.seq) == (1, 0)
    # a new publish: nothing of the original's delivery state or identity is carried
    assert (out.tag, out.ttl_ns, out.deaths, out.reply_to, out.dedup_id, out.headers) == \
        (None, None, (), None, None, None)


def test_a_message_without_a_correlation_id_starts_the_conversation() -> None:
    # A reply to a request that has no correlation id of its own carries the request's id
    # (Enterprise Integration Patterns, Correlation Identifier). Replies and emits follow one rule.
    reply = _original(correlation_id=None).follow_up("r1", "inbox", producer="svc", now=0, type="PlacedReply")
    assert reply.correlation_id == "m1"
    assert reply.causation_id == "m1"


def test_a_follow_up_may_name_its_own_conversation_key_and_reply_channel() -> None:
    cmd = _original().follow_up("s-1", "payments", producer="saga", now=1, type="Charge", key="saga-7",
                                correlation_id="saga-7:charge", reply_to="saga.replies",
                                headers={"step": "charge"}, seq=3, version=4)
    assert (cmd.key, cmd.correlation_id, cmd.reply_to, cmd.headers, cmd.seq, cmd.version) == \
        ("saga-7", "saga-7:charge", "saga.replies", {"step": "charge"}, 3, 4)
    assert _original().follow_up("x", "c", producer=None, now=0, type="T", key=None).key is None


def test_a_republish_is_the_same_message_with_everything_it_carries() -> None:
    msg = _original()
    again = msg.republish("orders.retry", headers={"x-attempt": "2"})
    assert again is not msg
    for name in ("id", "key", "payload", "type", "version", "published_at", "seq", "causation_id",
                 "correlation_id", "tag", "producer", "reply_to", "ttl_ns", "deaths"):
        assert getattr(again, name) == getattr(msg, name), name
    assert again.channel == "orders.retry"
    assert again.headers == {"h": "1", "x-attempt": "2"}
    assert msg.headers == {"h": "1"}, "the original's headers are not touched"
    # a dedup window would take the republish for a duplicate of the original
    assert again.dedup_id is None


def test_an_application_dead_letter_keeps_reply_to_and_deaths_and_drops_the_ttl() -> None:
    # "The expiration property is removed from the message on dead-lettering in order to prevent it from
    # expiring again in any queues it is routed to." https://www.rabbitmq.com/docs/dlx (x-death section).
    # The application's dead letter follows the same rule as the broker's, and records where it died so a
    # redrive can send it back (Broker.redrive reads deaths[0].channel).
    msg = _original()
    dead = msg.with_death("orders", "rejected", 11 * S).republish("orders.dlq", headers={"x-death-reason": "Boom"})
    assert dead.id == msg.id and dead.reply_to == "inbox" and dead.correlation_id == "conv-1"
    assert dead.ttl_ns is None
    assert dead.deaths[0].channel == "orders" and dead.deaths[0].count == 2   # compressed per (channel, reason)
    assert dead.headers == {"h": "1", "x-death-reason": "Boom"}
    assert dead.channel == "orders.dlq"
