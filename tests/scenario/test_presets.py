"""Retry presets: `retry: {preset: NAME}` is a framework's documented retry defaults; keys next to it win.

Spring Cloud Stream, consumer properties
(https://docs.spring.io/spring-cloud-stream/reference/spring-cloud-stream/binding-properties.html):
  maxAttempts: "If processing fails, the number of attempts to process the message (including the first).
  Set to 1 to disable retry. Default: 3."
  backOffInitialInterval: "The backoff initial interval on retry. Default: 1000."
  backOffMaxInterval: "The maximum backoff interval. Default: 10000."
  backOffMultiplier: "The backoff multiplier. Default: 2.0."
and (https://docs.spring.io/spring-cloud-stream/reference/spring-cloud-stream/overview-error-handling.html):
  "binder will make several attempts at re-trying the same message (3 by default) using RetryTemplate";
  "If retries are unsuccessful it is up to the error handling mechanism which may drop the message, re-queue
  the message for re-processing or send the failed message to DLQ."

Apache Camel, Dead Letter Channel (https://camel.apache.org/components/next/eips/dead-letter-channel.html,
"Redelivery default values"):
  "Redelivery is disabled by default." "maximumRedeliveries=0" "redeliveryDelay=1000L (1 second)"
  "maximumRedeliveryDelay = 60 * 1000L (60 seconds)" "And the exponential backoff and collision avoidance is
  turned off." "Setting the maximumRedeliveries to 0 will disable any redelivery attempt."
and RedeliveryPolicy's Javadoc (https://github.com/apache/camel/blob/main/core/camel-core-processor/src/main/
java/org/apache/camel/processor/errorhandler/RedeliveryPolicy.java): "backOffMultiplier = 2",
"useExponentialBackOff = false". Camel counts redeliveries, so maximumRedeliveries N is N + 1 attempts.
(The same page still says "By default Camel will try to process the exchange 1 + 5 times", and the manual's
error-handler page "will redeliver at most 6 times": both predate Camel 2.0's change to 0; the
RedeliveryPolicy source, `protected int maximumRedeliveries;`, is 0.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.scenario.presets import PRESET_NAMES, PRESETS, SOURCES
from evtool.scenario.yamlsource import parse_yaml
from evtool.sim.engine import Engine

S = 1_000_000_000
MS = 1_000_000

SCENARIO = """\
evtool: "1"
id: presets
broker: {{profile: rabbitmq-classic}}
run: {{seed: 1, duration: 20s, drain: {{max: 20s}}}}
channels:
  work: {{kind: queue, dead_letter: binder-dlq}}
  binder-dlq: {{kind: queue, role: dead_letter}}
  camel-dead: {{kind: queue, role: dead_letter}}
producers:
  load: {{to: work, arrival: {{process: once}}, count: 1}}
consumers:
  app:
    from: work
    processing: 10ms
{extra}    fail_if: [{{when: "attempt > 0", error: Boom}}]
    retry: {retry}
