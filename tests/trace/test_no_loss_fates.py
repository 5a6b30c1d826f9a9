"""`no_loss` judges each message's fate, never the count of its copies.

The unit tests feed hand-made trace batches (the events the core and the
consumers emit, in the order they emit them) to the checker; the end-to-end
tests run small scenarios on the local core and compare the verdict with the
fates in the trace.
"""

from __future__ import annotations

from typing import Any

import pytest

from evtool.core.events import TraceEvent as E
from evtool.scenario.loader import load_text
from evtool.scenario.models import Scenario
from evtool.sim.engine import Engine
from evtool.trace.checks import NoLoss

MS = 1_000_000

HEAD = """
evtool: "1"
id: fates
run: {seed: 1, duration: 2s, drain: {max: 1m}}
"""

SCENARIO = HEAD + """
channels:
  work: {kind: queue, dead_letter: dlq, ttl: 5s}
  capped: {kind: queue, max_deliveries: 3}
  unbounded: {kind: queue}
  news: {kind: topic}
  clicks: {kind: log}
  dlq: {kind: queue, role: dead_letter}
consumers:
  worker:
    from: work
    processing: 5ms
    retry: {max_attempts: 3, mode: republish, on_exhausted: drop}
  capper: {from: capped, processing: 5ms}
  plain: {from: unbounded, processing: 5ms}
  reader: {from: news, processing: 5ms}
  counter: {from: clicks, processing: 5ms}
expect:
  - {name: all, check: no_loss}
"""


def scenario(text: str = SCENARIO) -> Scenario:
    return load_text(text, "t.yaml").model


def judge(events: list[E], *, channel: str | None = None, drain: str = "complete",
          text: str = SCENARIO, **spec: Any) -> dict[str, Any]:
    """Fold `events` into a NoLoss checker (in two batches, to cross a batch edge) and return its verdict."""
    from evtool.scenario import models as m
    check = NoLoss(m.NoLossCheck(check="no_loss", channel=channel, **spec), "all", scenario(text))
    half = len(events) // 2
    check.consume(events[:half])
    check.consume(events[half:])
    return check.result(events[-1].t if events else 0, drain)


def published(t: int, mid: str, ch: str = "work") -> E:
    return E(t, "published", mid, ch, "load")


def delivered(t: int, mid: str, ch: str = "work", actor: str = "worker", attempt: int = 1) -> E:
    return E(t, "delivered" if attempt == 1 else "redelivered", mid, ch, actor, 0, None, attempt)


def handled(t: int, mid: str, ch: str = "work", actor: str = "worker", **data: Any) -> E:
    return E(t, "handled", mid, ch, actor, 0, None, 1, None, {"latency": 1, "processing": 1, **data})


def acked(t: int, mid: str, ch: str = "work", actor: str = "worker", **data: Any) -> E:
    return E(t, "acked", mid, ch, actor, 0, None, 1, None, data or None)


def life(t: int, mid: str, ch: str = "work", actor: str = "worker") -> list[E]:
    """A message published, delivered, handled and acked (manual ack)."""
    return [published(t, mid, ch), delivered(t + 1, mid, ch, actor), handled(t + 5 * MS, mid, ch, actor),
            acked(t + 5 * MS, mid, ch, actor)]


def republished_then(t: int, mid: str, then: list[E]) -> list[E]:
    """`mid` fails once with `retry.mode: republish`: the consumer acks the delivery as a hand-off and
    publishes a copy with the same id later; `then` is what happens to that copy."""
    return [
        published(t, mid), delivered(t + 1, mid),
        E(t + 2, "failed", mid, "work", "worker", 0, None, 1, None, {"error": "Flaky", "retryable": True}),
        E(t + 2, "retry_scheduled", mid, "work", "worker", 0, None, 1, None,
          {"delay": 10 * MS, "mode": "republish", "attempt": 2}),
        acked(t + 2, mid),
        *then,
    ]


# ------------------------------------------------------------------ fates that end a message's life

def test_handled_and_acked_messages_pass() -> None:
    r = judge(life(0, "m1") + life(10 * MS, "m2"))
    assert r["status"] == "pass", r
    assert "2" in r["observed"]


def test_a_republished_copy_swallowed_as_a_duplicate_is_lost() -> None:
    """The JetStream case of the issue: the hand-off ack is not a fate; the copy never enters."""
    events = life(0, "m1") + republished_then(20 * MS, "m2", [
        E(40 * MS, "duplicate_dropped", "m2", "work", "worker", None, None, 0, None, {"window_ends": 10**11}),
    ])
    r = judge(events)
    assert r["status"] == "fail", r
    assert r["evidence"] == ["m2"]
    assert "duplicate" in r["observed"]


