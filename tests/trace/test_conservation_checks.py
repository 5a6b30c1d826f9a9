"""The other conservation-like checks judge messages, not copies (hand-made trace batches)."""

from __future__ import annotations

from typing import Any

from evtool.core.events import TraceEvent as E
from evtool.scenario import models as m
from evtool.trace.checks import DeadLetters, NoDuplicates

MS = 1_000_000


def republish_round(t: int, mid: str, attempt: int) -> list[E]:
    """One delivery of a copy that fails and is handed over to a republished copy (retry.mode: republish)."""
    return [
        E(t, "published", mid, "work", "worker" if attempt > 1 else "load"),
        E(t + 1, "delivered", mid, "work", "worker", 0, None, 1),
        E(t + 2, "failed", mid, "work", "worker", 0, None, 1, None, {"error": "Flaky", "retryable": True}),
        E(t + 2, "retry_scheduled", mid, "work", "worker", 0, None, 1, None,
          {"delay": MS, "mode": "republish", "attempt": attempt + 1}),
        E(t + 2, "acked", mid, "work", "worker", 0, None, 1),
    ]


def dead_letters(events: list[E], **spec: Any) -> dict[str, Any]:
    check = DeadLetters(m.DeadLettersCheck(check="dead_letters", channel="dlq", **spec), "dl")
    check.consume(events)
    return check.result(events[-1].t, "complete")


def test_dead_letter_attempts_count_across_republished_copies() -> None:
    """The hand-off ack of a republish is not the end of the message: its attempts keep counting."""
    events = republish_round(0, "m1", 1) + republish_round(10 * MS, "m1", 2) + [
        E(20 * MS, "published", "m1", "work", "worker"),
        E(20 * MS + 1, "delivered", "m1", "work", "worker", 0, None, 1),
        E(20 * MS + 2, "failed", "m1", "work", "worker", 0, None, 1, None, {"error": "Flaky", "retryable": True}),
        E(20 * MS + 2, "acked", "m1", "work", "worker", 0, None, 1),
        E(20 * MS + 2, "dead_lettered", "m1", "work", "worker", None, None, 1, None,
          {"reason": "rejected", "target": "dlq", "by": "application"}),
    ]
    r = dead_letters(events, attempts=3)
    assert r["status"] == "pass", r


def test_dead_letter_attempts_restart_after_a_handled_copy() -> None:
    """An ack after `handled` does end a message's attempts (a later copy with the same id starts over)."""
    events = [
        E(0, "published", "m1", "work", "load"),
        E(1, "delivered", "m1", "work", "worker", 0, None, 1),
        E(2, "handled", "m1", "work", "worker", 0, None, 1, None, {"latency": 2}),
        E(2, "acked", "m1", "work", "worker", 0, None, 1),
        E(3, "published", "m1", "work", "load"),
        E(4, "delivered", "m1", "work", "worker", 0, None, 1),
        E(5, "rejected", "m1", "work", "worker", 0, None, 1),
        E(5, "dead_lettered", "m1", "work", "worker", 0, None, 1, None, {"reason": "rejected", "target": "dlq"}),
    ]
    assert dead_letters(events, attempts=1)["status"] == "pass"


def test_no_duplicates_ignores_a_republished_copy_that_was_never_handled() -> None:
    """Two copies of one id (a republish) with one successful handling are no duplicate."""
    events = republish_round(0, "m1", 1) + [
        E(10 * MS, "published", "m1", "work", "worker"),
        E(10 * MS + 1, "delivered", "m1", "work", "worker", 0, None, 1),
        E(10 * MS + 2, "handled", "m1", "work", "worker", 0, None, 1, None, {"latency": 1}),
        E(10 * MS + 2, "acked", "m1", "work", "worker", 0, None, 1),
    ]
    check = NoDuplicates(m.NoDuplicatesCheck(check="no_duplicates", consumer="worker"), "nd")
    check.consume(events)
    assert check.result(10 * MS + 2, "complete")["status"] == "pass"


APP_DEAD_LETTER = """
evtool: "1"
id: app-dlq
run: {seed: 1, duration: 1s, drain: {max: 1m}}
channels:
  work: {kind: queue}
  dlq: {kind: queue, role: dead_letter}
producers:
  load: {to: work, arrival: {process: constant, rate: 5/s}}
consumers:
  worker:
    from: work
    processing: 5ms
    dead_letter: dlq
    fail_if: [{probability: 1.0, error: Broken}]
    retry: {max_attempts: 3, mode: MODE, backoff: {type: constant, delay: 10ms}, on_exhausted: dead_letter}
expect:
  - {name: dl, check: dead_letters, channel: dlq, attempts: 3}
"""


def test_end_to_end_dead_letter_attempts_by_the_application() -> None:
    """A consumer's own dead letter (it acks, then publishes to its dead-letter channel) counts every
    attempt, whether retries redeliver or republish."""
    from evtool.scenario.loader import load_text
    from evtool.sim.engine import Engine
    for mode in ("redeliver", "republish"):
        outcome = Engine(load_text(APP_DEAD_LETTER.replace("MODE", mode), "t.yaml")).run()
        result = next(c for c in outcome.checks if c["name"] == "dl")
        assert result["status"] == "pass", (mode, result)
        assert result["observed"].endswith("dead letter(s), each after 3 attempts"), (mode, result)
        assert len(result["evidence"]) >= 3


