"""Small real-time scenarios for transport tests (seconds, bounded counts)."""

from __future__ import annotations

POISON = """
evtool: "1"
id: t-poison
run: {seed: 1, duration: 1500ms, drain: {max: 15s}}
broker: {profile: PROFILE}
channels:
  orders: {kind: queue, max_deliveries: 2, dead_letter: orders.dlq}
  orders.dlq: {kind: queue, role: dead_letter}
producers:
  p:
    to: orders
    arrival: {process: constant, rate: 20/s}
    count: 20
    inject:
      - {at: 100ms, id: POISON-1, tag: poison, payload: {bad: true}}
consumers:
  billing:
    from: orders
    instances: 2
    prefetch: 5
    processing: 5ms
    fail_if:
      - {when: "msg.tag == 'poison'", error: ParseError}
    retry: {max_attempts: forever, mode: redeliver, on_exhausted: requeue}
    effects: [{inc: charged, by: 1}]
    state: {charged: 0}
expect:
  - {name: nothing-lost, check: no_loss, channel: orders}
  - {name: poison, check: dead_letters, channel: orders.dlq, count: 1, only_tags: [poison], attempts: ATTEMPTS}
  - {name: charged, that: "count(handled{consumer=billing}) == 19"}
"""

CRASH = """
evtool: "1"
id: t-crash
run: {seed: 2, duration: 2s, drain: {max: 15s}}
broker: {profile: PROFILE}
channels:
  jobs: {kind: queue, ack_timeout: 1s}
producers:
  p: {to: jobs, arrival: {process: constant, rate: 100/s}, count: 120}
consumers:
  workers:
    from: jobs
    instances: 3
    prefetch: 4
    processing: 60ms
faults:
  - {name: crash-1, at: 700ms, action: crash, target: "consumer:workers#1", restart_after: 500ms}
expect:
  - {name: nothing-lost, check: no_loss, channel: jobs}
  - {name: all-done, that: "count(handled{consumer=workers}) >= 120"}
  - {name: redelivered, that: "count(redelivered{channel=jobs}) > 0"}
"""

FANOUT = """
evtool: "1"
id: t-fanout
run: {seed: 3, duration: 1s, drain: {max: 10s}}
broker: {profile: PROFILE}
channels:
  events: {kind: router, type: topic, bindings: [{to: audit, pattern: "order.#"}, {to: billing, pattern: "order.k1"}]}
  audit: {kind: topic}
  billing: {kind: queue}
producers:
  shop:
    to: events
    arrival: {process: constant, rate: 30/s}
    count: 20
    key: {dist: round_robin, space: 2, format: "order.k{n}"}
consumers:
  audit-a: {from: audit, group: a, processing: 2ms}
  audit-b: {from: audit, group: b, processing: 2ms}
  payer: {from: billing, processing: 2ms}
expect:
  - {name: audit-a-all, that: "count(handled{consumer=audit-a}) == 20"}
  - {name: audit-b-all, that: "count(handled{consumer=audit-b}) == 20"}
  - {name: paid-only, that: "count(handled{consumer=payer}) == 10"}
"""

PROFILES = {"rabbitmq": "rabbitmq-quorum", "nats": "nats-jetstream", "redis": "redis-streams"}
"""The core profile each broker is compared with."""

POISON_ATTEMPTS = {"rabbitmq": 3, "nats": 2, "redis": 2}
"""Deliveries of the poison message before it dies with max_deliveries 2 (RabbitMQ counts returns)."""


def text(template: str, transport: str, **extra: str) -> str:
    """A scenario for `transport` (its profile filled in)."""
    out = template.replace("PROFILE", PROFILES[transport])
    for k, v in extra.items():
        out = out.replace(k, v)
    return out
