"""`evtool run LESSON --variations` / `--profiles a,b,c`: checks × runs, with the key numbers."""

from __future__ import annotations

import json

import pytest
from rich.text import Text
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widgets import Static
from typer.testing import CliRunner

from evtool.cli.app import app as cli
from evtool.report.matrix import legend, matrix_table
from evtool.scenario.loader import LoadedScenario, load_scenario
from evtool.sim.matrix import Column, ColumnResult, Matrix, lesson_columns, run_matrix
from evtool.tui.screens.matrix import MatrixModal

from .helpers import LESSON, make_app


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


def test_the_variations_legend_gives_the_set_arguments_a_user_types() -> None:
    """Each try's overrides as the lesson's own `Try next` commands give them (`[ParseError]`, `true`, a flow
    mapping), one shell word each, not Python's repr (`['ParseError']`, `True`, `{'at': '110s'}`); what each
    promises to break on a line of its own."""
    r = CliRunner().invoke(cli, ["run", "retries-dlq-poison", "--variations"], env={"COLUMNS": "80"})
    out = r.output
    assert "try 1: --set 'consumers.billing.retry.non_retryable=[ParseError]'" in out
    assert "--set 'faults[0].enabled=true'" in out
    assert "--set 'faults[+]={at: 110s, action: redrive, target: channel:orders.dlq}'" in out
    assert "'ParseError'" not in out and "True" not in out
    assert out.count("\n  promises to break: poison-attempts") == 3


