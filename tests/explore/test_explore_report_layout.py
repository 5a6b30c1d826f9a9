"""The explore report laid out for the width: at 80 and 120 columns (a pipe is 80) no line is longer than
the width and no phrase is split across lines (`evtool.report.phrases.Phrases`)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.cli.explore import counterexample_report, none_found_report, search_report
from evtool.explore.candidate import Runner
from evtool.explore.search import Budget, Explorer
from evtool.explore.shrink import Shrinker
from evtool.report.phrases import Phrases

FIXTURES = Path(__file__).parent / "fixtures"
BUGGY = FIXTURES / "charge-twice.yaml"
CORRECT = FIXTURES / "charge-once.yaml"


def render(parts: list[Phrases], width: int) -> list[str]:
    buf = io.StringIO()
    con = Console(file=buf, width=width, color_system=None, highlight=False)
    for p in parts:
        p.print(con)
    return buf.getvalue().splitlines()


def assert_laid_out(parts: list[Phrases], width: int, *, copyable: tuple[str, ...] = ()) -> list[str]:
    lines = render(parts, width)
    for line in lines:
        assert len(line) <= width or any(c in line for c in copyable), (width, line)
    for p in parts:
        for phrase in p.phrases:
            text = phrase.plain
            if p.indent + len(text) + 1 <= width:  # a phrase that fits in a line is never split
                assert any(text in line for line in lines), (width, text, lines)
    return lines


@pytest.fixture(scope="module")
def explored() -> tuple[Explorer, Any, Any]:
    runner = Runner(BUGGY.read_text(encoding="utf-8"), str(BUGGY))
    explorer = Explorer(runner, check="charged-once", seed=1, budget=Budget(runs=30))
    found = explorer.search()
    assert found is not None
    shrinker = Shrinker(runner, found, "charged-once", max_runs=60)
    return explorer, shrinker.shrink(), shrinker.stats


@pytest.mark.parametrize("width", [80, 120])
def test_the_search_and_counterexample_fit_the_width_and_keep_phrases_whole(explored: Any, width: int) -> None:
    explorer, best, stats = explored
    parts = search_report(explorer, Budget(runs=30), 1.23)
    parts += counterexample_report(best, "charged-once", stats, "0123456789ab", "charge-twice")
    lines = assert_laid_out(parts, width)
    text = "\n".join(lines)
    assert re.search(r"^searched \d+ runs in 1\.2s \(30 runs budget\):", text, re.M)
    assert re.search(r"\d+ distinct schedules \(digests\)", text)  # the count stays with its words
    assert re.search(r"\d+ instants? where events of different actors fell due together", text)
    assert "  run it again: evtool run charge-twice --replay-interventions 0123456789ab" in lines or \
        "    evtool run charge-twice --replay-interventions 0123456789ab" in lines


@pytest.mark.parametrize("width", [80, 120])
def test_none_found_fits_the_width_and_is_never_called_a_proof(width: int) -> None:
    lines = assert_laid_out([none_found_report(Budget(seconds=30))], width)
    text = " ".join(line.strip() for line in lines)
    assert text.startswith("no failing run found within the budget (30s). This is not a proof:")
    assert "proof" not in text.replace("This is not a proof", "")


def test_at_80_columns_a_long_lead_moves_phrases_to_an_indented_line() -> None:
    p = Phrases("searched 2000 runs in 29.9s (30s budget):",
                ["177 seeds", "1679 runs with faults", "1856 distinct schedules (digests)"])
    assert [t.plain for t in p.lines(80)] == [
        "searched 2000 runs in 29.9s (30s budget): 177 seeds, 1679 runs with faults,",
        "  1856 distinct schedules (digests)",
    ]
    assert [t.plain for t in p.lines(120)] == [
        "searched 2000 runs in 29.9s (30s budget): 177 seeds, 1679 runs with faults, 1856 distinct schedules (digests)"]


def test_prose_longer_than_a_line_wraps_between_words_and_commands_stay_whole() -> None:
    prose = Phrases("  observed:", ["one two three " * 10])
    lines = [t.plain for t in prose.lines(40)]
    assert all(len(line) <= 40 for line in lines) and len(lines) > 2
    assert " ".join(w for line in lines for w in line.split()) == "observed: " + " ".join(["one two three"] * 10)
    cmd = "evtool run scenarios/a/very/long/path/to/a/scenario.yaml --replay-interventions 0123456789ab"
    lines = [t.plain for t in Phrases("  run it again:", [cmd], wrap_long=False).lines(60)]
    assert lines == ["  run it again:", "    " + cmd]


def cli(db: Path, columns: int, *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "1", "EVTOOL_DB": str(db)})


@pytest.mark.parametrize("width", [80, 120])
def test_the_command_in_a_pipe_fits_the_width(tmp_path: Path, width: int) -> None:
    res = cli(tmp_path / "runs.db", width, "explore", "idempotent-consumer", "--check", "charged-once",
              "--set", "consumers.billing.idempotency=off", "--budget", "20 runs")
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    assert all(len(line) <= width for line in lines), [line for line in lines if len(line) > width]
    assert re.search(r"\d+ distinct schedules \(digests\)", res.output)
    assert re.search(r"at \d+\.\d+s: pause consumer:billing#\d for \d+(ms|s)$", res.output, re.M)
    res = cli(tmp_path / "runs.db", width, "explore", str(CORRECT), "--budget", "10 runs")
    assert res.exit_code == 0, res.output
    assert all(len(line) <= width for line in res.output.splitlines())


def test_a_counterexample_of_another_seed_names_the_seed_the_search_found(explored: Any) -> None:
    from dataclasses import replace

    _explorer, best, stats = explored
    other = replace(stats, seed_before=best.candidate.seed + 1)
    lines = assert_laid_out(counterexample_report(best, "charged-once", other, None, "charge-twice"), 80)
    text = " ".join(line.strip() for line in lines)
    assert f"seed {best.candidate.seed} (the search found seed {best.candidate.seed + 1};" in text
    same = " ".join(line.strip() for line in render(counterexample_report(best, "charged-once", stats, None, "x"), 80))
    assert "the search found seed" not in same