"""


def _retry(retry: str) -> m.RetryPolicy:
    c = load_text(SCENARIO.format(retry=retry, extra=""), "t.yaml").model.consumers["app"].retry
    assert c is not None
    return c


def _run(retry: str, extra: str = "") -> list[TraceEvent]:
    events: list[TraceEvent] = []
    Engine(load_text(SCENARIO.format(retry=retry, extra=extra), "t.yaml"), listeners=[events.extend]).run()
    return [e for e in events if e.msg == "load-1"]


def test_the_model_knows_every_preset() -> None:
    (names, _none) = m.RetryPolicy.model_fields["preset"].annotation.__args__  # type: ignore[union-attr]
    assert set(names.__args__) == set(PRESET_NAMES) == set(SOURCES)


def test_spring_cloud_stream_defaults() -> None:
    """maxAttempts 3 ("including the first"), backOffInitialInterval 1000 ms, backOffMultiplier 2.0,
    backOffMaxInterval 10000 ms; retried in the binder's RetryTemplate (in-process), then the binder's DLQ."""
    r = _retry("{preset: spring-cloud-stream}")
    assert (r.preset, r.max_attempts, r.mode, r.on_exhausted) == ("spring-cloud-stream", 3, "in_place", "dead_letter")
    b = r.backoff
    assert (b.type, b.initial, b.multiplier, b.max, b.jitter) == ("exponential", 1 * S, 2.0, 10 * S, "none")


def test_camel_dead_letter_channel_defaults() -> None:
    """maximumRedeliveries=0 (one attempt), redeliveryDelay 1 s, no exponential backoff (so a constant delay),
    backOffMultiplier 2, maximumRedeliveryDelay 60 s; redelivered inside the route, then the dead letter channel."""
    r = _retry("{preset: camel-dead-letter-channel}")
    assert (r.max_attempts, r.mode, r.on_exhausted) == (1, "in_place", "dead_letter")
    b = r.backoff
    assert (b.type, b.delay, b.initial, b.multiplier, b.max) == ("constant", 1 * S, 1 * S, 2.0, 60 * S)


def test_a_key_next_to_the_preset_wins() -> None:
    r = _retry("{preset: spring-cloud-stream, max_attempts: 5, on_exhausted: drop, backoff: {max: 3s}}")
    assert (r.max_attempts, r.on_exhausted, r.mode) == (5, "drop", "in_place")
    # backoff is merged key by key: the cap changes, the schedule stays Spring's
    assert (r.backoff.type, r.backoff.initial, r.backoff.multiplier, r.backoff.max) == ("exponential", S, 2.0, 3 * S)
    # a whole different backoff type replaces the schedule
    r = _retry("{preset: spring-cloud-stream, backoff: {type: none}}")
    assert r.backoff.type == "none"


def test_without_a_preset_the_required_keys_stay_required() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(SCENARIO.format(retry="{max_attempts: 3}", extra=""), "t.yaml")
    assert "missing required key `on_exhausted`" in str(info.value)


def test_an_unknown_preset_is_located_with_a_hint() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(SCENARIO.format(retry="{preset: spring-cloud-steam}", extra=""), "t.yaml")
    (p,) = info.value.problems
    assert (p.line, p.column, p.path) == (16, 21, "consumers.app.retry.preset")
    assert "unknown retry preset `spring-cloud-steam`" in p.message
    assert p.hint == "did you mean `spring-cloud-stream`?"
    with pytest.raises(ScenarioError) as info:
        load_text(SCENARIO.format(retry="{preset: hystrix}", extra=""), "t.yaml")
    (p,) = info.value.problems
    assert p.path == "consumers.app.retry.preset" and "known presets" in (p.hint or "")


def test_spring_cloud_stream_on_the_core() -> None:
    """Three attempts, 1 s then 2 s apart (plus the 10 ms handler), in place; then the binder's DLQ:
    the consumer rejects and the queue's dead-letter channel takes the message."""
    ev = _run("{preset: spring-cloud-stream}")
    failed = [e.t for e in ev if e.kind == "failed"]
    assert failed == [10 * MS, 1020 * MS, 3030 * MS]
    assert [(e.data or {})["delay"] for e in ev if e.kind == "retry_scheduled"] == [1 * S, 2 * S]
    assert {(e.data or {})["mode"] for e in ev if e.kind == "retry_scheduled"} == {"in_place"}
    assert [e.kind for e in ev if e.kind == "delivered"] == ["delivered"]  # the broker delivered once
    (dead,) = [e for e in ev if e.kind == "dead_lettered"]
    assert dead.t == 3030 * MS and (dead.data or {})["target"] == "binder-dlq"


def test_camel_dead_letter_channel_on_the_core() -> None:
    """Defaults: no redelivery, so one attempt and straight to the dead letter endpoint (the consumer's
    `dead_letter:`), which handles the exchange: the original is acked."""
    ev = _run("{preset: camel-dead-letter-channel}", extra="    dead_letter: camel-dead\n")
    assert [e.t for e in ev if e.kind == "failed"] == [10 * MS]
    assert not [e for e in ev if e.kind == "retry_scheduled"]
    (dead,) = [e for e in ev if e.kind == "dead_lettered"]
    assert (dead.data or {})["target"] == "camel-dead" and (dead.data or {})["by"] == "application"
    assert "acked" in [e.kind for e in ev]


