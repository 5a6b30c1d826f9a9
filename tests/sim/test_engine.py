"""The engine: determinism, phases, actors and faults, judged from the trace."""

from __future__ import annotations

import math

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.sim.kernel import Kernel
from evtool.sim.pacing import Pacer
from evtool.sim.rng import stream

BASIC = """
evtool: "1"
id: basic
run: {seed: 3, duration: 10s, drain: {max: 30s}}
channels:
  work: {kind: queue, dead_letter: dlq}
  dlq: {kind: queue, role: dead_letter}
producers:
  load: {to: work, arrival: {process: poisson, rate: 50/s}, key: {dist: uniform, space: 10}}
consumers:
  worker:
    from: work
    instances: 2
    processing: {dist: exponential, mean: 20ms}
    fail_if: [{probability: 0.1, error: Flaky}]
    retry: {max_attempts: 3, backoff: {type: exponential, initial: 100ms, jitter: full}, on_exhausted: dead_letter}
expect:
  - {name: all, check: no_loss, channel: work}
"""


def run(text: str = BASIC, **kw) -> tuple[Engine, list[TraceEvent]]:
    events: list[TraceEvent] = []
    engine = Engine(load_text(text, "t.yaml"), listeners=[events.extend], **kw)
    engine.run()
    return engine, events


def test_same_seed_same_digest() -> None:
    """Same scenario and seed give the same trace, byte for byte (PRODUCT.md principle 2)."""
    a, _ = run()
    b, _ = run()
    assert a.digest.hexdigest() == b.digest.hexdigest()
    assert a.digest.count == b.digest.count > 100


def test_other_seed_other_digest() -> None:
    """A different seed draws different arrivals and failures."""
    a, _ = run()
    b, _ = run(seed=4)
    assert a.digest.hexdigest() != b.digest.hexdigest()


def test_pacing_never_changes_the_trace() -> None:
    """Running in small slices, stepping event by event, or all at once gives one digest."""
    whole, _ = run()
    sliced = Engine(load_text(BASIC, "t.yaml"))
    t = 0
    while sliced.run_until(t, max_events=7):
        t += 123_456_789
    sliced.finish()
    stepped = Engine(load_text(BASIC, "t.yaml"))
    while stepped.step():
        pass
    stepped.finish()
    assert sliced.digest.hexdigest() == whole.digest.hexdigest()
    assert stepped.digest.hexdigest() == whole.digest.hexdigest()


def test_pacer_follows_the_wall_clock_at_its_speed() -> None:
    """At speed 2, one wall second advances two virtual seconds; pausing stops virtual time."""
    engine = Engine(load_text(BASIC, "t.yaml"))
    pacer = Pacer(engine, speed=2.0)
    engine.start()
    pacer.start(100.0)
    pacer.advance(101.0)
    assert engine.now == pytest.approx(2_000_000_000, abs=1)
    pacer.pause()
    pacer.advance(105.0)
    assert engine.now == pytest.approx(2_000_000_000, abs=1)
    pacer.resume(105.0)
    pacer.advance(105.5)
    assert engine.now == pytest.approx(3_000_000_000, abs=1)
    pacer.set_speed(math.inf, 106.0)
    pacer.advance(106.0, max_events=10**9)
    assert engine.phase == "done"


def test_streams_are_independent_per_component() -> None:
    """Adding a consumer does not change what a producer draws (one stream per component name)."""
    assert stream(1, "producer:a/arrival").random() == stream(1, "producer:a/arrival").random()
    assert stream(1, "producer:a/arrival").random() != stream(1, "producer:b/arrival").random()
    more = BASIC.replace("consumers:\n", "consumers:\n  audit: {from: dlq}\n")
    _, ev1 = run()
    _, ev2 = run(more)
    pub1 = [(e.t, e.msg, e.key) for e in ev1 if e.kind == "published" and e.channel == "work"]
    pub2 = [(e.t, e.msg, e.key) for e in ev2 if e.kind == "published" and e.channel == "work"]
    assert pub1 == pub2


