"""The four research examples (scenario-languages.md §4), run to the outcomes their stories describe."""

from __future__ import annotations

from pathlib import Path

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_scenario
from evtool.sim.engine import Engine

LESSONS = Path(__file__).resolve().parents[2] / "evtool" / "lessons"


def run(name: str) -> tuple[Engine, list[TraceEvent]]:
    events: list[TraceEvent] = []
    engine = Engine(load_scenario(LESSONS / f"{name}.yaml"), listeners=[events.extend])
    engine.run()
    return engine, events


def test_retries_story_three_poison_dead_letters_after_four_attempts() -> None:
    """Each POISON-n is delivered 4 times with growing full-jitter backoff, then dead-lettered; nothing else is."""
    _, events = run("retries-dlq-poison")
    dead = [e for e in events if e.kind == "dead_lettered"]
    assert sorted(e.msg for e in dead) == ["POISON-1", "POISON-2", "POISON-3"]
    for msg in ("POISON-1", "POISON-2", "POISON-3"):
        deliveries = [e for e in events if e.msg == msg and e.kind in ("delivered", "redelivered")]
        assert [e.attempt for e in deliveries] == [1, 2, 3, 4]
        delays = [e.data["delay"] for e in events if e.msg == msg and e.kind == "retry_scheduled"]
        caps = [1_000_000_000, 2_000_000_000, 4_000_000_000]
        assert len(delays) == 3 and all(0 <= d <= c for d, c in zip(delays, caps, strict=True))
    transient = {e.msg for e in events if e.kind == "retry_scheduled" and e.tag != "poison"}
    handled = {e.msg for e in events if e.kind == "handled"}
    assert transient and transient <= handled


def test_partitioned_story_duplicates_but_no_reordering_after_the_crash() -> None:
    """The crash replays uncommitted records (duplicates) but never processes a new seq before an older one."""
    engine, events = run("partitioned-ordering")
    out = engine.finish()
    by_name = {c["name"]: c for c in out.checks}
    assert by_name["per-key-order"]["status"] == "pass"
    assert "replays" in by_name["per-key-order"]["observed"]
    crash_t = next(e.t for e in events if e.kind == "instance_crashed")
    assert any(e.kind == "redelivered" and e.t > crash_t for e in events)
    reasons = [e.data["reason"] for e in events if e.kind == "rebalanced" and e.t > 30_000_000_000]
    assert reasons == ["join", "session_timeout", "join"]


def test_request_reply_story_timeouts_and_late_replies_during_the_slowdown() -> None:
    """While pricing is slow, requests time out and their replies arrive late (orphans), then it recovers."""
    _, events = run("request-reply-timeout")
    start = next(e.t for e in events if e.kind == "fault_started" and e.actor == "slow-pricing")
    end = next(e.t for e in events if e.kind == "fault_ended" and e.actor == "slow-pricing")
    timeouts = [e.t for e in events if e.kind == "request_timed_out"]
    inside = sum(1 for t in timeouts if start <= t <= end)
    assert inside > len(timeouts) / 2
    assert any(e.kind == "reply_orphaned" for e in events)


def test_saga_story_compensates_in_reverse_and_conserves_stock() -> None:
    """Failed sagas compensate completed steps in reverse order; stock is conserved."""
    engine, events = run("order-saga")
    comp = [e for e in events if e.kind == "saga_compensated"]
    assert comp and all(e.data["order_ok"] for e in comp)
    inventory = engine.consumers["inventory"].state["stock"]
    shipped = engine.consumers["shipping"].state["shipped"]
    assert sum(inventory.values()) + sum(shipped.values()) == 2050