def test_camel_redeliveries_and_exponential_backoff() -> None:
    """maximumRedeliveries 3 is max_attempts 4: 1 s between redeliveries; with useExponentialBackOff
    (`backoff: {type: exponential}`) 1 s, 2 s, 4 s from redeliveryDelay and backOffMultiplier 2."""
    ev = _run("{preset: camel-dead-letter-channel, max_attempts: 4}", extra="    dead_letter: camel-dead\n")
    assert [(e.data or {})["delay"] for e in ev if e.kind == "retry_scheduled"] == [S, S, S]
    ev = _run("{preset: camel-dead-letter-channel, max_attempts: 4, backoff: {type: exponential}}",
              extra="    dead_letter: camel-dead\n")
    assert [(e.data or {})["delay"] for e in ev if e.kind == "retry_scheduled"] == [S, 2 * S, 4 * S]
    assert len([e for e in ev if e.kind == "failed"]) == 4


def test_presets_are_written_as_a_scenario_would_write_them() -> None:
    for name, body in PRESETS.items():
        r = m.RetryPolicy.model_validate(body)
        assert r.preset is None and r == m.RetryPolicy.model_validate({"preset": name}).model_copy(
            update={"preset": None})


def test_the_docs_table_says_what_the_code_says() -> None:
    """docs/scenario-language.md "Retry presets": one row per preset, its values as the code has them."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "scenario-language.md").read_text(encoding="utf-8")
    section = text[text.index("### Retry presets"):]
    section = section[:section.index("\n## ")]
    rows = re.findall(r"^\| `([a-z-]+)` \| `([^`]+)` \| `(\{[^`]+\})` \| `([a-z_]+)` \| `([a-z_]+)` \|", section, re.M)
    assert {r[0] for r in rows} == set(PRESETS)
    for name, attempts, backoff, mode, on_exhausted in rows:
        documented = m.RetryPolicy.model_validate({"max_attempts": int(attempts), "mode": mode,
                                                   "on_exhausted": on_exhausted,
                                                   "backoff": parse_yaml(backoff, "doc")[0]})
        assert documented == m.RetryPolicy.model_validate(PRESETS[name]), name
    for urls in SOURCES.values():
        for url in urls:
            assert url in section, url


def test_the_json_schema_lets_a_preset_stand_in_for_the_required_keys() -> None:
    import jsonschema

    from evtool.scenario.schema import json_schema

    v = jsonschema.Draft202012Validator(json_schema())
    base = {"evtool": "1", "id": "p", "run": {"seed": 1, "duration": "10s"}, "channels": {"q": {"kind": "queue"}},
            "consumers": {"c": {"from": "q"}}}

    def errors(retry: object) -> list[str]:
        base["consumers"]["c"]["retry"] = retry  # type: ignore[index]
        return [e.message for e in v.iter_errors(base)]

    assert errors({"preset": "spring-cloud-stream"}) == []
    assert errors({"preset": "camel-dead-letter-channel", "max_attempts": 4}) == []
    assert errors({"max_attempts": 3, "on_exhausted": "drop"}) == []
    assert errors({"max_attempts": 3})
    assert errors({"preset": "hystrix"})


def test_explain_uses_the_frameworks_words() -> None:
    """Camel counts redeliveries (maximumRedeliveries 3 = 4 attempts) into the dead letter channel;
    Spring counts attempts (maxAttempts) into the binder's DLQ."""
    from evtool.cli.explain import retry_words

    assert retry_words(_retry("{preset: spring-cloud-stream}")) == (
        "retry spring-cloud-stream: maxAttempts 3 (counts the first delivery), exponential, in-process "
        "(the binder's RetryTemplate) → binder DLQ")
    assert retry_words(_retry("{preset: camel-dead-letter-channel, max_attempts: 4}")) == (
        "retry camel-dead-letter-channel: maximumRedeliveries 3 (excludes the first attempt), constant, in-process "
        "(the RedeliveryPolicy) → dead letter channel")
    forever = _retry("{preset: camel-dead-letter-channel, max_attempts: forever, on_exhausted: drop}")
    assert retry_words(forever) == ("retry camel-dead-letter-channel: maximumRedeliveries -1 (excludes the first "
                                    "attempt), constant, in-process (the RedeliveryPolicy) → drop")
    assert retry_words(_retry("{max_attempts: 2, on_exhausted: drop}")) == "retry 2× none (redeliver) → drop"