PARTIAL_EFFECTS = """
evtool: "1"
id: partial-effects
run: {seed: 1, duration: 1s, drain: {max: 1m}}
channels:
  work: {kind: queue, max_deliveries: 3, dead_letter: dlq}
  dlq: {kind: queue, role: dead_letter}
producers:
  load: {to: work, arrival: {process: constant, rate: 20/s}, payload: {amount: "{{ rand.choice([5, 5, 5, None]) }}"}}
consumers:
  worker:
    from: work
    processing: 5ms
    state: {charged: 0}
    effects:
      - {inc: charged, by: 1}
      - {set: last, value: "msg.payload.amount + 1"}
    retry: {max_attempts: 1, on_exhausted: requeue}
expect:
  - {name: once, check: effectively_once, consumer: worker}
  - {name: charges, that: "last(state.worker.charged) <= count(published{channel=work})"}
"""


def effectively_once(events: list[E], by: str | None = None, business_key: str | None = None) -> dict[str, Any]:
    from evtool.trace.checks import EffectivelyOnce
    worker: dict[str, Any] = {"from": "work"}
    if business_key is not None:
        worker["business_key"] = business_key
    scenario = m.Scenario.model_validate({"evtool": "1", "id": "t", "run": {"seed": 1, "duration": "1s"},
                                          "channels": {"work": {"kind": "queue"}},
                                          "consumers": {"worker": worker}})
    check = EffectivelyOnce(m.EffectivelyOnceCheck(check="effectively_once", consumer="worker", by=by), "eo",
                            scenario)
    check.consume(events)
    return check.result(events[-1].t, "complete")


def test_effectively_once_counts_effects_applied_by_failed_attempts() -> None:
    """An attempt that applied an effect and then failed applied it all the same: the consumer reports it
    as `effect_applied` before `failed` (hand-made trace)."""
    def attempt(t: int, mid: str, ok: bool) -> list[E]:
        if ok:
            return [E(t, "handled", mid, "work", "worker", 0, None, 1, None, {"latency": 1})]
        return [E(t, "effect_applied", mid, "work", "worker", 0, None, 1, None, {"effects": 1, "of": 2}),
                E(t, "failed", mid, "work", "worker", 0, None, 1, None, {"error": "EffectError"})]
    events = attempt(0, "m1", True) + attempt(1, "m2", False) + attempt(2, "m2", True)
    r = effectively_once(events)
    assert r["status"] == "fail", r
    assert r["evidence"] == ["m2", "m2"]
    assert "1 failed attempt(s) that applied effects" in r["observed"], r
    # without `effect_applied`, only the successful handlings show, and they are each once
    r = effectively_once([ev for ev in events if ev.kind != "effect_applied"])
    assert r["status"] == "pass", r


def test_effectively_once_judges_by_the_business_key_the_consumer_records() -> None:
    """Two messages with one business key (`bkey`, recorded because the consumer declares it) fail; the
    same trace judged by message id passes."""
    events = [E(0, "handled", "m1", "work", "worker", 0, None, 1, None, {"latency": 1, "bkey": "order-1"}),
              E(1, "handled", "m2", "work", "worker", 0, None, 1, None, {"latency": 1, "bkey": "order-1"}),
              E(2, "handled", "m3", "work", "worker", 0, None, 1, None, {"latency": 1, "bkey": "order-2"})]
    declared = "msg.payload.orderId"
    r = effectively_once(events, business_key=declared)
    assert r["status"] == "fail" and r["evidence"] == ["m1", "m2"], r
    assert effectively_once(events, by=declared, business_key=declared)["status"] == "fail"
    assert effectively_once(events, by="msg.id", business_key=declared)["status"] == "pass"


def test_effectively_once_by_a_key_the_consumer_does_not_record_is_unknown() -> None:
    """A check cannot make the consumer record a key: one the trace does not carry is unknown, with the fix."""
    events = [E(0, "handled", "m1", "work", "worker", 0, None, 1, None, {"latency": 1})]
    r = effectively_once(events, by="msg.payload.orderId")
    assert r["status"] == "unknown", r
    assert "declare `business_key: msg.payload.orderId` on consumer worker" in r["observed"]


def test_end_to_end_effects_of_failed_handlings_are_judged() -> None:
    """Three of 19 messages fail their second effect after the first (`inc: charged`) was applied; each is
    delivered 3 times, so `charged` ends at 25 for 19 messages. effectively_once must fail."""
    from evtool.scenario.loader import load_text
    from evtool.sim.engine import Engine
    outcome = Engine(load_text(PARTIAL_EFFECTS, "t.yaml")).run()
    results = {c["name"]: c for c in outcome.checks}
    assert results["charges"]["status"] == "fail", results["charges"]   # the state shows the repeats
    assert results["once"]["status"] == "fail", results["once"]


def test_end_to_end_effects_of_a_handling_whose_emit_fails_are_judged() -> None:
    """Every effect applied, then `emit.when` cannot be evaluated: the attempt fails with its effects in
    place, the consumer reports them (`effect_applied`, all of them), and effectively_once counts them."""
    from evtool.scenario.loader import load_text
    from evtool.sim.engine import Engine
    text = PARTIAL_EFFECTS.replace(
        '      - {set: last, value: "msg.payload.amount + 1"}\n',
        '    emit: [{to: work, message: Never, when: "msg.payload.amount + 1 < 0"}]\n')
    events: list[E] = []
    engine = Engine(load_text(text, "t.yaml"))
    engine.listeners.append(events.extend)
    outcome = engine.run()
    outlived = [ev for ev in events if ev.kind == "effect_applied"]
    assert outlived and all(ev.data == {"effects": 1, "of": 1} for ev in outlived), outlived[:3]
    failed = [ev for ev in events if ev.kind == "failed"]
    assert len(failed) == len(outlived) and all(ev.data["error"] == "EmitError" for ev in failed)
    results = {c["name"]: c for c in outcome.checks}
    assert results["once"]["status"] == "fail", results["once"]
