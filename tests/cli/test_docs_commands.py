"""Every `evtool …` command of the README and of docs/*.md, run as written at 80 and 120 columns.

A student copies these first. Each must work (no invalid-input exit), every table must keep its
identifying column whole (a channel, consumer, group, check, message id or run id is never cut to
`que…`), and every command meant to be copied (`re-run:`, the variations `explain` prints) must be
on one line, whole. Placeholders are filled in: LESSON with every bundled lesson, `<run-a>` and
`<run-b>` with two recorded runs, `my-scenario.yaml` with a scenario `evtool new` wrote. Commands for
real brokers (`--transport`, `--compare`) need a broker and are covered by tests/transports; here they
only have to parse and load.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.report.presentation import CHECK_STATUS
from evtool.scenario.lessons import lesson_dir

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LESSONS = sorted(p.stem for p in lesson_dir().glob("*.yaml"))
WIDTHS = (80, 120)
FAST_LESSONS = ("retries-dlq-poison", "competing-consumers", "pubsub-fanout", "order-saga", "cqrs-projection")

# Table title -> the columns that identify a row (the first cells of a row).
STATUS_SYMBOLS = {sym for sym, _ in CHECK_STATUS.values()}
IDENTIFYING = {"Channels": ("channel",), "Consumers": ("consumer",), "Instances": ("consumer",),
               "Groups": ("channel", "group"), "Checks": ("check",)}


def doc_commands() -> list[tuple[str, str]]:
    """(document, command) for every `evtool …` line in a code block (continuation lines joined)."""
    out = []
    for doc in DOCS:
        for lang, block in re.findall(r"```([a-z]*)\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            lines = block.replace("\\\n", " ").splitlines()
            for line in lines:
                if lang == "console" and not line.startswith("$ "):
                    continue  # a console block is a session: only its `$ ` lines are commands, the rest output
                text = line.strip().removeprefix("$ ")
                if text.startswith("evtool "):
                    # a shell redirection (`> file`, `>> file`) is the shell's part, not evtool's
                    out.append((doc.name, re.split(r"\s+#\s|\s+>>?\s", text)[0].strip()))
    return out


def test_the_docs_have_commands_to_try() -> None:
    found = doc_commands()
    assert len(found) >= 15
    assert any(c.startswith("evtool run retries-dlq-poison") for _, c in found)


def _expand(command: str) -> list[str]:
    if "LESSON" in command:
        return [command.replace("LESSON", lesson) for lesson in LESSONS]
    return [command]


def _cases() -> list[Any]:
    cases = []
    for doc, command in doc_commands():
        for concrete in _expand(command):
            words = shlex.split(concrete)
            heavy = words[1] == "run" and any(lesson in concrete for lesson in LESSONS) \
                and not any(f in concrete for f in FAST_LESSONS)
            for width in WIDTHS:
                if heavy and width == 120:
                    continue  # a slow lesson's run is looked at once, at 80 columns
                cases.append(pytest.param(concrete, width, id=f"{doc}:{concrete[:60]}@{width}"))
    return cases


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a run store holding two runs and a `my-scenario.yaml`, as the README's tour leaves it."""
    d = tmp_path_factory.mktemp("tour")
    env = {"EVTOOL_DB": str(d / "runs.db"), "COLUMNS": "120", "NO_COLOR": "1"}
    runner = CliRunner()
    ids = []
    for extra in ([], ["--set", "consumers.billing.idempotency=off", "--set", "faults[0].enabled=true"]):
        result = runner.invoke(app, ["run", "retries-dlq-poison", "--json", *extra], env=env)
        ids.append(json.loads(result.stdout)["run_id"])
    (d / "ids.json").write_text(json.dumps(ids))
    return d


def _fill(command: str, workdir: Path) -> list[str]:
    ids = json.loads((workdir / "ids.json").read_text())
    words = shlex.split(command)
    # `last` is the tour's last run whatever order the tests run in
    words = [ids[0] if w == "<run-a>" else ids[1] if w in ("<run-b>", "last") else w for w in words]
    words = [w for w in words if not (w.startswith("[") and w.endswith("]"))]  # optional parts
    words = [str(ROOT / w) if w.startswith("scenarios/") else w for w in words]
    return words[1:]