def test_load_then_drain_then_done() -> None:
    """Producers stop at the end of the load phase; the drain ends when nothing is pending."""
    engine, events = run()
    kinds = [e.kind for e in events]
    assert kinds.index("load_ended") < kinds.index("drain_ended") < kinds.index("run_ended")
    last_publish = max(e.t for e in events if e.kind == "published" and e.channel == "work")
    assert last_publish <= 10_000_000_000
    assert engine.drain_result == "complete"
    assert engine.broker.idle()


def test_drain_timeout_makes_no_loss_unknown() -> None:
    """A drain that cannot finish is reported, and loss checks become unknown, never a silent pass."""
    slow = BASIC.replace("drain: {max: 30s}", "drain: {max: 1s}").replace("mean: 20ms", "mean: 2s")
    engine, events = run(slow)
    out = engine.finish()
    assert out.drain == "timed_out"
    assert any(e.kind == "drain_timed_out" for e in events)
    assert out.checks[0]["status"] == "unknown"
    assert out.outcome == "unknown"


def test_retries_follow_the_policy() -> None:
    """max_attempts counts every delivery: no message is delivered more than 3 times."""
    _, events = run()
    deliveries: dict[str, int] = {}
    for e in events:
        if e.kind in ("delivered", "redelivered") and e.channel == "work":
            deliveries[e.msg] = deliveries.get(e.msg, 0) + 1
    assert max(deliveries.values()) <= 3
    dead = {e.msg for e in events if e.kind == "dead_lettered"}
    assert all(deliveries[m] == 3 for m in dead)


def test_crash_returns_unacked_messages_and_restart_resubscribes() -> None:
    """A crashed instance's in-flight messages go back to the queue and are redelivered (at-least-once)."""
    text = BASIC + """
faults:
  - {name: kill, at: 2s, action: crash, target: "consumer:worker#0", restart_after: 3s}
"""
    engine, events = run(text)
    kinds = [(e.kind, e.actor, e.instance) for e in events]
    assert ("instance_crashed", "worker", 0) in kinds
    assert ("instance_restarted", "worker", 0) in kinds
    crash_t = next(e.t for e in events if e.kind == "instance_crashed")
    returned = [e for e in events if e.kind == "returned" and e.t == crash_t]
    redelivered = {e.msg for e in events if e.kind == "redelivered"}
    assert returned, "the crashed instance had unacked messages"
    assert {e.msg for e in returned} <= redelivered
    assert engine.finish().checks[0]["status"] == "pass"


def test_hand_injected_fault_is_recorded_and_replays() -> None:
    """A fault injected by hand is a user_intervention in the trace; replaying it gives the same digest."""
    live = Engine(load_text(BASIC, "t.yaml"))
    live.run_until(4_000_000_000)
    live.inject_fault("pause", "consumer:worker#1", **{"for": "2s"})
    live.run()
    assert any(kind == "fault" for _, kind, _ in live.interventions)
    replay = Engine(load_text(BASIC, "t.yaml"))
    replay.schedule_interventions(live.interventions)
    replay.run()
    assert replay.digest.hexdigest() == live.digest.hexdigest()


def test_kernel_orders_by_time_priority_sequence() -> None:
    """Ties break by priority, then by insertion order (no heap-order nondeterminism)."""
    k = Kernel()
    seen: list[str] = []
    k.at(5, seen.append, "b", prio=2)
    k.at(5, seen.append, "a", prio=1)
    k.at(5, seen.append, "c", prio=2)
    k.at(1, seen.append, "first", prio=9)
    while k.step():
        pass
    assert seen == ["first", "a", "b", "c"]
    assert k.now == 5


def test_per_key_order_holds_with_one_instance_and_breaks_with_competitors() -> None:
    """Competing consumers reorder a key's messages; one consumer with in-place retry keeps them in order."""
    text = """
evtool: "1"
id: order
run: {seed: 5, duration: 20s, drain: {max: 1m}}
channels:
  q: {kind: queue}
producers:
  p: {to: q, arrival: {process: poisson, rate: 40/s}, key: {dist: uniform, space: 3}, sequence: per_key}
consumers:
  c:
    from: q
    instances: INSTANCES
    processing: {dist: exponential, mean: 30ms}
expect:
  - {name: order, check: per_key_order, consumer: c}
"""
    one, _ = run(text.replace("INSTANCES", "1"))
    many, _ = run(text.replace("INSTANCES", "4"))
    assert one.finish().checks[0]["status"] == "pass"
    assert many.finish().checks[0]["status"] == "fail"


