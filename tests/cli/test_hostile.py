"""Scenario text reaches the terminal as text: never as Rich markup, never as raw control characters.

A scenario is input. Its message ids, keys, tags, error names, lesson text
and `because` lines are shown by `run`, `show`, `inspect`, `diff`, `runs`,
`explain` and the exports; a hostile one must not clear the screen (ESC [2J),
set the window title (OSC 0), print a hyperlink (OSC 8), ring the bell, use
an 8-bit CSI, nor crash a command with a Rich MarkupError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.report.fmt import safe, visible, visible_data
from evtool.store.runstore import SyncRunStore

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "retries-dlq-poison.yaml"

# YAML double-quoted escapes: \e is ESC, \a BEL, \x9b an 8-bit CSI.
EVIL_ID = r"P\e]0;pwned\a[bold]1[/x]\e[2J\x9b31m"
EVIL_TAG = r"poison\e[31m[/]"
EVIL_KEY = r"\e[2J[red]{n:04d}"
EVIL_ERROR = r"Parse\e]8;;http://evil.example\e\\Error[/bold]"
EVIL_TEXT = r"\e]0;title\a [link=http://x]y[/link] [/] \e[?1049h"
RAW = ("\x1b", "\x07", "\x9b", "\x9d")


def hostile_scenario(tmp_path: Path) -> Path:
    """The retries lesson with control sequences and markup in every free-text place."""
    text = SCENARIO.read_text(encoding="utf-8")
    text = text.replace("{at: 20s, id: POISON-1, tag: poison,", f'{{at: 20s, id: "{EVIL_ID}", tag: "{EVIL_TAG}",')
    text = text.replace('format: "cust-{n:04d}"', f'format: "{EVIL_KEY}"')
    text = text.replace("error: ParseError", f'error: "{EVIL_ERROR}"')
    text = text.replace('title: "Retries, backoff and the dead-letter queue"', f'title: "{EVIL_TEXT}"')
    text = text.replace('because: "about 5% of orders fail transiently, so retries must have happened."',
                        f'because: "{EVIL_TEXT}"')
    text = text.replace('question: "How many times was POISON-1 delivered to a billing worker?"',
                        f'question: "{EVIL_TEXT}"')
    text = text.replace('- "Tell a transient failure from a poison message."', f'- "{EVIL_TEXT}"')
    assert text.count(r"\e") >= 8
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str) -> Any:
    """Invoke the CLI in-process, wide enough not to wrap."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "NO_COLOR": "1"})