def test_a_republished_copy_that_is_handled_passes() -> None:
    events = republished_then(0, "m1", [
        published(20 * MS, "m1"), delivered(21 * MS, "m1"), handled(25 * MS, "m1"), acked(25 * MS, "m1"),
    ])
    r = judge(events)
    assert r["status"] == "pass", r


def test_a_hand_off_whose_copy_never_arrives_is_not_a_pass() -> None:
    """The ack handed the message to a copy that the trace never shows: no fate is visible."""
    r = judge(republished_then(0, "m1", []))
    assert r["status"] in ("fail", "unknown"), r
    assert r["status"] != "pass"
    assert r["evidence"] == ["m1"]


def test_a_duplicate_of_a_handled_copy_may_be_swallowed() -> None:
    """A re-send dropped by the dedup window while the first copy was handled is no loss."""
    events = life(0, "m1") + [E(3 * MS, "duplicate_dropped", "m1", "work", "load", None, None, 0, None,
                                {"window_ends": 10**11})]
    assert judge(events)["status"] == "pass"


def test_a_republished_copy_refused_at_publish_is_lost() -> None:
    events = republished_then(0, "m1", [
        E(20 * MS, "publish_rejected", "m1", "work", "worker", None, None, 0, None,
          {"reason": "broker_unavailable"}),
    ])
    r = judge(events)
    assert r["status"] == "fail", r
    assert r["evidence"] == ["m1"]


def test_a_producer_publish_refused_at_the_door_never_entered() -> None:
    events = life(0, "m1") + [
        published(10 * MS, "m2"),
        E(10 * MS, "publish_rejected", "m2", "work", "load", None, None, 0, None, {"reason": "capacity"}),
    ]
    r = judge(events)
    assert r["status"] == "pass", r
    assert "refused" in r["observed"]


def test_kept_by_the_broker_at_max_deliveries_is_not_handled() -> None:
    """JetStream keeps a message at MaxDeliver in the stream with an advisory; no consumer sees it again."""
    events = life(0, "m1") + [
        published(10 * MS, "m2"), delivered(11 * MS, "m2"),
        E(12 * MS, "returned", "m2", "work", "worker", 0, None, 1, None, {"reason": "nack"}),
        E(13 * MS, "max_deliveries_reached", "m2", "work", None, None, None, 1, None, {"count": 1, "limit": 1}),
    ]
    r = judge(events)
    assert r["status"] == "fail", r
    assert r["evidence"] == ["m2"]
    assert "kept" in r["observed"]


@pytest.mark.parametrize("reason", ["overflow", "broker_restart", "subscription_deleted", "dead_letter_cycle",
                                    "rejected"])
def test_broker_drops_nobody_declared_are_losses(reason: str) -> None:
    events = life(0, "m1") + [
        published(10 * MS, "m2"),
        E(11 * MS, "dropped", "m2", "work", None, None, None, 0, None, {"reason": reason}),
    ]
    r = judge(events)
    assert r["status"] == "fail", r
    assert r["evidence"] == ["m2"]


def test_a_drop_at_a_declared_delivery_limit_is_a_fate() -> None:
    """`capped` declares `max_deliveries: 3`: dropping there is the scenario's policy."""
    events = life(0, "m1", "capped", "capper") + [
        published(10 * MS, "m2", "capped"),
        E(11 * MS, "dropped", "m2", "capped", None, None, None, 3, None, {"reason": "max_deliveries"}),
    ]
    r = judge(events, channel="capped")
    assert r["status"] == "pass", r


def test_a_drop_at_a_delivery_limit_nobody_declared_is_a_loss() -> None:
    """`unbounded` declares no limit: a limit from the profile alone is no declared policy."""
    events = life(0, "m1", "unbounded", "plain") + [
        published(10 * MS, "m2", "unbounded"),
        E(11 * MS, "dropped", "m2", "unbounded", None, None, None, 5, None, {"reason": "max_deliveries"}),
    ]
    r = judge(events, channel="unbounded")
    assert r["status"] == "fail", r
    assert r["evidence"] == ["m2"]


def test_on_exhausted_drop_is_a_declared_fate() -> None:
    """`worker` declares `on_exhausted: drop`: it acks, then reports the drop (the ack is not a handling)."""
    events = life(0, "m1") + [
        published(10 * MS, "m2"), delivered(11 * MS, "m2"),
        E(12 * MS, "failed", "m2", "work", "worker", 0, None, 3, None, {"error": "X", "retryable": False}),
        acked(12 * MS, "m2"),
        E(12 * MS, "dropped", "m2", "work", "worker", 0, None, 3, None, {"reason": "retries_exhausted"}),
    ]
    r = judge(events)
    assert r["status"] == "pass", r
    assert "dropped" in r["observed"]


