"""Deduplication only where, and as, each broker does it (shared design decision 1).

NATS JetStream: "Nats-Msg-Id: Client-defined unique identifier for a message that will be used by the
server apply de-duplication within the configured Duplicate Window."
(https://docs.nats.io/nats-concepts/jetstream/headers). A publish without the header is never a
duplicate; checked on the NATS 2.9.10 here: two publishes with one Nats-Msg-Id store one message
(the second ack says duplicate), two without the header store two; the stream's default
duplicate_window is 120 s.

SQS FIFO: "If a message with a particular MessageDeduplicationId is sent successfully, any messages sent
with the same MessageDeduplicationId are accepted successfully but aren't delivered during the 5-minute
deduplication interval." and "If you aren't able to provide a MessageDeduplicationId and you enable
ContentBasedDeduplication for your queue, Amazon SQS uses a SHA-256 hash to generate the
MessageDeduplicationId using the body of the message (but not the attributes of the message)."
(SendMessage API reference, MessageDeduplicationId;
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html).
"""

from __future__ import annotations

from collections import Counter

import pytest

from evtool.core.broker import Broker
from evtool.core.channel_config import QueueConfig
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.core.profiles import PROFILES, get_profile
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine


def run(text: str) -> list[TraceEvent]:
    events: list[TraceEvent] = []
    Engine(load_text(text, "t.yaml"), listeners=[events.extend]).run()
    return events


def kinds(events: list[TraceEvent]) -> Counter[str]:
    return Counter(e.kind for e in events)


REPUBLISH = """
evtool: "1"
id: republish
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 1s, drain: {{max: 30s}}}}
channels:
  work: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: once}}, count: 1}}
consumers:
  worker:
    from: work
    fail_if: [{{when: "attempt < 3", error: Flaky}}]
    retry: {{max_attempts: 5, mode: republish, backoff: {{type: constant, delay: 100ms}}, on_exhausted: drop}}
"""


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_republished_retry_is_a_new_publish_never_a_duplicate(profile: str) -> None:
    """`retry.mode: republish` publishes a fresh copy: no broker drops it as a duplicate of its original.

    Before the fix, under nats-jetstream (2-minute duplicate window on message ids) the copy was
    dropped as `duplicate_dropped`, so the failed message was never retried and never handled.
    """
    events = run(REPUBLISH.format(profile=profile))
    k = kinds(events)
    assert k["duplicate_dropped"] == 0
    assert k["failed"] == 2          # attempts 1 and 2 fail
    assert k["handled"] == 1         # attempt 3, a republished copy, succeeds


DUP_FAULT = """
evtool: "1"
id: dup
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 2s, drain: {{max: 30s}}}}
channels:
  work: {{kind: {kind}}}
producers:
  load: {{to: work, arrival: {{process: constant, rate: 10/s}}, count: 10{extra}}}
consumers:
  worker: {{from: work}}
faults:
  - {{at: 0s, action: duplicate, target: "producer:load", probability: 1.0, scope: per_message, for: end}}
"""


@pytest.mark.parametrize(("profile", "extra", "dropped"), [
    ("nats-jetstream", "", 0),                           # no Nats-Msg-Id: JetStream stores both copies
    ("nats-jetstream", ", dedup_id: message_id", 10),    # Nats-Msg-Id set: the second copy is a duplicate
    ("sqs-fifo", "", 10),                                # MessageDeduplicationId required by the API
    ("sqs-fifo", ", dedup_id: none", 0),                 # (a scenario may still say none)
    ("rabbitmq-quorum", ", dedup_id: message_id", 0),    # RabbitMQ has no dedup window at all
    ("default", "", 0),
])
def test_a_duplicate_fault_keeps_the_dedup_id(profile: str, extra: str, dropped: int) -> None:
    """A `duplicate` fault re-sends the same message with the same dedup id; only a window with an id drops it."""
    kind = "grouped_queue" if profile == "sqs-fifo" else "queue"
    events = run(DUP_FAULT.format(profile=profile, kind=kind, extra=extra))
    k = kinds(events)
    assert k["duplicate_dropped"] == dropped
    assert k["handled"] == 20 - dropped


def test_the_profile_default_decides_the_producer_dedup_id() -> None:
    """`producer_dedup_id` is `message_id` only for sqs-fifo (the API requires a MessageDeduplicationId)."""
    assert {name: p.producer_dedup_id for name, p in PROFILES.items()} == {
        name: ("message_id" if name == "sqs-fifo" else "none") for name in PROFILES}


CONTENT = """
evtool: "1"
id: content
broker: {{profile: sqs-fifo}}
run: {{seed: 1, duration: 2s, drain: {{max: 30s}}}}
channels:
  work: {{kind: grouped_queue, content_based_dedup: {cbd}}}
producers:
  load:
    to: work
    dedup_id: none
    arrival: {{process: once}}
    count: 1
    payload: {{order: 7}}
    inject:
      - {{at: 1s, payload: {{order: 7}}, headers: {{note: differs}}}}
      - {{at: 1500ms, payload: {{order: 8}}}}
consumers:
  worker: {{from: work}}
"""


@pytest.mark.parametrize(("cbd", "dropped"), [("true", 1), ("false", 0)])
def test_content_based_dedup_hashes_the_body_only(cbd: str, dropped: int) -> None:
    """With ContentBasedDeduplication an equal body is a duplicate, whatever the attributes (headers)."""
    k = kinds(run(CONTENT.format(cbd=cbd)))
    assert k["duplicate_dropped"] == dropped
    assert k["handled"] == 3 - dropped


def test_an_explicit_dedup_id_overrides_the_content_hash() -> None:
    """"If the queue has ContentBasedDeduplication set, your MessageDeduplicationId overrides the generated one."""
    k = kinds(run(CONTENT.format(cbd="true").replace("dedup_id: none", "dedup_id: message_id")))
    assert k["duplicate_dropped"] == 0
    assert k["handled"] == 3


def test_the_core_drops_only_messages_that_carry_a_dedup_id() -> None:
    """The core's window is keyed by `Message.dedup_id`; a message without one is never a duplicate."""
    events: list[TraceEvent] = []
    b = Broker(get_profile("nats-jetstream"), events.append)
    b.declare("q", QueueConfig())
    b.publish(0, "q", Message("a"))
    b.publish(1, "q", Message("a"))                       # same id, no dedup id: stored
    b.publish(2, "q", Message("b", dedup_id="k"))
    b.publish(3, "q", Message("c", dedup_id="k"))         # other id, same dedup id: dropped
    b.publish(2 + 120 * 10**9, "q", Message("d", dedup_id="k"))  # the window (2 min) has passed
    assert [e.msg for e in events if e.kind == "published"] == ["a", "a", "b", "d"]
    assert [e.msg for e in events if e.kind == "duplicate_dropped"] == ["c"]


def test_derived_messages_carry_no_dedup_id() -> None:
    """A dead-lettered copy is a new message in its new channel: it does not inherit the dedup id."""
    m = Message("a", dedup_id="k")
    assert m.copy().dedup_id == "k"                     # a plain copy (the same publish) keeps it
    assert m.with_death("q", "rejected", 5).dedup_id is None
