"""Every export format, produced from a stored run and checked for content and structure."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema
import pytest

from evtool.report.export import FORMATS, export_run, lesson_block, run_schema, to_json
from evtool.report.html import to_html
from evtool.report.mermaid import pick_flows, to_mermaid
from evtool.store.codec import loads

if TYPE_CHECKING:  # the fixture's type, from this folder's conftest
    from conftest import Recorded


def test_json_export_validates_against_the_schema(recorded: Recorded) -> None:
    text = export_run(recorded.store, recorded.a.id, "json")
    assert text is not None
    doc = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(run_schema())
    jsonschema.validate(doc, run_schema())
    assert doc["run"] == recorded.a.to_dict()
    assert doc["result"] == recorded.result_a.to_dict()
    assert [d["msg"] for d in doc["dead_letters"]] == [e.msg for e in recorded.events_a if e.kind == "dead_lettered"]


def test_json_schema_rejects_a_broken_document(recorded: Recorded) -> None:
    doc = to_json(recorded.a, recorded.result_a)
    doc["result"]["outcome"] = "sort of"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, run_schema())
    incomplete = to_json(recorded.a, None)
    jsonschema.validate(incomplete, run_schema())


def test_jsonl_is_the_whole_trace_one_event_per_line(recorded: Recorded) -> None:
    buf = io.StringIO()
    assert export_run(recorded.store, recorded.a.id, "jsonl", out=buf) is None
    lines = buf.getvalue().splitlines()
    assert len(lines) == len(recorded.events_a)
    for line, event in zip(lines, recorded.events_a, strict=True):
        d = loads(line)
        assert (d["t"], d["kind"], d.get("msg"), d.get("data")) == (event.t, event.kind, event.msg, event.data)


def test_markdown_tables_are_well_formed(recorded: Recorded) -> None:
    text = export_run(recorded.store, recorded.a.id, "md")
    assert text is not None
    assert text.startswith(f"# {recorded.a.lesson_title}: {recorded.result_a.outcome}")
    for section in ("## Checks", "## Channels", "## Consumers", "## Latency, publish to handled", "## Dead letters"):
        assert section in text
    # every table: a header row, a separator row with the same number of columns, rows with that many cells
    blocks = re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M)
    assert len(blocks) == 6
    for block in blocks:
        rows = block.strip("\n").split("\n")
        width = len(re.split(r"(?<!\\)\|", rows[0])) - 2
        assert re.fullmatch(r"\|(?:-{3}:?\|)+", rows[1].replace("---:", "---:")), rows[1]
        assert rows[1].count("|") - 1 == width
        for row in rows[2:]:
            assert len(re.split(r"(?<!\\)\|", row)) - 2 == width, row
    for check in recorded.result_a.checks:
        assert check["name"] in text
    assert "`m-37`" in text
    # dead letters read the engine's convention: emitted at the source, data.target is the dead-letter queue
    assert "| orders → orders.dlq | rejected | 4 |" in text


ARROW = re.compile(r"^    (p_\w+)(->>|-->>|--x|-x)(p_\w+): [^;#\n]+$")
LINE_FORMS = [
    re.compile(r"^sequenceDiagram$"),
    re.compile(r"^    %% [^\n]*$"),
    re.compile(r"^    (participant|actor) p_\w+ as [^;#:\n]+$"),
    re.compile(r"^    rect rgba\(\d+,\d+,\d+,[\d.]+\)$"),
    re.compile(r"^    end$"),
    re.compile(r"^    Note over p_\w+: [^;#\n]+$"),
    ARROW,
]


def test_mermaid_emits_only_known_grammar_lines(recorded: Recorded) -> None:
    text = export_run(recorded.store, recorded.a.id, "mermaid")
    assert text is not None
    lines = text.rstrip("\n").split("\n")
    declared = set()
    for line in lines:
        assert any(form.match(line) for form in LINE_FORMS), line
        m = re.match(r"^    (?:participant|actor) (p_\w+)", line)
        if m:
            declared.add(m.group(1))
        a = ARROW.match(line)
        if a:
            assert {a.group(1), a.group(3)} <= declared, line
    assert lines.count("    end") == sum(line.startswith("    rect") for line in lines) == 6
    # dead-lettered flows come first and show every attempt and the move to the dead-letter queue
    assert "Note over p_orders: m-37" in text
    assert "p_orders-xp_orders_dlq: dead-lettered (rejected)" in text
    assert "p_orders_dlq->>p_orders: redriven" in text  # m-37 goes back from the dead-letter queue
    assert "(unknown)" not in text
    for attempt in range(1, 5):
        assert f"delivery {attempt}" in text


def test_pick_flows_is_bounded_and_prefers_dead_letters() -> None:
    assert pick_flows(["d1", "d2", "d3", "d4"], ["n1", "n2", "n3", "n4"], limit=5) == ["d1", "d2", "d3", "n1", "n2"]
    assert pick_flows([], ["n1"], limit=5) == ["n1"]
    assert pick_flows(["d1"], ["n1", "r1"], limit=3, retried=["d1", "r1", "r2"]) == ["d1", "r1", "r2"]
    assert len(pick_flows([f"d{i}" for i in range(50)], [f"n{i}" for i in range(50)], limit=100)) == 12
    assert to_mermaid({}) == "sequenceDiagram\n"


def test_html_is_self_contained_and_holds_the_checks(recorded: Recorded) -> None:
    text = export_run(recorded.store, recorded.a.id, "html")
    assert text is not None
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    for check in recorded.result_a.checks:
        assert check["name"] in text
    assert text.count("<svg") == 3
    assert "Depth over time" in text and "Throughput" in text and "Latency, publish to handled" in text
    # nothing is fetched: no scripts, no external links, no url() in the CSS
    assert "<script" not in text and "<link" not in text and "url(" not in text
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", text)
    assert "m-37" in text and recorded.a.id in text


def test_every_format_exports(recorded: Recorded) -> None:
    for fmt in FORMATS:
        assert export_run(recorded.store, recorded.b.id, fmt)
    with pytest.raises(ValueError, match="unknown export format"):
        export_run(recorded.store, recorded.b.id, "pdf")


LESSON = """
lesson:
  title: Retries
  summary: Poison goes to the `orders.dlq`.
  level: beginner
  concepts: [retry, dead-letter-queue]
  goals: ["Tell a transient failure from a poison message."]
  steps:
    - at: 0s
      say: "Watch `billing`."
    - event: dead_lettered{tag=poison}
      say: "It moved."
      ask: {question: "How many deliveries?", answer: "4", explain: "max_attempts counts every delivery."}
  try_next:
    - say: "Turn idempotency off."
      set:
        consumers.billing.idempotency: "off"
        faults[0].enabled: true
      fails: [charged-once]
    - "Set retry.on_exhausted to requeue."
