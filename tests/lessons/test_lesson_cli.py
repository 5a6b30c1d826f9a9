"""`evtool lessons`, `evtool explain` and `evtool new`, invoked in-process on a small Typer app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from evtool.cli.explain import explain
from evtool.cli.lessons import lessons
from evtool.cli.new import new
from evtool.scenario.lessons import find_lesson, list_lessons
from evtool.scenario.loader import load_scenario

app = typer.Typer()
app.command("lessons")(lessons)
app.command("explain")(explain)
app.command("new")(new)


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_lessons_lists_every_lesson_with_title_level_and_concepts() -> None:
    result = run("lessons")
    assert result.exit_code == 0, result.output
    for info in list_lessons():
        assert info.id in result.output
        assert info.level in result.output


@pytest.mark.parametrize("width", [80, 200])
def test_lessons_shows_every_title_and_concept_whole_at_any_width(width: int) -> None:
    """At 80 columns the concepts go under each title; nothing is cut with an ellipsis, no line is too long."""
    result = CliRunner().invoke(app, ["lessons"], env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "…" not in result.output
    assert all(len(line) <= width for line in lines)
    # the table's cells, read column by column: the words of each lesson's title and concepts, in order
    cells = [line.split("│")[1:-1] for line in lines if line.startswith("│")]
    text = " ".join(" ".join(cell.strip() for cell in column) for column in zip(*cells, strict=True))
    words = " ".join(text.split())
    for info in list_lessons():
        assert info.id in words
        assert " ".join(info.title.split()) in words, info.title
        assert all(c in words for c in info.concepts), info.id
    assert ("concepts" in lines[2]) and (("title and concepts" in lines[2]) == (width < 110))


@pytest.mark.parametrize("lesson", [i.id for i in list_lessons()])
def test_explain_shows_every_expectation_whole_at_80_and_200_columns(lesson: str) -> None:
    """At 80 columns each expectation is a block (name and when, then its expression and its reason); wide, a
    table with every expression on one line. Either way no expression is broken inside a word."""
    from evtool.cli.explain import expectation_text

    sc = load_scenario(find_lesson(lesson)).model
    for width in (80, 200):
        result = CliRunner().invoke(app, ["explain", lesson], env={"COLUMNS": str(width), "NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
        part = result.output.split("expectations ─", 1)[1]
        words = " ".join(part.replace("│", " ").split())
        for e in sc.expect:
            shown = " ".join(expectation_text(e).split())
            if len(shown) <= width - 8:   # an expression wider than the terminal wraps between its words
                assert any(shown in " ".join(line.split()) for line in part.splitlines()), (width, shown)
            assert shown in words, (width, shown)
            if e.because:
                assert " ".join(e.because.split()) in words, (width, e.because)


def test_lessons_json_and_concept_filter() -> None:
    result = run("lessons", "--json")
    data = json.loads(result.stdout)["lessons"]
    assert {d["id"] for d in data} == {i.id for i in list_lessons()}
    assert all(d["title"] and d["concepts"] and Path(d["path"]).is_file() for d in data)
    only = json.loads(run("lessons", "--json", "--concept", "idempot").stdout)["lessons"]
    assert only and all(any("idempot" in c for c in d["concepts"]) for d in only)
    assert "idempotent-consumer" in {d["id"] for d in only}


def test_explain_prints_lesson_topology_and_expectations() -> None:
    result = run("explain", "retries-dlq-poison")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Retries, backoff and the dead-letter queue" in out
    assert "How many times was POISON-1 delivered" in out
    assert "answer:" not in out
    # topology: producer -> queue -> consumer, and the dead-letter edge
    assert out.index("producer checkout") < out.index("queue orders") < out.index("consumer billing ×3")
    assert "☠ dead letters → queue orders.dlq" in out
    for name in ("nothing-lost", "poison-attempts", "charged-once", "queue-bounded"):
        assert name in out
    assert "--set 'consumers.billing.retry.non_retryable=[ParseError]'" in out
    assert "turns red: poison-attempts" in out


def test_explain_answers_and_routers() -> None:
    out = run("explain", "slow-consumer-backpressure", "--answers").output
    assert "answer: About 9 s" in out
    assert "router clicks" in out and "queue index-jobs" in out and "log click-log" in out
    assert out.index("router clicks") < out.index("queue index-jobs") < out.index("consumer indexer")


def test_explain_a_file_and_emits(tmp_path: Path) -> None:
    out = run("explain", str(find_lesson("tracing-monitoring"))).output
    assert "emits PaymentCaptured → topic payment-events" in out
    assert out.index("topic payment-events") < out.index("consumer shipping")


def test_explain_unknown_lesson_and_invalid_file(tmp_path: Path) -> None:
    result = run("explain", "pubsub-fanot")
    assert result.exit_code == 2
    assert "did you mean `pubsub-fanout`" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text('evtool: "1"\nid: bad\nrun: {seed: 1, duration: 1m}\nchannels: {q: {kind: queue, capacty: 3}}\n',
                   encoding="utf-8")
    result = run("explain", str(bad))
    assert result.exit_code == 2
    assert "capacity" in result.output


def test_new_from_a_lesson_writes_a_copy_with_a_new_id(tmp_path: Path) -> None:
    target = tmp_path / "my-fanout"
    result = run("new", str(target), "--from", "pubsub-fanout")
    assert result.exit_code == 0, result.output
    written = tmp_path / "my-fanout.yaml"
    loaded = load_scenario(written)
    assert loaded.model.id == "my-fanout"
    original = load_scenario(find_lesson("pubsub-fanout")).model
    assert loaded.model.model_copy(update={"id": original.id}) == original
    assert "# yaml-language-server" in written.read_text(encoding="utf-8"), "comments are kept"


def test_new_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "taken.yaml"
    target.write_text("keep me\n", encoding="utf-8")
    result = run("new", str(target))
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert target.read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize("bad", ["9lives", "has space"])
def test_new_rejects_a_name_that_is_not_an_id(tmp_path: Path, bad: str) -> None:
    result = run("new", str(tmp_path / bad))
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_new_unknown_lesson(tmp_path: Path) -> None:
    result = run("new", str(tmp_path / "x"), "--from", "nope")
    assert result.exit_code == 2
    assert "no lesson named `nope`" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_new_plain_template_is_valid_and_passes(tmp_path: Path) -> None:
    from evtool.sim.engine import Engine

    result = run("new", str(tmp_path / "checkout-test.yml"))
    assert result.exit_code == 0, result.output
    loaded = load_scenario(tmp_path / "checkout-test.yml")
    assert loaded.model.id == "checkout-test"
    assert not loaded.warnings
    out = Engine(loaded).run()
    assert out.outcome == "passed", out.checks


def test_user_text_in_lessons_and_explain_is_never_markup_nor_a_control_character(tmp_path: Path) -> None:
    """What a user types (`--concept`) and what a scenario says (an expectation's name and reason) is shown as
    written: markup stays literal, an escape character is shown as `\\x1b`, also in explain's narrow layout."""
    r = CliRunner().invoke(app, ["lessons", "--concept", "[bold]x[/bold]"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert "matching `[bold]x[/bold]`" in r.output
    f = tmp_path / "mk.yaml"
    f.write_text('evtool: "1"\nid: mk\nrun: {seed: 1, duration: 1s}\nchannels: {q: {kind: queue}}\n'
                 "producers: {p: {to: q, arrival: {process: constant, rate: 1/s}}}\nconsumers: {c: {from: q}}\n"
                 'expect:\n  - name: "[red]n[/red]"\n    that: count(published) > 0\n'
                 '    because: "a\\u001b[31m red [bold]b[/bold] and a reason long enough to wrap"\n')
    for width in ("50", "200"):
        out = CliRunner().invoke(app, ["explain", str(f)], env={"COLUMNS": width, "NO_COLOR": "1"}).output
        assert "[red]n[/red]" in out and "\x1b" not in out and "a\\x1b[31m red [bold]b[/bold]" in out, width