BATCH = """
evtool: "1"
id: batching
run: {seed: 2, duration: 20s, drain: {max: 1m}}
channels:
  q: {kind: queue}
producers:
  p: {to: q, arrival: {process: constant, rate: 100/s}}
consumers:
  c:
    from: q
    processing: 20ms
    BATCH
expect:
  - {name: all, check: no_loss, channel: q}
"""


def test_batching_trades_latency_for_throughput() -> None:
    """One processing time per batch: fewer handler runs, each message waits for its batch to fill."""
    single, _ = run(BATCH.replace("BATCH", ""))
    batched, events = run(BATCH.replace("BATCH", "batch: {size: 10, max_wait: 200ms}"))
    sizes = [e.data["size"] for e in events if e.kind == "batch_handled"]
    published = sum(1 for e in events if e.kind == "published")
    assert sizes and max(sizes) == 10 and sum(sizes) == published > 1900
    assert batched.finish().checks[0]["status"] == "pass"
    s1 = single.metrics.summary(single.view)
    s2 = batched.metrics.summary(batched.view)
    # one consumer at 20 ms per message cannot keep up with 100/s; batching can
    assert s1["latency_ms"]["p50"] > 1000 > s2["latency_ms"]["p50"] > 20


FEATURES = """
evtool: "1"
id: features
run: {seed: 1, duration: 20s, drain: {max: 1m}}
channels:
  news: {kind: topic}
  work: {kind: queue, dead_letter: dlq}
  dlq: {kind: queue, role: dead_letter}
producers:
  press: {to: news, arrival: {process: constant, rate: 10/s}}
  jobs: {to: work, arrival: {process: constant, rate: 10/s}, count: 50}
consumers:
  early: {from: news}
  late: {from: news, start: 10s}
  worker:
    from: work
    fail_if: [{when: "now < 8000000000", error: NotReady}]
faults:
  - {name: redrive-all, at: 15s, action: redrive, target: "channel:dlq"}
alerts:
  - {name: failing, that: "count(failed{consumer=worker}) > 5"}
"""


def test_late_subscriber_misses_earlier_messages() -> None:
    """A topic subscription made at 10s sees only what is published from then on."""
    _, events = run(FEATURES)
    early = sum(1 for e in events if e.kind == "handled" and e.actor == "early")
    late = sum(1 for e in events if e.kind == "handled" and e.actor == "late")
    assert early == 200 - 1 or early == 200
    assert 95 <= late <= 101


def test_scheduled_redrive_and_alerts() -> None:
    """Dead letters go back at 15s and are handled; the alert fires once when failures pass 5."""
    _, events = run(FEATURES)
    dead = {e.msg for e in events if e.kind == "dead_lettered"}
    assert dead
    redriven_handled = {e.msg for e in events if e.kind == "handled" and e.actor == "worker" and e.msg in dead}
    assert redriven_handled == dead
    alerts = [e for e in events if e.kind == "alert_raised"]
    assert len(alerts) == 1 and alerts[0].actor == "failing"


def test_throughput_gauge_follows_the_arrival_rate() -> None:
    """throughput{consumer=c} is messages handled per second between samples: about the 100/s offered."""
    text = BATCH.replace("BATCH", "batch: {size: 10, max_wait: 200ms}") + \
        "  - {name: fast, that: 'avg(throughput{consumer=c}) > 80/s'}\n" + \
        "  - {name: none, that: 'max(throughput{consumer=\"nobody\"}) > 1/s'}\n"  # quoted: no such consumer, on purpose
    engine, _ = run(text)
    checks = {c["name"]: c for c in engine.finish().checks}
    assert checks["fast"]["status"] == "pass"
    assert checks["none"]["status"] == "fail"
