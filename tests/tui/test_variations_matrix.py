"""`evtool run LESSON --variations` / `--profiles a,b,c`: checks × runs, with the key numbers."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from evtool.cli.app import app as cli
from evtool.scenario.loader import load_scenario
from evtool.sim.matrix import lesson_columns, run_matrix

from .helpers import LESSON


def test_the_lesson_and_its_variations_side_by_side() -> None:
    loaded = load_scenario(LESSON)
    cols = lesson_columns(loaded)
    assert [c.label for c in cols] == ["lesson", "try 1", "try 2", "try 3", "try 4"]  # every variation is structured
    mx = run_matrix(LESSON, cols)
    lesson, non_retryable, no_idempotency = mx.results[:3]
    assert lesson.outcome == "passed" and all(v == "pass" for v in lesson.verdicts.values())
    assert non_retryable.verdicts["poison-attempts"] == "fail" and non_retryable.as_expected("poison-attempts")
    assert no_idempotency.verdicts["charged-once"] == "fail" and no_idempotency.as_expected("charged-once")
    assert lesson.numbers["dead_lettered"] == 3 and lesson.numbers["duplicates"] == 0
    assert no_idempotency.numbers["duplicates"] > 0  # duplicate deliveries were handled again
    assert non_retryable.numbers["deliveries"] < lesson.numbers["deliveries"]  # poison dies on attempt 1


def test_run_variations_prints_the_matrix_at_80_columns() -> None:
    r = CliRunner().invoke(cli, ["run", "retries-dlq-poison", "--variations"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    out = r.output
    for word in ("lesson", "try 1", "try 2", "poison-attempts", "charged-once", "deliveries", "dead letters",
                 "duplicates", "--set consumers.billing.idempotency=off"):
        assert word in out, word
    assert all(len(line) <= 80 for line in out.splitlines())


def test_run_variations_as_json() -> None:
    r = CliRunner().invoke(cli, ["run", "retries-dlq-poison", "--variations", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [c["label"] for c in data["columns"]] == ["lesson", "try 1", "try 2", "try 3", "try 4"]
    assert data["columns"][2]["verdicts"]["charged-once"] == "fail"


def test_profiles_run_one_scenario_under_several_brokers() -> None:
    r = CliRunner().invoke(cli, ["run", "poison-across-brokers", "--profiles",
                                 "rabbitmq-quorum,kafka,sqs-fifo,rabbitmq-classic"], env={"COLUMNS": "120"})
    out = r.output
    assert "rabbitmq-quorum" in out and "kafka" in out and "sqs-fifo" in out
    assert "rabbitmq-classic" in out and "does not load" in out  # the classic queue has no delivery counter
    assert r.exit_code == 1  # verdicts that differ from what the scenario expects are flagged


def test_an_unknown_profile_is_a_located_error() -> None:
    r = CliRunner().invoke(cli, ["run", "poison-across-brokers", "--profiles", "rabbitmq-quorom"])
    assert r.exit_code == 2
    assert "unknown broker profile 'rabbitmq-quorom'" in r.output and "rabbitmq-quorum" in r.output
    assert "Traceback" not in r.output