def test_an_auto_ack_whose_handler_never_finished_is_lost() -> None:
    """`ack: auto` acks at delivery; a crash (or a failure) before `handled` loses the message."""
    events = [
        published(0, "m1", "unbounded"), delivered(1, "m1", "unbounded", "plain"),
        acked(1, "m1", "unbounded", "plain"), handled(5 * MS, "m1", "unbounded", "plain"),
        published(10 * MS, "m2", "unbounded"), delivered(11 * MS, "m2", "unbounded", "plain"),
        acked(11 * MS, "m2", "unbounded", "plain"),
        E(12 * MS, "instance_crashed", None, None, "plain", 0),
    ]
    r = judge(events, channel="unbounded")
    assert r["status"] == "fail", r
    assert r["evidence"] == ["m2"]


def test_expired_then_dead_lettered_is_one_fate() -> None:
    """With a dead-letter target an expiry is reported twice (expired, then dead_lettered): one copy."""
    events = [
        published(0, "m1"), published(0, "m1"),  # two copies of one id (a duplicate fault)
        E(6_000 * MS, "expired", "m1", "work"),
        E(6_000 * MS, "dead_lettered", "m1", "work", None, None, None, 0, None,
          {"reason": "expired", "target": "dlq"}),
    ]
    r = judge(events)
    # the second copy is still unaccounted for: no fate of it is in the trace
    assert r["status"] != "pass", r
    assert r["evidence"] == ["m1"]


def test_expired_by_the_declared_ttl_is_a_fate() -> None:
    events = life(0, "m1") + [published(1 * MS, "m2"), E(6_000 * MS, "expired", "m2", "work")]
    assert judge(events)["status"] == "pass"


def test_dead_letters_count_as_handled_only_when_asked() -> None:
    events = life(0, "m1") + [
        published(1 * MS, "m2"), delivered(2 * MS, "m2"),
        E(3 * MS, "rejected", "m2", "work", "worker", 0, None, 1),
        E(3 * MS, "dead_lettered", "m2", "work", "worker", 0, None, 1, None, {"reason": "rejected", "target": "dlq"}),
    ]
    assert judge(events)["status"] == "pass"
    r = judge(events, count_dead_letters_as_handled=False)
    assert r["status"] == "fail" and r["evidence"] == ["m2"]


def test_a_message_with_no_fate_after_a_complete_drain_is_never_a_pass() -> None:
    """Removed silently: the drain says nothing is left, the trace shows no fate."""
    events = life(0, "m1") + [published(1 * MS, "m2"), delivered(2 * MS, "m2")]
    r = judge(events)
    assert r["status"] in ("fail", "unknown") and r["evidence"] == ["m2"]
    assert judge(events, drain="timed_out")["status"] == "unknown"


def test_each_topic_subscription_copy_needs_its_own_fate() -> None:
    """Two subscriptions of `news` get a copy each; one handled copy does not account for the other."""
    events = [
        published(0, "m1", "news"),
        E(0, "enqueued", "m1", "news", None, None, None, 0, None, {"reason": "topic"}),
        E(0, "enqueued", "m1", "news", None, None, None, 0, None, {"reason": "topic"}),
        delivered(1, "m1", "news", "reader"), handled(2, "m1", "news", "reader"), acked(2, "m1", "news", "reader"),
        E(3, "dropped", "m1", "news", None, None, None, 0, None, {"reason": "subscription_deleted"}),
    ]
    r = judge(events, channel="news")
    assert r["status"] == "fail", r
    assert r["evidence"] == ["m1"]


def test_a_log_record_acked_by_two_groups_is_one_message() -> None:
    events = [
        E(0, "published", "m1", "clicks", "load", None, None, 0, None, {"partition": 0, "offset": 0}),
        delivered(1, "m1", "clicks", "counter"), handled(2, "m1", "clicks", "counter"),
        acked(2, "m1", "clicks", "counter", group="counter"),
        delivered(3, "m1", "clicks", "other"), handled(4, "m1", "clicks", "other"),
        acked(4, "m1", "clicks", "other", group="other"),
    ]
    r = judge(events, channel="clicks")
    assert r["status"] == "pass", r


def test_a_publish_dropped_by_a_fault_is_lost() -> None:
    events = life(0, "m1") + [E(1, "dropped", "m2", "work", "load", None, None, 0, None,
                                {"reason": "fault", "fault": "link"})]
    r = judge(events)
    assert r["status"] == "fail" and r["evidence"] == ["m2"]


