"""Observers observe: a lesson's digest does not depend on which checks watch it.

A check reads the trace and a read-only view of the run; it never makes an actor
record more, take another path or stop. So for every bundled lesson the trace is
the same (same digest, same number of events) with its `expect:` block, without
it, and with more checks than it ships with, and the shipped checks keep their
verdicts when others are added beside them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from evtool.scenario import models as m
from evtool.scenario.lessons import lesson_dir
from evtool.scenario.loader import LoadedScenario, load_scenario
from evtool.sim.engine import Engine, RunOutcome

LESSONS = sorted(lesson_dir().glob("*.yaml"))


def _with_expect(loaded: LoadedScenario, expect: list[Any]) -> LoadedScenario:
    return dataclasses.replace(loaded, model=loaded.model.model_copy(update={"expect": expect}))


def _extra_checks(sc: m.Scenario) -> list[Any]:
    """Every kind of check that can watch this scenario, beside the ones it has (named `extra-*`)."""
    extra: list[Any] = [
        m.NoLossCheck(check="no_loss", name="extra-no-loss"),
        m.Assertion(name="extra-always", that="count(handled) >= 0", when="always"),
        m.Assertion(name="extra-eventually", that="count(published) >= 0", when="eventually"),
        m.LatencyCheck(check="latency", name="extra-latency", below="1h"),
    ]
    for name, c in sc.consumers.items():
        extra += [
            m.EffectivelyOnceCheck(check="effectively_once", name=f"extra-once-{name}", consumer=name),
            m.EffectivelyOnceCheck(check="effectively_once", name=f"extra-once-id-{name}", consumer=name,
                                   by="msg.id"),
            m.NoDuplicatesCheck(check="no_duplicates", name=f"extra-dups-{name}", consumer=name),
            m.PerKeyOrderCheck(check="per_key_order", name=f"extra-order-{name}", consumer=name),
            m.PerKeyOrderCheck(check="per_key_order", name=f"extra-order-msg-{name}", consumer=name,
                               key="msg.key", seq="msg.seq"),
            m.Assertion(name=f"extra-state-{name}", that=f"len(state.{name}) >= 0", when="always"),
        ]
        if c.dead_letter is not None:
            extra.append(m.DeadLettersCheck(check="dead_letters", name=f"extra-dlq-{name}", channel=c.dead_letter))
    for name, spec in sc.channels.items():
        if getattr(spec, "dead_letter", None):
            extra.append(m.DeadLettersCheck(check="dead_letters", name=f"extra-dlq-{name}", channel=spec.dead_letter))
    for check in ("request_outcomes", "correlation", "saga_terminates", "saga_compensation",
                  "projection_consistent", "exclusive_ownership"):
        extra.append(m.PatternCheck(check=check, name=f"extra-{check}"))
    return extra


def _run(loaded: LoadedScenario) -> tuple[RunOutcome, Engine]:
    engine = Engine(loaded)
    return engine.run(), engine


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_digest_does_not_depend_on_the_checks(path: Path) -> None:
    loaded = load_scenario(path)
    assert loaded.model.expect, "every lesson has expectations"
    shipped, _ = _run(loaded)
    bare, _ = _run(_with_expect(loaded, []))
    watched, _ = _run(_with_expect(loaded, [*loaded.model.expect, *_extra_checks(loaded.model)]))
    assert bare.digest == shipped.digest, "removing the expect block changed the trace"
    assert bare.events == shipped.events
    assert watched.digest == shipped.digest, "adding checks changed the trace"
    assert watched.events == shipped.events
    # the shipped checks judge alike with company, and every added one was really judged
    verdicts = {c["name"]: (c["status"], c["observed"]) for c in watched.checks}
    for c in shipped.checks:
        assert verdicts[c["name"]] == (c["status"], c["observed"]), c["name"]
    assert len(watched.checks) == len(shipped.checks) + len(_extra_checks(loaded.model))


def test_a_check_does_not_turn_the_consumer_fast_path_off() -> None:
    """Which path a consumer takes is decided by the scenario: a plain consumer stays plain however it is
    watched, and one that records a business key takes the generic path with or without checks."""
    text = """
evtool: "1"
id: plain
run: {seed: 1, duration: 1s, drain: {max: 1m}}
channels:
  work: {kind: queue}
producers:
  load: {to: work, arrival: {process: constant, rate: 50/s}, payload: {orderId: "{{ uuid() }}"}}
consumers:
  worker: {from: work, processing: 2ms}
  keyed: {from: work, processing: 2ms, business_key: msg.payload.orderId}
"""
    from evtool.scenario.loader import load_text

    loaded = load_text(text, "plain.yaml")
    checks = [m.EffectivelyOnceCheck(check="effectively_once", consumer="worker", by="msg.id"),
              m.PerKeyOrderCheck(check="per_key_order", consumer="worker"),
              m.EffectivelyOnceCheck(check="effectively_once", consumer="keyed")]
    for expect in ([], checks):
        engine = Engine(_with_expect(loaded, expect))
        engine.start()
        assert engine.consumers["worker"].plain is True
        assert engine.consumers["keyed"].plain is False
