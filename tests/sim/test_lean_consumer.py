"""The lean consumer path (evtool/sim/lean.py) does exactly what the generic path does.

Each scenario here is run twice: as the engine runs it (the consumers take the lean path, which the test
checks), and with the lean path refused (every consumer on the generic `ConsumerActor._handle`). The
trace digests, event counts, summaries and consumer states must be identical. The scenarios reach the
lean path's every branch: probability and `when` rules, crash rules, duplicates skipped by the
idempotency store, effects that read the names, effects that fail after others were applied, every
retry mode and end, and instances crashed, paused and slowed by faults.
"""

from __future__ import annotations

from typing import Any

import pytest

from evtool.scenario.loader import load_text
from evtool.sim import lean
from evtool.sim.engine import Engine

BASE = """
evtool: "1"
id: lean-{name}
run: {{seed: {seed}, duration: 3s, drain: {{max: 30s}}}}
channels:
  work: {{kind: queue}}
  work.dlq: {{kind: queue}}
producers:
  load:
    to: work
    arrival: {{process: poisson, rate: 1000/s}}
    count: 2500
{payload}
consumers:
  worker:
    from: work
    instances: 3
    prefetch: 8
    processing: {{dist: uniform, min: 1ms, max: 4ms}}
{consumer}
{faults}
"""

REALISTIC = """
    fail_if:
      - {probability: 0.08, error: UpstreamTimeout}
    effects: [{inc: handled, by: 1}]
    state: {handled: 0}
    idempotency: {key: msg.id, window: 1h}
    retry: {max_attempts: 3, backoff: {type: exponential, initial: 10ms}, on_exhausted: dead_letter}
    dead_letter: work.dlq
"""

RULES = """
    fail_if:
      - {when: "msg.seq % 13 == 0 and attempt < 3", error: Flaky}
      - {probability: 0.05, error: Timeout}
      - {when: "msg.seq % 97 == 5", error: Broken, retryable: false}
      - {probability: 0.002, error: Segfault, crash: true}
    effects:
      - {inc: handled}
      - {set: last, value: msg.id}
      - {inc: "by_attempt[attempt]", by: 1}
      - {append: seen_keys, value: "msg.seq % 5"}
    state: {handled: 0}
    idempotency: {key: msg.seq, window: 200ms}
    retry: {max_attempts: 4, mode: {mode}, backoff: {type: linear, delay: 5ms}, on_exhausted: {exhausted}}
    dead_letter: work.dlq
"""

EFFECT_ERRORS = """
    effects:
      - {inc: handled}
      - {inc: share, by: "1 / (msg.seq % 40)"}
    state: {handled: 0, share: 0}
    retry: {max_attempts: 2, backoff: {type: constant, delay: 1ms}, on_exhausted: drop}
"""

KEYS = """
    business_key: msg.payload.order
    fail_if:
      - {when: "msg.payload.order == 'o-7'", error: Broken, retryable: false}
      - {probability: 0.06, error: Timeout}
    effects:
      - {inc: handled}
      - {inc: "per_order[msg.payload.order]", by: 1}
    state: {handled: 0}
    idempotency: {key: "msg.payload.order + '/' + str(10 // (msg.payload.amount % 10))", window: 100ms}
    retry: {max_attempts: 3, backoff: {type: constant, delay: 2ms}, on_exhausted: dead_letter}
    dead_letter: work.dlq
"""

STATE_KEY = """
    effects: [{inc: handled}, {inc: total, by: "msg.payload.amount"}]
    state: {handled: 0, total: 0}
    idempotency: {key: "str(state.handled // 7) + ':' + msg.payload.order", window: 50ms}
    fail_if: [{when: "attempt < 2 and msg.payload.amount > 95", error: Flaky}]
    retry: {max_attempts: 3, mode: in_place, backoff: {type: constant, delay: 2ms}, on_exhausted: drop}
"""

PAYLOAD = """
    message: Order
    payload:
      order: "o-{{ rand.randint(1, 40) }}"
      amount: "{{ rand.randint(1, 100) }}"
"""