def _tables(output: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(title, header line, [(column, cell)]) of each titled table: the identifying cells of its rows.

    A cell is read at its column's position in the header, so a wrapped continuation line (blank in
    that column) is not a row.
    """
    lines = output.splitlines()
    found = []
    for i, line in enumerate(lines):
        title = next((t for t in IDENTIFYING if line.startswith(t)), None)
        if title is None:
            continue
        header_at = next((j for j in range(i + 1, min(i + 4, len(lines))) if lines[j].strip()), None)
        if header_at is None:
            continue
        header = lines[header_at]
        if title == "Checks" and header[:1] in STATUS_SYMBOLS:
            # narrow: each check on its own line (`✓ name`), expected and observed under it
            stacked = [ln for ln in lines[header_at:] if ln[:1] in STATUS_SYMBOLS and ln[1:2] == " "]
            found.append((title, "  stacked: check", [("check", ln[2:].strip()) for ln in stacked]))
            continue
        cells = []
        for row in lines[header_at + 2:]:
            if not row.strip():
                break
            for col in IDENTIFYING[title]:
                m = re.search(rf"(?<![\w-]){col}(?![\w-])", header)
                start = m.start() if m is not None else len(row) - len(row.lstrip())  # unnamed: the first
                if len(row) <= start or row[start] == " ":
                    continue
                cells.append((col, re.split(r"\s{2,}", row[start:].strip())[0]))
        found.append((title, header, cells))
    return found


@pytest.mark.parametrize(("command", "width"), _cases())
def test_a_documented_command_works_and_reads_well(command: str, width: int, workdir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    args = _fill(command, workdir)
    if args[0] == "tui":
        # the dashboard needs a terminal: check that it finds and loads what the README names
        from evtool.cli.run import resolve_scenario_path
        from evtool.scenario.loader import load_scenario

        assert load_scenario(resolve_scenario_path(args[1])).model.id == args[1]
        return
    if args[0] in ("validate", "run") and "my-scenario.yaml" in args and not (workdir / "my-scenario.yaml").exists():
        assert CliRunner().invoke(app, ["new", "my-scenario"]).exit_code == 0
    if args[0] == "new":
        (workdir / f"{args[1]}.yaml").unlink(missing_ok=True)  # `new` never overwrites: start afresh
    if "-o" in args and args[0] != "schema":
        (workdir / args[args.index("-o") + 1]).unlink(missing_ok=True)  # nor does `export -o`
    real_broker = "--transport" in args or "--compare" in args
    if real_broker:
        args = ["validate", next(a for a in args[1:] if not a.startswith("-"))] + \
            [w for i, w in enumerate(args) if w == "--set" or (i and args[i - 1] == "--set")]
        if not Path(args[1]).exists() and args[1] not in LESSONS:
            pytest.skip(f"{args[1]} is the reader's own file")
    env = {"EVTOOL_DB": str(workdir / "runs.db"), "COLUMNS": str(width), "NO_COLOR": "1"}
    result = CliRunner().invoke(app, args, env=env)
    out = result.output
    assert result.exit_code in (0, 1), f"exit {result.exit_code}:\n{out}"
    assert "Traceback" not in out
    assert not reading_problems(out, width), reading_problems(out, width)


def reading_problems(out: str, width: int) -> list[str]:
    """What a reader of `out` would trip over: a cut identifying cell, a lost column, a wrapped command."""
    problems = []
    for title, header, cells in _tables(out):
        for col in IDENTIFYING[title]:
            # (a table whose first column has no header, like diff's, names its rows there)
            if not (re.search(rf"(?<![\w-]){col}(?![\w-])", header) or header.startswith("  ")):
                problems.append(f"{title} lost its `{col}` column at {width} columns")
        problems += [f"{title}: {col} cut to {cell!r} at {width} columns" for col, cell in cells if "…" in cell]
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if not (line.startswith("re-run: ") or line.lstrip().startswith("evtool run ")):
            continue
        text = line.removeprefix("re-run: ").strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        try:
            shlex.split(text)  # balanced quotes: the whole command is on this line
        except ValueError:
            problems.append(f"a copyable command was cut: {line}")
        if nxt.startswith(("--", "'")):
            problems.append(f"a copyable command was wrapped: {line} / {nxt}")
    return problems


def test_the_reading_check_catches_what_it_looks_for() -> None:
    cut = "Channels\n\n channel   published\n ───────\n que…          3\n\n"
    assert reading_problems(cut, 80) == ["Channels: channel cut to 'que…' at 80 columns"]
    lost = "Consumers\n\n instances   handled\n ───\n 3     4\n\n"
    assert reading_problems(lost, 80) == ["Consumers lost its `consumer` column at 80 columns"]
    wrapped = "re-run: evtool run x --seed 1 --set\n'a=[b]'\n"
    assert reading_problems(wrapped, 80) == ["a copyable command was wrapped: re-run: evtool run x --seed 1 --set"
                                             " / 'a=[b]'"]
    assert reading_problems("re-run: evtool run x --set 'a=[b\n", 80)
    stacked = "Checks\n✓ one-outcome-per-req…\n   expected every request\n   observed 3 started\n"
    assert reading_problems(stacked, 80) == ["Checks: check cut to 'one-outcome-per-req…' at 80 columns"]