def test_run_variations_as_json() -> None:
    r = CliRunner().invoke(cli, ["run", "retries-dlq-poison", "--variations", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [c["label"] for c in data["columns"]] == ["lesson", "try 1", "try 2", "try 3", "try 4"]
    assert data["columns"][2]["verdicts"]["charged-once"] == "fail"
    assert [c["reading"] for c in data["columns"]] == ["passed"] + ["as meant"] * 4


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


# --------------------------------------------------------------- read against the promise (issue 16, defect 1)

def _col(label: str, fails: tuple[str, ...], outcome: str, verdicts: dict[str, str]) -> ColumnResult:
    return ColumnResult(Column(label, {"x": 1} if fails else {}, fails, f"{label} text"), outcome, verdicts,
                        {"deliveries": 10, "dead_lettered": 1, "duplicates": 0, "retries": 2})


def _matrix() -> Matrix:
    """The lesson passes; try 1 breaks exactly what it promised; try 2 breaks another check as well; try 3
    promises to break `a` and holds; try 4 breaks `b` instead of `a`."""
    checks = ["a", "b", "c"]
    return Matrix("demo", checks, [
        _col("lesson", (), "passed", {"a": "pass", "b": "pass", "c": "pass"}),
        _col("try 1", ("a",), "failed", {"a": "fail", "b": "pass", "c": "pass"}),
        _col("try 2", ("a",), "failed", {"a": "fail", "b": "fail", "c": "pass"}),
        _col("try 3", ("a",), "passed", {"a": "pass", "b": "pass", "c": "pass"}),
        _col("try 4", ("a",), "failed", {"a": "pass", "b": "fail", "c": "pass"}),
    ])


def test_a_run_is_read_against_what_it_promised_to_break() -> None:
    assert [r.reading for r in _matrix().results] == \
        ["passed", "as meant", "unexpected", "did not break", "unexpected"]
    assert _col("lesson", (), "failed", {"a": "fail"}).reading == "unexpected"  # the lesson itself broke
    assert _col("x", (), "unknown", {"a": "unknown"}).reading == "unknown"
    assert ColumnResult(Column("x"), "invalid").reading == "invalid"


def test_the_cli_says_as_meant_and_flags_the_unexpected() -> None:
    from rich.console import Console

    console = Console(width=120, record=True)
    mx = _matrix()
    console.print(matrix_table(mx, width=120))
    console.print(legend(mx, width=120))
    out = console.export_text()
    outcome = next(line for line in out.splitlines() if line.strip().startswith("outcome"))
    assert outcome.split()[1:] == ["✓", "passed", "✗", "as", "meant", "!", "unexpected", "!", "all", "held",
                                   "!", "unexpected"]
    assert "failed" not in outcome
    assert "promises to break: a" in out
    assert "! not as promised: b in try 2, a in try 3, a in try 4, b in try 4" in out


def test_the_retries_lesson_variations_all_break_as_meant_on_the_command_line() -> None:
    r = CliRunner().invoke(cli, ["run", "retries-dlq-poison", "--variations"], env={"COLUMNS": "120"})
    outcome = next(line for line in r.output.splitlines() if line.strip().startswith("outcome"))
    assert outcome.count("✗ as meant") == 4 and "✓ passed" in outcome and "failed" not in outcome


def _lines_of(widget: Static) -> list[str]:
    """The lines a widget shows, as a student reads them."""
    return [strip.text for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))]


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_the_dashboard_matrix_fits_and_flags_the_unexpected(lesson: LoadedScenario,
                                                                   size: tuple[int, int]) -> None:
    """The matrix dialog at 80×24: no scrolling, every check name and column label whole, the promise kept
    reads `✗ meant` (or `✗ as meant`), the promise broken stands out (reversed, with `!`)."""
    app, _host = make_app(lesson)
    async with app.run_test(size=size) as pilot:
        view = MatrixModal(LESSON)
        view.compute = lambda: None  # type: ignore[method-assign]  # the matrix comes from the test
        await app.push_screen(view)
        await pilot.pause()
        mx = _matrix()
        mx.checks = ["charges-match-completed-sagas", "poison-attempts", "nothing-lost", "charged-once",
                     "transient-retried", "latency", "queue-bounded"]
        for r in mx.results:
            r.verdicts = {name: r.verdicts.get("abc"[min(i, 2)], "pass") for i, name in enumerate(mx.checks)}
            r.column = Column(r.column.label, r.column.overrides,
                              tuple(mx.checks[0] for _ in r.column.fails[:1]), "x " * 60)
        view.show(mx)
        await pilot.pause()
        scroll = view.query_one(VerticalScroll)
        assert scroll.max_scroll_y == 0, "the matrix scrolls"
        body = view.query_one("#matrix-body", Static)
        assert app.screen.region.contains_region(body.region)  # on screen, not below the fold
        screen = "\n".join(_lines_of(body))
        for name in [*mx.checks, "lesson", "try 1", "try 4", "deliveries", "dead letters", "duplicates"]:
            assert name in screen, name
        outcome = next(line for line in screen.splitlines() if line.startswith("outcome")).split()
        if size[0] == 80:  # short cells
            assert outcome == ["outcome", "✓", "meant", "!unexp", "!held", "!unexp"]
        else:
            assert outcome == ["outcome", "✓", "passed", "✗", "as", "meant", "!", "unexpected", "!", "all", "held",
                               "!", "unexpected"]
        table = matrix_table(mx, title="", width=view.body_width(), edge=False)
        cells = {str(c.header): c for c in table.columns}
        outcome = [list(cells[label]._cells)[0] for label in ("try 2", "try 3")]
        assert all(isinstance(c, Text) and "on " in str(c.style) for c in outcome)  # reversed colours


def test_many_columns_never_cut_a_check_name() -> None:
    """Ten runs at 80 columns (poison-across-brokers has nine variations): numbered columns, one-letter
    outcomes (`m` as meant, `!h` all held), 2.5k numbers; the long check name stays whole."""
    from rich.console import Console

    long = "poison-dead-lettered-by-broker"
    results = [_col("lesson", (), "passed", {long: "pass"})]
    results += [_col(f"try {i}", (long,), "failed", {long: "fail"}) for i in range(1, 9)]
    results += [_col("try 9", (long,), "failed", {long: "pass"})]  # breaks nothing it promised
    results[3].numbers["deliveries"] = 2451
    console = Console(width=80, record=True)
    console.print(matrix_table(Matrix("demo", [long], results), width=80))
    out = console.export_text()
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert any(line.split()[:1] == [long] for line in lines)
    assert next(line for line in lines if line.strip().startswith("check")).split() == \
        ["check", *[str(i) for i in range(1, 11)]]
    outcome = next(line for line in lines if line.strip().startswith("outcome")).split()
    assert outcome == ["outcome", "✓", *["m"] * 8, "!h"]
    assert "2.5k" in out
