"""`--json` carries lint warnings and notes, invalid input is a JSON error object, an unknown run says why,
a redrive of a missing id names the ids that are there, and the live view counts what the summary counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.report.summary import unknown_reason

ERROR_FIELDS = {"file", "line", "column", "message", "hint"}


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80", "NO_COLOR": "1"})


def test_json_run_includes_lint_warnings_and_notes() -> None:
    result = run("run", "retries-dlq-poison", "--json", "--no-record", "--set",
                 "consumers.billing.retry.on_exhausted=requeue")
    report = json.loads(result.stdout)
    (w,) = report["warnings"]
    assert w["severity"] == "warning" and w["file"] == "retries-dlq-poison" and w["line"] > 1
    assert "requeue" in w["message"] and w["hint"]
    assert "notes" in report
    noted = json.loads(run("run", "retries-dlq-poison", "--json", "--no-record", "--set",
                           "broker.profile=rabbitmq-quorum").stdout)
    assert noted["notes"], "a local run under a real broker's profile lists what that broker would do differently"


def test_invalid_input_under_json_is_one_error_object_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('evtool: "1"\nid: bad\nrun: {seed: 1, duration: 1s}\nchannels:\n  orders: {kind: pubsub}\n')
    for args in (("run", str(bad), "--json"), ("run", "no-such-lesson", "--json"),
                 ("run", "retries-dlq-poison", "--json", "--set", "consumers.billing.instances=0"),
                 ("validate", "--json", str(bad))):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        doc = json.loads(result.stdout)
        error = doc["error"] if "error" in doc else doc["files"][0]["error"]
        assert set(error) == ERROR_FIELDS and error["message"], (args, doc)
    doc = json.loads(run("run", str(bad), "--json").stdout)
    assert doc["error"]["line"] == 5 and doc["error"]["column"] == 18
    assert "`pubsub` is general messaging vocabulary" in doc["error"]["hint"]


def test_bundled_lesson_problems_name_the_lesson_not_a_path() -> None:
    result = run("run", "retries-dlq-poison", "-q", "--no-record", "--set",
                 "consumers.billing.retry.on_exhausted=requeue")
    assert "warning retries-dlq-poison:" in result.output
    assert "site-packages" not in result.output and "/evtool/lessons/" not in result.output


def test_an_unknown_end_says_why_in_one_line() -> None:
    report = {"drain": "timed_out", "outcome": "unknown", "checks": [],
              "summary": {"channels": {"orders": {"ready": 0, "in_flight": 2, "delayed": 1}, "dlq": {"ready": 0}}}}
    assert unknown_reason(report) == ("the drain timed out: 3 message(s) still pending when run.drain.max passed "
                                      "(orders: 2 in flight, 1 delayed)")
    report = {"drain": "complete", "outcome": "unknown", "summary": {},
              "checks": [{"name": "lat", "status": "unknown", "observed": "no samples"}]}
    assert unknown_reason(report) == "undecided because `lat` could not be decided: no samples"
    assert unknown_reason({"drain": "complete", "outcome": "passed", "checks": []}) is None
    out = " ".join(run("run", "retries-dlq-poison", "-q", "--no-record", "--set",
                       "consumers.billing.retry.on_exhausted=requeue").output.split())
    assert "the drain timed out: 3 message(s) still pending when run.drain.max passed (orders: 3 delayed)" in out


def test_redrive_of_a_missing_id_says_so_with_the_ids_that_are_there() -> None:
    out = " ".join(run("run", "dlq-redrive", "-q", "--no-record", "--set", "faults[0].message=nope").output.split())
    assert ("problem: fault `redrive-after-fix`: no dead letter `nope` in orders.dlq, so nothing was redriven; "
            "the dead letters there: checkout-111, checkout-112,") in out
    found = " ".join(run("run", "dlq-redrive", "-q", "--no-record", "--set",
                         "faults[0].message=checkout-111").output.split())
    assert "no dead letter" not in found


def test_live_view_counts_the_events_the_summary_reports() -> None:
    import math

    from rich.console import Console

    from evtool.report.live import live_view
    from evtool.scenario.lessons import find_lesson
    from evtool.scenario.loader import load_scenario
    from evtool.sim.engine import Engine

    engine = Engine(load_scenario(find_lesson("competing-consumers")))
    engine.run_until(math.inf)   # as `run` does: the last live frame is drawn before `finish`
    console = Console(width=200, record=True)
    console.print(live_view(engine, speed=float("inf"), wall_s=1.0))
    last_frame = console.export_text()
    outcome = engine.finish()
    assert f"{outcome.events:,} events in" in last_frame
    console.print(live_view(engine, speed=float("inf"), wall_s=1.0))
    assert f"{outcome.events:,} events in" in console.export_text()
