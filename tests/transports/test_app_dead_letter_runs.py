"""An application dead letter on a real broker: the consumer publishes the message to its own dead-letter channel
(`Message.with_death` + `republish`, so it carries its death in the body). It is reported once, by the
application: the transport must not take the carried death for the broker's own dead-lettering (RabbitMQ's
`x-death` header is the broker's report; a message without it was not dead-lettered by RabbitMQ)."""

from __future__ import annotations

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.transports.runner import run_on_transport

from .scenarios import text

pytestmark = pytest.mark.broker

APP_DLQ = """
evtool: "1"
id: t-app-dlq
run: {seed: 1, duration: 1s, drain: {max: 15s}}
broker: {profile: PROFILE}
channels:
  orders: {kind: queue, dead_letter: orders.dlq}
  orders.dlq: {kind: queue, role: dead_letter}
producers:
  p: {to: orders, arrival: {process: once}, count: 2}
consumers:
  billing:
    from: orders
    processing: 1ms
    fail_if:
      - {when: "now >= 0", error: GatewayDown}
    retry: {max_attempts: 2, backoff: {type: constant, delay: 10ms}, on_exhausted: dead_letter}
    dead_letter: orders.dlq
expect:
  - {name: nothing-lost, check: no_loss}
  - {name: two-dead-letters, check: dead_letters, channel: orders.dlq, count: 2}
"""


def test_an_application_dead_letter_is_reported_once(broker: tuple[str, str]) -> None:
    transport, url = broker
    trace: list[TraceEvent] = []
    real = run_on_transport(load_text(text(APP_DLQ, transport)), transport, url=url, listeners=[trace.extend])
    assert real.extra["problems"] == []
    dead = [(e.msg, (e.data or {}).get("by")) for e in trace if e.kind == "dead_lettered"]
    assert sorted(dead) == [("p-1", "application"), ("p-2", "application")]
    assert {c["name"]: c["status"] for c in real.checks} == {"nothing-lost": "pass", "two-dead-letters": "pass"}


@pytest.mark.parametrize(("transport", "profile", "fixture"),
                         [("kafka", "kafka", "kafka_url"), ("sqs", "sqs-standard", "sqs_url")])
def test_an_application_dead_letter_is_reported_once_on_kafka_and_sqs(transport: str, profile: str, fixture: str,
                                                                     request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(fixture)
    trace: list[TraceEvent] = []
    real = run_on_transport(load_text(APP_DLQ.replace("PROFILE", profile)), transport, url=url,
                            listeners=[trace.extend])
    assert real.extra["problems"] == []
    dead = [(e.msg, (e.data or {}).get("by")) for e in trace if e.kind == "dead_lettered"]
    assert sorted(dead) == [("p-1", "application"), ("p-2", "application")]
    assert {c["name"]: c["status"] for c in real.checks} == {"nothing-lost": "pass", "two-dead-letters": "pass"}
