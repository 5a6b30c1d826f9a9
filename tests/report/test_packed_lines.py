"""Lines of facts at 80 columns: the live view's and the summary's items each stay whole on a line.

Before, the live view's header and counters wrapped wherever the 80th column fell (`order` on one line,
`breaks 0` on the next; `1.7s` alone), and the summary's last line was printed unwrapped, so a terminal
folded it in the middle of the run id (`· r` / `un 972ae6a67ac5`).
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from evtool.report.fmt import Packed


def _lines(renderable: object, width: int) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(renderable, crop=False)
    return buf.getvalue().splitlines()


def test_packed_breaks_between_items_only_and_fills_each_line() -> None:
    items = [Text(f"item number {i}") for i in range(12)]
    lines = _lines(Packed(items, sep=" · "), 40)
    assert all(len(line) <= 40 for line in lines)
    assert [p.strip() for line in lines for p in line.split(" · ")] == [f"item number {i}" for i in range(12)]
    # no line could have taken the next item
    for line, nxt in zip(lines, lines[1:], strict=False):
        assert len(line.rstrip()) + len(" · ") + len(nxt.split(" · ")[0]) > 40
    assert _lines(Packed(items[:2], sep=" · "), 200) == ["item number 0 · item number 1"]


def test_the_live_view_keeps_each_fact_whole_at_80_columns() -> None:
    from evtool.report.live import live_view
    from evtool.scenario.lessons import find_lesson
    from evtool.scenario.loader import load_scenario
    from evtool.sim.engine import Engine

    engine = Engine(load_scenario(find_lesson("retries-dlq-poison")))
    engine.run_until(93_700_000_000)
    lines = _lines(live_view(engine, speed=20, wall_s=4.7), 80)
    assert all(len(line) <= 80 for line in lines)
    text = "\n".join(lines)
    assert "t=1:33.7 / 2:00.0 (load)" in text          # a clock, not "1.562m"
    for fact in ("order breaks 0", "crashes 0", "seed 7", "events in 4.7s", "transient-retried",
                 "queue-bounded"):
        assert any(fact in line for line in lines), fact


def test_the_summary_foot_keeps_the_run_id_whole_at_80_columns() -> None:
    from evtool.report.summary import render_report, run_report

    report = run_report(scenario_id="retries-dlq-poison", path="retries-dlq-poison", title="t", profile="default",
                        transport="local", seed=7, overrides={}, digest="d458fc22981dc583" * 4, virtual_ns=1,
                        events=1, outcome="passed", drain="complete", summary={}, checks=[], run_id="972ae6a67ac5")
    narrow, wide = _lines(render_report(report), 80), _lines(render_report(report), 200)
    foot = [line.rstrip() for line in narrow if line.startswith(("PASSED", "run "))]
    assert foot == ["PASSED  seed 7 · profile default · transport local · digest d458fc22981dc583",
                    "run 972ae6a67ac5"]
    assert ("PASSED  seed 7 · profile default · transport local · digest d458fc22981dc583 · run 972ae6a67ac5"
            in [line.rstrip() for line in wide])
