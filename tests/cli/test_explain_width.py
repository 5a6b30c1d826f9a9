"""Issue 13: `evtool explain LESSON` at 80 columns (and in a pipe) cuts nothing: expressions in the
expectations table fold instead of ending in `…`, and every variation's command stays on one line."""

from __future__ import annotations

import shlex

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.scenario.lessons import lesson_dir

LESSONS = sorted(p.stem for p in lesson_dir().glob("*.yaml"))


@pytest.mark.parametrize("lesson", LESSONS)
def test_explain_at_80_columns_cuts_nothing(lesson: str) -> None:
    result = CliRunner().invoke(app, ["explain", lesson], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    for line in result.output.splitlines():
        if line.strip().startswith("evtool run "):
            shlex.split(line)  # a whole command: balanced quotes on its one line
            assert "turns red" not in line


def test_brackets_in_user_text_are_text_not_markup() -> None:
    """`only_tags=[poison]` printed as `only_tags=,` when Rich read `[poison]` as a style tag."""
    result = CliRunner().invoke(app, ["explain", "retries-dlq-poison"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert "only_tags=[poison]" in result.output
    result = CliRunner().invoke(app, ["run", "retries-dlq-poison", "--no-record", "--quiet", "--set",
                                      "consumers.billing.retry.non_retryable=[ParseError]"],
                                env={"COLUMNS": "200", "NO_COLOR": "1", "CI": "true"})
    assert "non_retryable=[ParseError]'" in result.output, result.output