def assert_clean(result: Any, *codes: int) -> str:
    """The command ended normally and printed no raw control character."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in codes, result.output
    out = result.output
    assert "Traceback" not in out and "MarkupError" not in out
    for ch in RAW:
        assert ch not in out, f"raw {ch!r} in:\n{out!r}"
    return str(out)


@dataclass
class Hostile:
    """Two recorded runs of the hostile scenario (as is, and with idempotency off)."""

    path: Path
    db: Path
    a: str
    b: str
    poison: str  # the hostile message id, as stored
    key: str     # a hostile key of the poison message


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    path = hostile_scenario(tmp)
    db = tmp / "runs.db"
    ids = []
    for extra in ([], ["--set", "consumers.billing.idempotency=off"]):
        r = cli("run", str(path), "--db", str(db), "-q", "--duration", "30s", *extra)
        assert_clean(r, 0, 1)
        with SyncRunStore(db) as store:
            ids.append(store.resolve("last"))
    with SyncRunStore(db) as store:
        poison = next(e for e in store.events(ids[0], kinds=["published"]) if e.msg and "\x1b" in e.msg)
    assert poison.key is not None and "\x1b" in poison.key
    yield Hostile(path, db, ids[0], ids[1], str(poison.msg), poison.key)


def test_safe_and_visible() -> None:
    assert visible("a\x1b[2Jb\x07\x9b\u202e") == "a\\x1b[2Jb\\x07\\x9b\\u202e"
    assert visible("one\ntwo\t") == "one\\ntwo\\t"
    assert visible("one\ntwo\t\x1b", multiline=True) == "one\ntwo\t\\x1b"
    assert safe("[bold]x[/x]\x1b") == "\\[bold]x\\[/x]\\x1b"
    assert visible_data({"\x1b": ["\x07", {"because": "a\nb\x1b"}], "n": 3}) == {
        "\\x1b": ["\\x07", {"because": "a\nb\\x1b"}], "n": 3}


def test_run_and_show_print_hostile_text_as_text(hostile: Hostile) -> None:
    r = cli("run", str(hostile.path), "--db", str(hostile.db), "-q", "--duration", "30s", "--no-record")
    out = assert_clean(r, 0, 1)
    assert "\\x1b]0;title\\x07 [link=http://x]y[/link] [/]" in out  # the `because` line, shown as typed
    out = assert_clean(cli("show", hostile.a, "--db", str(hostile.db)), 0)
    assert f"messages: {visible(hostile.poison)}" in out  # the failed check's evidence, shown as typed


def test_inspect_prints_hostile_text_as_text(hostile: Hostile) -> None:
    db = str(hostile.db)
    out = assert_clean(cli("inspect", hostile.a, "-m", hostile.poison, "--db", db), 0)
    assert visible(hostile.poison) in out
    assert "failed: Parse\\x1b]8;;http://evil.example\\x1b\\Error[/bold]" in out
    out = assert_clean(cli("inspect", hostile.a, "--key", hostile.key, "--db", db), 0)
    assert f"key {visible(hostile.key)}" in out
    out = assert_clean(cli("inspect", hostile.a, "--kind", "dead_lettered", "--db", db), 0)
    assert visible(hostile.poison) in out
    out = assert_clean(cli("inspect", hostile.a, "-m", "[bold]x[/y]\x1b[2J", "--db", db), 0)
    assert "[bold]x[/y]\\x1b[2J" in out
    out = assert_clean(cli("inspect", hostile.a, "--kind", "failed", "--db", db), 0)


def test_runs_diff_and_explain_print_hostile_text_as_text(hostile: Hostile) -> None:
    db = str(hostile.db)
    assert_clean(cli("runs", "--db", db), 0)
    out = assert_clean(cli("diff", hostile.a, hostile.b, "--db", db), 0)
    assert "transient-retried" in out and "reason rejected" in out
    out = assert_clean(cli("explain", str(hostile.path), "--answers"), 0)
    assert "\\x1b]0;title\\x07 [link=http://x]y[/link] [/] \\x1b[?1049h" in out
    bad_ref = assert_clean(cli("show", "[/x]\x1b[2J", "--db", db), 2)
    assert "is not a run id" in bad_ref


def test_exports_to_the_terminal_carry_no_control_characters(hostile: Hostile) -> None:
    db = str(hostile.db)
    for fmt in ("md", "mermaid", "html", "json", "jsonl"):
        out = assert_clean(cli("export", hostile.a, "-f", fmt, "--db", db), 0)
        if fmt == "json":
            doc = json.loads(out)
            assert doc["dead_letters"][0]["msg"] == hostile.poison  # the data itself is kept exactly
        if fmt == "jsonl":
            assert any(json.loads(line).get("msg") == hostile.poison for line in out.splitlines())


def test_markdown_escapes_html_and_keeps_code_spans_closed() -> None:
    from evtool.report.markdown import code, plain, to_markdown
    from evtool.store.model import RunHeader, RunResult

    assert plain("<script>alert(1)</script> *x* | [a](b)") == (
        "&lt;script&gt;alert(1)&lt;/script&gt; \\*x\\* \\| \\[a\\](b)")
    assert code("a`b") == "``a`b``"
    assert code("`x``") == "``` `x`` ```"
    header = RunHeader(id="abc", scenario_id="<img src=x onerror=alert(1)>", scenario_path="a`b|c.yaml",
                       scenario_text="", scenario_hash="0" * 64, seed=1, overrides={"x`y": "<b>"},
                       lesson_title="T <i>x</i> \x1b[2J", started_at="2026-01-01T00:00:00")
    result = RunResult(outcome="failed", ended_at="x", checks=[
        {"name": "<b>n</b>", "status": "fail", "expected": "a|b", "observed": "`", "because": "<script>",
         "evidence": ["m`1", "<m2>"]}])
    md = to_markdown(header, result)
    assert "\x1b" not in md and "\\x1b" in md
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(md)
    for tag in ("<img", "<script", "<i>", "<b>"):
        assert tag not in html, html
    assert "<code>a`b|c.yaml</code>" in html and "<code>m`1</code>" in html and "<code>&lt;m2&gt;</code>" in html
    assert "<code>`x``</code>" not in html and "<td>`</td>" in html  # a lone backtick stays text
    # every row of every table has as many cells as its header: no `|` from a value split a row
    for tbl in re.findall(r"<table>.*?</table>", html, re.S):
        widths = {len(re.findall(r"<t[hd][ >]", row)) for row in re.findall(r"<tr>.*?</tr>", tbl, re.S)}
        assert len(widths) == 1, tbl


def test_mermaid_labels_encode_angle_brackets_and_ampersands() -> None:
    from evtool.core.events import TraceEvent
    from evtool.report.mermaid import to_mermaid

    events = [TraceEvent(0, "published", "<m&1>", "q<x>", "p&q", None, "k<1>", 0, None, None),
              TraceEvent(1, "failed", "<m&1>", "q<x>", "c", 0, None, 1, None, {"error": "<img src=x>&\x1b"})]
    out = to_mermaid({"<m&1>": events}, title="<b>t</b>")
    assert "<" not in out and ">" not in out.replace("->>", "").replace("--x", "") and "&" not in out
    assert "#60;m#38;1#62;" in out and "\x1b" not in out


def test_emoji_codes_in_user_text_are_shown_as_typed(tmp_path: Path) -> None:
    """Rich replaces `:ok:` with an emoji in the markup it prints unless its console is told not to: a path, a
    name or any other text the user typed is shown as typed, in an error message as in the summary."""
    out = assert_clean(cli("run", "x:ok:y:smile:", "--no-record"), 2)
    assert "x:ok:y:smile:" in out
    assert "\U0001f197" not in out and "\U0001f604" not in out
    text = (ROOT / "evtool" / "lessons" / "competing-consumers.yaml").read_text(encoding="utf-8")
    text = "\n".join(line if "inc:" in line or "state:" in line else line.replace("thumbnails", "thumbs:up:x")
                     for line in text.splitlines())  # the channel renamed; the state field keeps its name
    path = tmp_path / "named.yaml"
    path.write_text(text, encoding="utf-8")
    out = assert_clean(cli("run", str(path), "-q", "--no-record", "--duration", "5s"), 0, 1)
    assert " thumbs:up:x " in out and "entered thumbs:up:x is handled" in out  # the table, a check's line
    assert "\U0001f199" not in out  # not thumbs🆙x
