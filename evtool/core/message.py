"""Messages and their death records.

A `Message` is what a producer publishes. The broker core treats it as
immutable once published: copies on different subscriptions share one object,
and anything that changes it (dead-lettering adds a death record, drops the
TTL) makes a new copy with `Message.copy`.

Every message an actor derives from another goes through one of two methods,
so the rules live in one place:

- `follow_up`: a *new* message this one caused (an emitted event, a reply, an
  event published for a command, a saga command). New id; causation is this
  message; correlation is this conversation's id.
- `republish`: the *same* message published again by the application (a retry
  republish, an application dead letter). Same id and everything it carries
  (reply_to, TTL, deaths, correlation); only the dedup id is dropped.

`with_death` adds a death record the way a broker's dead-lettering does.

It is a ``__slots__`` class rather than a frozen dataclass because the core
builds and reads millions of them per run.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_SAME: Any = object()  # `follow_up(key=...)` not given: the key of the message it follows


def content_dedup_id(payload: Any) -> str:
    """The dedup id SQS FIFO makes from a message body when ContentBasedDeduplication is on.

    "Amazon SQS uses a SHA-256 hash to generate the MessageDeduplicationId using the body of the
    message (but not the attributes of the message)" (SendMessage API, MessageDeduplicationId).
    The body here is the payload written as canonical JSON (sorted keys, no spaces), so equal
    payloads give equal ids; headers (the attributes) do not count.
    """
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class DeathRecord:
    """One entry of a message's death history (RabbitMQ's ``x-death`` header).

    Records are compressed per (channel, reason) pair like RabbitMQ does: a
    second death in the same channel for the same reason bumps `count` and
    `last_time` instead of adding a record. Source: https://www.rabbitmq.com/docs/dlx
    ("x-death header").
    """

    __slots__ = ("channel", "reason", "count", "first_time", "last_time", "key")

    def __init__(self, channel: str, reason: str, count: int, first_time: int, last_time: int,
                 key: str | None) -> None:
        self.channel = channel      # the channel the message died in (the original channel)
        self.reason = reason        # rejected | expired | max_deliveries | overflow
        self.count = count          # how many times it died there for that reason
        self.first_time = first_time
        self.last_time = last_time
        self.key = key              # the routing key it had when it died

    def as_dict(self) -> dict[str, Any]:
        """Plain dict form for traces and reports."""
        return {"channel": self.channel, "reason": self.reason, "count": self.count,
                "first_time": self.first_time, "last_time": self.last_time, "key": self.key}

    def __repr__(self) -> str:
        return (f"DeathRecord(channel={self.channel!r}, reason={self.reason!r}, count={self.count}, "
                f"first_time={self.first_time}, last_time={self.last_time})")


class Message:
    """A published message.

    id             message id (unique per publish, shared by the copies of one publish)
    channel        the channel it was first published to (set by the producer)
    key            routing key, partition key and default group key
    headers        small dict of string headers (group keys may come from here)
    payload        anything the scenario carries
    type, version  event type name and schema version
    published_at   virtual publish time (ns)
    seq            per-key sequence number assigned by the producer
    causation_id   id of the message that caused this one
    correlation_id id shared by a whole conversation
    tag            a label such as ``poison`` that handlers and checks look at
    producer       the producer's name
    reply_to       channel a reply should go to
    ttl_ns         per-message TTL (None = none); the lower of this and the channel TTL wins
    deaths         death records, most recent first (empty tuple if it never died)
    dedup_id       the id a channel's dedup window compares (NATS ``Nats-Msg-Id``, SQS
                   ``MessageDeduplicationId``); None = never deduplicated. Only the producer sets
                   it; derived messages (retry republishes, emits, replies, dead letters,
                   redrives) are new publishes and carry none.
    """

    __slots__ = ("id", "channel", "key", "headers", "payload", "type", "version", "published_at", "seq",
                 "causation_id", "correlation_id", "tag", "producer", "reply_to", "ttl_ns", "deaths",
                 "dedup_id")

    def __init__(self, id: str, channel: str = "", key: str | None = None,
                 headers: dict[str, str] | None = None, payload: Any = None, type: str = "",
                 version: int = 1, published_at: int = 0, seq: int = 0, causation_id: str | None = None,
                 correlation_id: str | None = None, tag: str | None = None, producer: str | None = None,
                 reply_to: str | None = None, ttl_ns: int | None = None,
                 deaths: tuple[DeathRecord, ...] = (), dedup_id: str | None = None) -> None:
        self.id = id
        self.channel = channel
        self.key = key
        self.headers = headers
        self.payload = payload
        self.type = type
        self.version = version
        self.published_at = published_at
        self.seq = seq
        self.causation_id = causation_id
        self.correlation_id = correlation_id
        self.tag = tag
        self.producer = producer
        self.reply_to = reply_to
        self.ttl_ns = ttl_ns
        self.deaths = deaths
        self.dedup_id = dedup_id

    def copy(self, **changes: Any) -> Message:
        """A new message with the same fields except `changes` (used off the hot path only)."""
        m = Message.__new__(Message)
        for name in Message.__slots__:
            setattr(m, name, changes[name] if name in changes else getattr(self, name))
        return m

    def follow_up(self, id: str, channel: str, *, producer: str | None, now: int, type: str, payload: Any = None,
                  key: str | None = _SAME, headers: dict[str, str] | None = None, seq: int = 0, version: int = 1,
                  correlation_id: str | None = None, reply_to: str | None = None) -> Message:
        """A new message this one caused: an emitted event, a reply, an event published for a command, a command.

        ``causation_id`` is this message's id. ``correlation_id`` is the one given (a saga step or a request
        attempt names its own conversation), else this message's correlation id, else this message's id: a
        message without one starts the conversation, so a reply to it carries the request's id (the
        Correlation Identifier of Enterprise Integration Patterns). The key is this message's unless given.
        Nothing else is carried over (tag, TTL, deaths, reply_to, dedup id): it is a new publish.
        """
        return Message(id, channel, self.key if key is _SAME else key, headers, payload, type, version, now, seq,
                       self.id, correlation_id or self.correlation_id or self.id, None, producer, reply_to)

    def republish(self, channel: str, *, headers: dict[str, str] | None = None) -> Message:
        """The same message published again by the application to `channel` (a retry republish, an application
        dead letter): same id, causation, correlation, key, payload, tag, producer, first publish time,
        reply_to, TTL and deaths; `headers` are added to its own. The dedup id is dropped: a dedup window
        would otherwise take the republish for a duplicate of the original (shared design decision 1)."""
        merged = dict(self.headers or {})
        if headers:
            merged.update(headers)
        return self.copy(channel=channel, headers=merged, dedup_id=None)

    def header(self, name: str) -> str | None:
        """The header `name`, or None."""
        h = self.headers
        return h.get(name) if h else None

    def with_death(self, channel: str, reason: str, now: int) -> Message:
        """A copy carrying one more death, compressed per (channel, reason), with its TTL and dedup id removed.

        RabbitMQ removes the original expiration on dead-lettering so the copy
        cannot expire again (https://www.rabbitmq.com/docs/dlx). The dead letter is a
        new message in its new channel, so it carries no dedup id (shared design decision 1).
        """
        deaths = list(self.deaths)
        for i, d in enumerate(deaths):
            if d.channel == channel and d.reason == reason:
                rec = DeathRecord(channel, reason, d.count + 1, d.first_time, now, self.key)
                del deaths[i]
                break
        else:
            rec = DeathRecord(channel, reason, 1, now, now, self.key)
        return self.copy(deaths=(rec, *deaths), ttl_ns=None, dedup_id=None)

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, channel={self.channel!r}, key={self.key!r}, tag={self.tag!r})"
