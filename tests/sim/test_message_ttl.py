"""Per-message TTL: `ttl:` on a producer and on an injected message; with a channel TTL the lower wins.

RabbitMQ: "When both a per-queue and a per-message TTL are specified, the lower value between the two
will be chosen." (https://www.rabbitmq.com/docs/ttl#per-message-ttl-in-publishers). Checked on the
RabbitMQ 3.10.8 here with aio-pika: a queue with x-message-ttl 60 s holding a message published with
expiration 200 ms is empty after 0.6 s; a queue with x-message-ttl 200 ms holding a message with
expiration 60 s is empty after 0.6 s; with both at 60 s the message is still there.
"""

from __future__ import annotations

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

MS = 1_000_000

TTL = """
evtool: "1"
id: ttl
broker: {{profile: rabbitmq-classic}}
run: {{seed: 1, duration: 5s, drain: {{max: 1s}}}}
channels:
  work: {{kind: queue{queue_ttl}}}
producers:
  load:
    to: work
    arrival: {{process: once}}
    count: 1
{producer_ttl}    inject:
      - {{at: 1s, id: injected{inject_ttl}}}
"""


def expiries(queue_ttl: str | None, producer_ttl: str | None, inject_ttl: str | None) -> dict[str, int]:
    """Message id -> how long after its publish it expired (no consumer: each message waits at the head)."""
    text = TTL.format(queue_ttl=f", ttl: {queue_ttl}" if queue_ttl else "",
                      producer_ttl=f"    ttl: {producer_ttl}\n" if producer_ttl else "",
                      inject_ttl=f", ttl: {inject_ttl}" if inject_ttl else "")
    events: list[TraceEvent] = []
    Engine(load_text(text, "t.yaml"), listeners=[events.extend]).run()
    published = {e.msg: e.t for e in events if e.kind == "published"}
    return {e.msg: (e.t - published[e.msg]) // MS for e in events if e.kind == "expired"}


@pytest.mark.parametrize(("queue_ttl", "producer_ttl", "inject_ttl", "expected"), [
    (None, "200ms", None, {"load-1": 200, "injected": 200}),          # the producer's TTL, inherited
    ("2s", "200ms", None, {"load-1": 200, "injected": 200}),          # message lower than queue
    ("200ms", "2s", None, {"load-1": 200, "injected": 200}),          # queue lower than message
    (None, "200ms", "300ms", {"load-1": 200, "injected": 300}),       # an inject's own TTL wins over the producer's
    ("250ms", None, "100ms", {"load-1": 250, "injected": 100}),       # queue TTL alone, then lower inject TTL
    # Only the injected message has a TTL, but it waits behind load-1, which never expires: RabbitMQ
    # "only when expired messages reach the head of a queue will they actually be discarded"
    # (https://www.rabbitmq.com/docs/ttl, caveats), so nothing expires in this run.
    (None, None, "100ms", {}),
])
def test_the_lower_ttl_wins(queue_ttl: str | None, producer_ttl: str | None, inject_ttl: str | None,
                            expected: dict[str, int]) -> None:
    assert expiries(queue_ttl, producer_ttl, inject_ttl) == expected


def test_a_ttl_must_be_positive() -> None:
    """`ttl: 0s` would expire every message at once; the language asks for a duration > 0 (a located error)."""
    with pytest.raises(ScenarioError) as exc:
        load_text(TTL.format(queue_ttl="", producer_ttl="    ttl: 0s\n", inject_ttl=""), "t.yaml")
    assert "t.yaml:13:10" in str(exc.value) and "producers.load.ttl" in str(exc.value)