def test_nothing_entered_is_unknown() -> None:
    assert judge([E(0, "load_ended")])["status"] == "unknown"


# ------------------------------------------------------------------ end to end, on the local core

def run_checks(text: str) -> tuple[dict[str, Any], list[E]]:
    events: list[E] = []
    engine = Engine(load_text(text, "t.yaml"), listeners=[events.extend])
    outcome = engine.run()
    assert outcome.drain == "complete"
    return next(c for c in outcome.checks if c["check"] == "no_loss"), events


NATS_REPUBLISH = HEAD + """
broker: {profile: nats-jetstream}
channels:
  work: {kind: queue}
producers:
  load: {to: work, arrival: {process: constant, rate: 10/s}}
consumers:
  worker:
    from: work
    processing: 5ms
    fail_if: [{probability: 0.3, error: Flaky}]
    retry: {max_attempts: 5, mode: republish, backoff: {type: constant, delay: 10ms}, on_exhausted: dead_letter}
expect:
  - {name: all, check: no_loss, channel: work}
"""


def test_end_to_end_republish_under_jetstream_judges_the_copies() -> None:
    """Whatever the core does with a republished copy, the verdict follows its fate.

    Today the core keys JetStream's dedup window on the message id, so a copy republished with the
    same id inside the 2-minute window is dropped as `duplicate_dropped` and the message is lost
    (no_loss must fail and name it). Once the core keys dedup on `dedup_id` (never inherited by a
    republish), the copies enter, are handled, and no_loss passes.
    """
    result, events = run_checks(NATS_REPUBLISH)
    swallowed = {ev.msg for ev in events if ev.kind == "duplicate_dropped"}
    handled_ids = {ev.msg for ev in events if ev.kind == "handled"}
    lost = sorted(swallowed - handled_ids)
    if lost:
        assert result["status"] == "fail", result
        assert result["evidence"] == lost[:10]
    else:
        assert result["status"] == "pass", result


NATS_KEPT = HEAD + """
broker: {profile: nats-jetstream}
channels:
  work: {kind: queue, max_deliveries: 2}
producers:
  load: {to: work, arrival: {process: constant, rate: 10/s}}
consumers:
  worker:
    from: work
    processing: 5ms
    fail_if: [{probability: 0.5, error: Flaky}]
    retry: {max_attempts: 10, mode: redeliver, backoff: {type: constant, delay: 10ms}, on_exhausted: dead_letter}
expect:
  - {name: all, check: no_loss, channel: work}
"""


def test_end_to_end_kept_at_max_deliveries_under_jetstream_fails() -> None:
    """JetStream keeps a message that reached MaxDeliver in the stream (an advisory is sent); no consumer
    of the durable sees it again, so it was not handled.

    NATS docs (https://docs.nats.io/using-nats/developer/develop_jetstream/consumers): "If a message
    reaches its maximum level of delivery attempts, it will still stay in the stream until it is
    manually deleted or manually acknowledged." Checked on the NATS 2.9.10 here with nats-py: a pull
    consumer with max_deliver=2 that naks got 2 deliveries, then an `io.nats.jetstream.advisory.v1.
    max_deliver` advisory, and the stream still held the message (state.messages == 1).
    """
    result, events = run_checks(NATS_KEPT)
    kept = sorted({ev.msg for ev in events if ev.kind == "max_deliveries_reached"})
    assert kept, "the scenario should keep some messages at max_deliveries"
    assert result["status"] == "fail", result
    assert result["evidence"] == kept[:10]


DROP_HEAD = HEAD + """
channels:
  work: {kind: queue, capacity: 3, overflow: drop_head}
producers:
  load: {to: work, arrival: {process: constant, rate: 100/s}}
consumers:
  worker: {from: work, processing: 50ms}
expect:
  - {name: all, check: no_loss, channel: work}
"""


def test_end_to_end_overflow_drops_are_losses() -> None:
    """`overflow: drop_head` sheds the oldest messages: declared, but they are lost all the same."""
    result, events = run_checks(DROP_HEAD)
    dropped = sorted({ev.msg for ev in events if ev.kind == "dropped"})
    assert dropped
    assert result["status"] == "fail", result
    assert set(result["evidence"]) <= set(dropped)
    assert f"{len(dropped)} " in result["observed"]