"""


def test_lesson_block_is_read_from_the_scenario_text() -> None:
    assert lesson_block(LESSON)["title"] == "Retries"  # type: ignore[index]
    assert lesson_block("description: Plain\n") == {"summary": "Plain"}
    assert lesson_block("- a list\n") is None
    assert lesson_block(": bad: [yaml") is None


def test_html_renders_the_lesson(recorded: Recorded) -> None:
    header, result = recorded.store.get(recorded.a.id)
    text = to_html(header, result, lesson=lesson_block(LESSON))
    assert "Lesson: Retries" in text and "beginner" in text
    assert "Poison goes to the <code>orders.dlq</code>." in text
    assert "<span class=concept>dead-letter-queue</span>" in text
    assert "Tell a transient failure from a poison message." in text
    assert "when <code>dead_lettered{tag=poison}</code>" in text
    assert "<summary>How many deliveries?</summary><p><strong>4</strong> — max_attempts counts" in text
    assert "<code>--set consumers.billing.idempotency=off</code> <code>--set faults[0].enabled=true</code>" in text
    assert "expect these checks to fail: charged-once" in text
    assert "Set retry.on_exhausted to requeue." in text
    assert "<script" not in text


def find_chromium() -> str | None:
    """The chromium binary, if one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_renders_in_headless_chromium(recorded: Recorded, tmp_path: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no chromium found: install it (apt-get install -y chromium)")
        pytest.skip("no chromium on PATH; install Debian's chromium to render the HTML report")
    text = export_run(recorded.store, recorded.a.id, "html")
    assert text is not None
    page = tmp_path / "report.html"
    page.write_text(text, encoding="utf-8")
    shot = tmp_path / "report.png"
    profile = tempfile.mkdtemp(dir=tmp_path)
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2000)
    assert len(data) > 50_000  # a blank page compresses to a few kB; the report does not
    dump = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dump.returncode == 0
    for check in recorded.result_a.checks:
        assert check["name"] in dump.stdout


def test_summary_tables_keep_their_names_whole_at_80_columns_and_in_a_pipe() -> None:
    """Issue: at 80 columns (and in any pipe) the Channels table cut every channel name to `que…`."""
    import io

    from rich.console import Console

    from evtool.report.summary import channels_table, consumers_table

    summary = {"channels": {"orders": {"kind": "queue", "published": 2330, "acked": 2327, "dead_lettered": 3},
                            "orders.dead-letters": {"kind": "queue", "ready": 3}},
               "consumers": {"billing-service": {"instances": 3, "handled": 2327, "failed": 124,
                                                 "latency_ms": {"p50": 38.1, "p99": 924.0, "max": 2970.0}}}}
    for width in (60, 80, 120):
        buf = io.StringIO()
        Console(file=buf, width=width, force_terminal=False).print(channels_table(summary), crop=False)
        Console(file=buf, width=width, force_terminal=False).print(consumers_table(summary), crop=False)
        text = buf.getvalue()
        assert "orders.dead-letters" in text and "billing-service" in text, (width, text)
        assert "published" in text and "dead" in text
        assert max(len(line) for line in text.splitlines()) <= width
    buf = io.StringIO()
    Console(file=buf, width=120).print(channels_table(summary))
    assert "kind" in buf.getvalue() and "delayed" in buf.getvalue()   # a wide terminal shows everything


def test_the_rerun_command_is_never_wrapped() -> None:
    """A command the user copies stays on one line at 80 columns and in a pipe."""
    import io

    from rich.console import Console

    from evtool.report.summary import render_report, run_report

    report = run_report(scenario_id="retries-dlq-poison", path="retries-dlq-poison", title="t",
                        profile="default", transport="local", seed=7,
                        overrides={"consumers.billing.idempotency": "off", "faults[0].enabled": "true",
                                   "run.duration": "90s"},
                        digest="bbf26aa5cfdb1523" * 4, virtual_ns=1, events=1, outcome="failed", drain="complete",
                        summary={}, checks=[])
    buf = io.StringIO()
    Console(file=buf, width=80).print(render_report(report), crop=False)   # as the commands print it
    lines = buf.getvalue().splitlines()
    rerun = [ln for ln in lines if ln.startswith("re-run:")]
    assert len(rerun) == 1 and rerun[0].rstrip().endswith("--set run.duration=90s"), lines[-3:]
    assert any("digest bbf26aa5cfdb1523" in ln and "seed 7" in ln for ln in lines)
