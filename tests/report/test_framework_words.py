"""The run report, the Markdown and HTML exports and `evtool explain` speak a retry preset's framework words.

Spring Cloud Stream counts ATTEMPTS and retries in the binder, in-process, before the binder's DLQ:
  consumer property maxAttempts: "If processing fails, the number of attempts to process the message
  (including the first). Set to 1 to disable retry. Default: 3."
  (https://docs.spring.io/spring-cloud-stream/reference/spring-cloud-stream/binding-properties.html)
  "binder will make several attempts at re-trying the same message (3 by default) using RetryTemplate"
  (https://docs.spring.io/spring-cloud-stream/reference/spring-cloud-stream/overview-error-handling.html)

Apache Camel counts REDELIVERIES (the first attempt is not one) and ends in the Dead Letter Channel:
  "Setting the maximumRedeliveries to 0 will disable any redelivery attempt."
  "Camel supports the Dead Letter Channel from the EIP patterns using the DeadLetterChannel processor which
  is an Error Handler." (https://camel.apache.org/components/next/eips/dead-letter-channel.html)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from synthetic_runs import synthetic_header, synthetic_result
from typer import Typer
from typer.testing import CliRunner

from evtool.core.events import TraceEvent
from evtool.report.fmt import describe, headline, preset_summary, retry_presets
from evtool.report.html import to_html
from evtool.report.markdown import to_markdown
from evtool.scenario.lessons import find_lesson
from evtool.scenario.loader import load_scenario
from evtool.sim.engine import Engine

LESSON = find_lesson("retry-broker-or-framework")
CAMEL = ["consumers.ledger.retry.preset=camel-dead-letter-channel", "consumers.ledger.retry.max_attempts=3"]


def _run(sets: list[str]) -> tuple[Any, list[TraceEvent], Any]:
    loaded = load_scenario(LESSON, sets)
    events: list[TraceEvent] = []
    outcome = Engine(loaded, listeners=[events.extend]).run()
    return loaded.model, events, outcome


def _poison_lines(sets: list[str]) -> list[str]:
    model, events, _ = _run(sets)
    presets = retry_presets(model)
    return [describe(e, presets) for e in events
            if e.msg == "PAY-POISON" and e.kind in ("retry_scheduled", "dead_lettered")]


def test_spring_says_attempts_by_the_retry_template_then_the_binders_dlq() -> None:
    """maxAttempts 3 counts the first: the two retries are attempts 2 and 3; the end is the binder's DLQ."""
    assert _poison_lines([]) == [
        "Spring Cloud Stream: attempt 2 in 1.00s, by the binder's RetryTemplate, in-process",
        "Spring Cloud Stream: attempt 3 in 2.00s, by the binder's RetryTemplate, in-process",
        "dead-lettered from payments to the binder's DLQ payments.dlq: rejected, after 1 delivery",
    ]


def test_camel_says_redeliveries_then_the_dead_letter_channel() -> None:
    """maximumRedeliveries 2 (3 attempts): redelivery 1 and redelivery 2, then the Dead Letter Channel."""
    assert _poison_lines(CAMEL) == [
        "Apache Camel: redelivery 1 in 1.00s, by the RedeliveryPolicy, in-process",
        "Apache Camel: redelivery 2 in 1.00s, by the RedeliveryPolicy, in-process",
        "dead-lettered from payments to the Dead Letter Channel payments.dlq: rejected, after 1 delivery",
    ]


def test_without_a_preset_the_words_stay_generic() -> None:
    """The broker-side variation (no in-process retry) keeps evtool's words: redelivery, dead-lettered to."""
    lines = _poison_lines(["consumers.ledger.retry={mode: redeliver, max_attempts: forever, on_exhausted: requeue}"])
    assert lines and not any("Spring" in x or "Camel" in x or "binder" in x for x in lines)
    assert lines[-1].startswith("dead-lettered from payments to payments.dlq: max_deliveries")


def test_a_preset_whose_retry_is_moved_to_the_broker_is_not_called_in_process() -> None:
    model, _, _ = _run(["consumers.ledger.retry.mode=redeliver"])
    (line,) = preset_summary(model)["lines"]
    assert "retried by the broker instead (mode redeliver" in line and "RetryTemplate" not in line