def test_group_judges_only_that_groups_copies() -> None:
    """`group:` was ignored: each group's subscription copy is judged on its own."""
    events = [
        published(0, "m1", "news"),
        E(0, "enqueued", "m1", "news", None, None, None, 0, None, {"reason": "topic", "group": "reader"}),
        E(0, "enqueued", "m1", "news", None, None, None, 0, None, {"reason": "topic", "group": "audit"}),
        delivered(1, "m1", "news", "reader"), handled(2, "m1", "news", "reader"),
        acked(2, "m1", "news", "reader", group="reader"),
        E(3, "dropped", "m1", "news", None, None, None, 0, None, {"reason": "overflow", "group": "audit"}),
    ]
    assert judge(events, channel="news", group="reader")["status"] == "pass"
    assert judge(events, channel="news", group="audit")["status"] == "fail"
    assert judge(events, channel="news")["status"] == "fail"


def test_settled_messages_are_forgotten() -> None:
    """The ledger holds only messages without a fate: memory follows the work in flight, not the run."""
    from evtool.scenario import models as m
    check = NoLoss(m.NoLossCheck(check="no_loss", channel="clicks"), "all", scenario())
    for i in range(50):
        t = i * 10 * MS
        check.consume([
            E(t, "published", f"m{i}", "clicks", "load", None, None, 0, None, {"partition": 0, "offset": i}),
            delivered(t + 1, f"m{i}", "clicks", "counter"), handled(t + 2, f"m{i}", "clicks", "counter"),
            acked(t + 2, f"m{i}", "clicks", "counter", group="counter"),
            handled(t + 3, f"m{i}", "clicks", "counter"), acked(t + 3, f"m{i}", "clicks", "counter", group="g2"),
        ])
    assert len(check.ledger.copies) <= 1
    assert check.result(500 * MS, "complete")["status"] == "pass"


def test_a_retry_of_a_consumed_request_leaves_nothing_behind() -> None:
    """A requester's timeout retry (`retry_scheduled`, mode republish, by the pattern) of a request the
    responder already handled opens no hand-off: nothing stays pending or remembered."""
    from evtool.scenario import models as m
    check = NoLoss(m.NoLossCheck(check="no_loss", channel="work"), "all", scenario())
    check.consume(life(0, "m1") + [E(MS * 100, "retry_scheduled", "m1", "work", "quote", None, None, 1, None,
                                     {"delay": MS, "mode": "republish"})])
    check.consume([E(MS * 200, "load_ended")])
    assert not check.ledger.copies
    assert check.result(MS * 200, "complete")["status"] == "pass"


ROUTED_TO_LOG = HEAD + """
channels:
  fan: {kind: router, type: fanout, bindings: [{to: clicks}, {to: jobs}]}
  clicks: {kind: log, partitions: 2}
  jobs: {kind: queue}
producers:
  load: {to: fan, arrival: {process: constant, rate: 20/s}}
consumers:
  counter: {from: clicks, processing: 5ms}
  worker: {from: jobs, processing: 5ms}
expect:
  - {name: all, check: no_loss}
  - {name: log, check: no_loss, channel: clicks, group: counter}
"""


def test_end_to_end_a_router_into_a_log_is_one_arrival() -> None:
    """A router forwarding into a log reports `routed` and then `enqueued` (reason routed): one message."""
    events: list[E] = []
    outcome = Engine(load_text(ROUTED_TO_LOG, "t.yaml"), listeners=[events.extend]).run()
    assert any(ev.kind == "enqueued" and ev.channel == "clicks" for ev in events)
    results = {c["name"]: c for c in outcome.checks}
    assert results["all"]["status"] == "pass", results["all"]
    assert results["log"]["status"] == "pass", results["log"]
    published = sum(1 for ev in events if ev.kind == "published" and ev.channel == "fan")
    assert f"all {2 * published} accounted for" in results["all"]["observed"]


def test_every_trace_kind_has_a_decided_fate() -> None:
    """The fate table (NoLoss's docstring and the `no_loss` description in the docs) names every kind of
    the vocabulary, so a new kind cannot slip past `no_loss` undecided."""
    import re
    from pathlib import Path

    from evtool.core.events import KINDS

    doc = Path(__file__).resolve().parents[2] / "docs" / "scenario-language.md"
    text = doc.read_text(encoding="utf-8")
    section = text[text.index("`no_loss` follows every copy"):text.index("<!-- model: DeadLettersCheck -->")]
    for where, body in (("NoLoss docstring", NoLoss.__doc__ or ""), ("docs", section)):
        words = set(re.findall(r"[a-z_]+\*?", body))
        undecided = [k for k in KINDS if k not in words and f"{k.split('_')[0]}_*" not in words]
        assert not undecided, f"{where} does not decide {undecided}"
