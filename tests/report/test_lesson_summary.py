"""The summary shows what the lesson is about, and `evtool run LESSON` narrates its steps as they happen."""

from __future__ import annotations

import re
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app


def run(*args: str, width: int = 80) -> Any:
    return CliRunner().invoke(app, ["run", *args, "--no-record"], env={"COLUMNS": str(width), "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def competing() -> str:
    return run("competing-consumers").output


def test_a_row_per_instance_for_competing_consumers(competing: str) -> None:
    rows = re.findall(r"^ workers\s+#(\d)\s+(\d+)\s+(\d+)\s+(\d+)%", competing, re.M)
    assert [r[0] for r in rows] == ["0", "1", "2"]
    assert sum(int(r[1]) for r in rows) == 1861  # every job, shared over the three instances
    assert all(int(r[1]) > 300 for r in rows)


def test_a_row_per_group_with_its_lag_for_a_topic() -> None:
    out = run("pubsub-fanout").output
    rows = {m[1]: (int(m[2]), int(m[3])) for m in
            re.findall(r"^ (order-events)\s+(\w+)\s+(\d+)\s+(\d+)\s+[\d.]+s\s+0\s*$", out, re.M)}
    assert set(rows) == {"analytics", "billing", "shipping"}
    assert rows["analytics"][1] > 100 > rows["billing"][1]  # the subscriber that went away fell behind


def test_saga_instances_completed_and_compensated() -> None:
    out = run("order-saga").output
    m = re.search(r"Saga order-saga: (\d+) started · (\d+) completed · (\d+) compensated · 0 stuck", out)
    assert m and int(m[1]) == int(m[2]) + int(m[3]) and int(m[3]) > 0


def test_partitions_moved_in_a_rebalance() -> None:
    out = run("partitioned-ordering").output
    assert re.search(r"Rebalances of statements: \d+ · partitions moved \(revoked\) 9 · assigned \d+", out)


def test_a_projection_shows_its_lag_not_an_empty_latency() -> None:
    out = " ".join(run("cqrs-projection").output.split())
    assert "latency p50 –" not in out
    assert re.search(r"Projection balances: lag max \d+ events \([\d.]+s\), at the end 0 · \d+ stale reads", out)


def test_steps_print_in_order_as_they_happen_with_questions(competing: str) -> None:
    steps = [int(n) for n in re.findall(r"^step (\d+) · [\d.]+s · ", competing, re.M)]
    assert steps == [1, 2, 3, 4, 5]
    assert competing.index("step 5 ·") < competing.index("Channels")  # narrated before the summary
    assert "? What happens to the jobs workers#0 had not acked?" in competing
    assert "answer:" not in competing


def test_answers_only_with_the_flag() -> None:
    out = run("competing-consumers", "--answers").output
    assert "answer: They go back to the queue and another worker gets them" in out


def test_the_summary_says_which_step_showed_what(competing: str) -> None:
    table = competing[competing.index("Lesson steps"):competing.index("Checks")]
    assert re.search(r"^2\s+30\.0s\s+workers#0 crashed\.", table, re.M)
    assert re.search(r"^4\s+50\.0s\s+workers#0 is back after 20 s", table, re.M)


def test_a_step_that_never_happens_says_so() -> None:
    out = run("competing-consumers", "--set", "faults[0].enabled=false").output
    table = out[out.index("Lesson steps"):out.index("Checks")]
    assert re.search(r"^2\s+never\s+did not happen \(instance_crashed\{consumer=workers\}\)", table, re.M)


def test_quiet_and_json_do_not_narrate() -> None:
    import json

    assert "step 1 ·" not in run("competing-consumers", "-q").output
    result = run("competing-consumers", "--json")
    report = json.loads(result.stdout)
    assert [s["step"] for s in report["steps"]] == [1, 2, 3, 4, 5]
    assert report["summary"]["lesson_facts"]["instances"][0]["consumer"] == "workers"


def test_the_idempotent_consumer_shows_the_repeats_it_skipped() -> None:
    out = " ".join(run("idempotent-consumer", "-q").output.split())
    assert re.search(r"duplicates skipped [1-9]\d*", out)