@pytest.mark.parametrize(("sets", "words", "label"), [
    ([], "ledger: Spring Cloud Stream, maxAttempts 3 (counts the first delivery): retried by the binder's "
         "RetryTemplate, in-process (the broker delivers once), then the binder's DLQ payments.dlq",
     "2 further attempts (RetryTemplate)"),
    (CAMEL, "ledger: Apache Camel, maximumRedeliveries 2 (excludes the first attempt): retried by the "
            "RedeliveryPolicy, in-process (the broker delivers once), then the Dead Letter Channel payments.dlq",
     "2 redeliveries (RedeliveryPolicy)"),
], ids=["spring", "camel"])
def test_markdown_and_html_exports_use_the_words(sets: list[str], words: str, label: str) -> None:
    model, events, outcome = _run(sets)
    summary = {**outcome.summary, "retry_presets": preset_summary(model)}
    assert label in headline(summary)
    result = dataclasses.replace(synthetic_result(events), summary=summary)
    dead = [e for e in events if e.kind == "dead_lettered"]
    target = "the binder's DLQ" if not sets else "the Dead Letter Channel"
    md = to_markdown(synthetic_header(), result, dead)
    assert "## Retry, in the framework's words" in md and f"- {words}" in md
    assert f"rejected, to {target}" in md
    html = to_html(synthetic_header(), result, dead_letters=dead)
    assert f"<li>{words.replace(chr(39), '&#x27;')}</li>" in html
    assert "<h2>Retry, in the framework's words</h2>" in html


def _cli(args: list[str]) -> str:
    from evtool.cli.app import app

    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code in (0, 1), res.output
    return res.output


def test_the_run_report_of_evtool_run_speaks_each_framework() -> None:
    spring = _cli(["run", "retry-broker-or-framework", "--quiet", "--no-record"])
    assert "maxAttempts 3 (counts the first delivery)" in spring and "the binder's DLQ payments.dlq" in spring
    assert "further attempts (RetryTemplate) 2" in spring
    camel = _cli(["run", "retry-broker-or-framework", "--quiet", "--no-record", *sum((["--set", s] for s in CAMEL), [])])
    assert "maximumRedeliveries 2 (excludes the first attempt)" in camel and "Dead Letter Channel" in camel
    assert "redeliveries (RedeliveryPolicy) 2" in camel
    plain = _cli(["run", "retries-dlq-poison", "--quiet", "--no-record"])
    assert "retries" in plain and "RetryTemplate" not in plain and "RedeliveryPolicy" not in plain


def test_explain_speaks_each_framework() -> None:
    from evtool.cli.explain import explain

    app = Typer()
    app.command("explain")(explain)
    app.command("other")(lambda: None)
    out = CliRunner().invoke(app, ["explain", "retry-broker-or-framework"], env={"COLUMNS": "250"}).output
    assert ("retry spring-cloud-stream: maxAttempts 3 (counts the first delivery), exponential, in-process "
            "(the binder's RetryTemplate) → binder DLQ") in out
    out = CliRunner().invoke(app, ["explain", "retry-broker-or-framework", *sum((["--set", s] for s in CAMEL), [])],
                             env={"COLUMNS": "250"}).output
    assert ("retry camel-dead-letter-channel: maximumRedeliveries 2 (excludes the first attempt), constant, "
            "in-process (the RedeliveryPolicy) → dead letter channel") in out


def test_docs_profiles_cites_each_preset_default_with_its_sentence() -> None:
    """docs/profiles.md's "Retry presets" rows (presets.DOCUMENTED) hold the values the presets really have."""
    from pathlib import Path

    from evtool.scenario.presets import DOCUMENTED, PRESETS

    doc = Path(__file__).resolve().parents[2].joinpath("docs", "profiles.md").read_text(encoding="utf-8")
    for name, rows in DOCUMENTED.items():
        assert f"### `{name}`" in doc
        for _setting, key, value, quote, url in rows:
            node: Any = PRESETS[name]
            for part in key.split("."):
                node = node[part]
            assert node == value, (name, key)
            assert quote in doc and url.split()[0] in doc
    assert {k for rows in DOCUMENTED.values() for _, k, *_ in rows} >= {"max_attempts", "mode", "on_exhausted"}


def test_inspect_speaks_each_framework(tmp_path: Any) -> None:
    """`evtool inspect` of a recorded run reads the preset from the run's summary: the lifecycle's attempts
    and the --kind table say "attempt ... RetryTemplate" (Spring) or "redelivery" (Camel), not "retry"."""
    db = str(tmp_path / "runs.db")
    _cli(["run", "retry-broker-or-framework", "--quiet", "--db", db])
    life = _cli(["inspect", "last", "--db", db, "--message", "PAY-POISON"])
    assert "Spring Cloud Stream: attempt 2" in life and "the binder's DLQ payments.dlq" in life
    kinds = _cli(["inspect", "last", "--db", db, "--kind", "retry_scheduled"])
    assert "RetryTemplate" in kinds and "retry in" not in kinds
    _cli(["run", "retry-broker-or-framework", "--quiet", "--db", db, *sum((["--set", s] for s in CAMEL), [])])
    camel = _cli(["inspect", "last", "--db", db, "--message", "PAY-POISON"])
    assert "redelivery 1" in camel and "Dead Letter Channel" in camel