FAULTS = """
faults:
  - {name: dup, at: 0s, for: end, action: duplicate, target: "channel:work", probability: 0.1, scope: per_message}
  - {name: boom, at: 700ms, action: crash, target: "consumer:worker#1", restart_after: 300ms}
  - {name: gc, at: 1200ms, for: 150ms, action: pause, target: "consumer:worker#2"}
  - {name: slow, at: 400ms, for: 600ms, action: slow, target: "consumer:worker#0", latency_factor: 3}
"""

CASES: dict[str, tuple[str, str]] = {
    "realistic": (REALISTIC, ""),
    "realistic-faults": (REALISTIC, FAULTS),
    "rules-redeliver-dlq": (RULES.replace("{mode}", "redeliver").replace("{exhausted}", "dead_letter"), FAULTS),
    "rules-in-place-drop": (RULES.replace("{mode}", "in_place").replace("{exhausted}", "drop"), FAULTS),
    "rules-republish-dlq": (RULES.replace("{mode}", "republish").replace("{exhausted}", "dead_letter"), ""),
    "effect-errors": (EFFECT_ERRORS, FAULTS),
    "expression-key-business-key": (KEYS, FAULTS),
    "key-reading-state": (STATE_KEY, ""),
}
PAYLOADS = {"expression-key-business-key", "key-reading-state"}


def scenario(case: str, seed: int) -> str:
    consumer, faults = CASES[case]
    return BASE.format(name=case, seed=seed, consumer=consumer.strip("\n"), faults=faults.strip("\n"),
                       payload=PAYLOAD.strip("\n") if case in PAYLOADS else "")


def run(text: str, *, allow_lean: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Engine]:
    with monkeypatch.context() as mp:
        if not allow_lean:
            mp.setattr(lean, "eligible", lambda c: False)
        engine = Engine(load_text(text, "lean.yaml"))
        out = engine.run()
    return out, engine


@pytest.mark.parametrize("seed", [1, 7])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_lean_path_leaves_the_trace_as_the_generic_path_makes_it(case: str, seed: int,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    text = scenario(case, seed)
    fast, fast_engine = run(text, allow_lean=True, monkeypatch=monkeypatch)
    slow, slow_engine = run(text, allow_lean=False, monkeypatch=monkeypatch)
    worker, generic = fast_engine.consumers["worker"], slow_engine.consumers["worker"]
    assert "_complete" in vars(worker), "the consumer should have taken the lean path"
    assert "_complete" not in vars(generic) and not generic.plain
    assert fast.events == slow.events
    assert fast.digest == slow.digest
    assert fast.summary == slow.summary
    assert worker.state == generic.state
    assert worker.handled == generic.handled and worker.emitted == generic.emitted


def test_the_scenarios_reach_the_branches_they_are_here_for() -> None:
    """A guard on the test above: failures, crashes, duplicates, effect errors, dead letters, business keys
    and idempotency keys that cannot be evaluated all happen."""
    seen: dict[str, int] = {}
    for case in CASES:
        events: list[Any] = []
        out = Engine(load_text(scenario(case, 1), "lean.yaml"), listeners=[events.extend]).run()
        for k, v in out.summary["counts"].items():
            seen[k] = seen.get(k, 0) + v
        seen["duplicates_skipped"] = seen.get("duplicates_skipped", 0) + out.summary["duplicates_skipped"]
        handled = [e for e in events if e.kind == "handled" and not e.data.get("duplicate")]
        seen["bkey"] = seen.get("bkey", 0) + sum(1 for e in handled if "bkey" in e.data)
        if case == "expression-key-business-key":  # duplicates by the key, beyond the duplicated publishes
            assert out.summary["duplicates_skipped"] > 2 * out.summary["counts"].get("published", 0) // 10
    for kind in ("failed", "retry_scheduled", "instance_crashed", "instance_paused", "effect_applied",
                 "dead_lettered", "dropped", "duplicates_skipped", "bkey"):
        assert seen.get(kind, 0) > 0, kind


def test_a_consumer_the_lean_path_does_not_cover_stays_generic() -> None:
    """A consumer that records an ordering (the lean path does not) keeps the generic path."""
    text = BASE.format(name="ordered", seed=1, faults="", payload="", consumer="""
    ordering: {key: msg.key, seq: msg.seq}
    effects: [{inc: handled}]
""".strip("\n"))
    engine = Engine(load_text(text, "lean.yaml"))
    engine.run()
    assert "_complete" not in vars(engine.consumers["worker"])
