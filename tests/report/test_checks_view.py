"""Issue 13: the checks at 80 columns keep the check name, the expected expression and the observed
sentence whole: no `…`, no expression folded into a 20-column cell; wide terminals get the table."""

from __future__ import annotations

import pytest
from rich.console import Console

from evtool.report.summary import CHECKS_WIDE, checks_table

CHECKS = [
    {"name": "duplicates-answered-from-cache", "status": "pass",
     "expected": "count(handled{consumer=pricing, duplicate=true}) > 0", "observed": "count 413, must be > 0"},
    {"name": "latency-bounded-by-timeout", "status": "fail",
     "expected": "max(request.latency{pattern=price-quote}) < 700ms", "observed": "max 721 ms, limit 700 ms",
     "evidence": ["m-1", "m-2"], "because": "a [bold]reply[/bold] after the timeout is wasted"},
]


def _text(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(checks_table(CHECKS))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 100])
def test_narrow_checks_are_stacked_and_whole(width: int) -> None:
    out = _text(width)
    assert "…" not in out
    lines = [line.rstrip() for line in out.splitlines()]
    assert all(len(line) <= width for line in lines)
    assert "✓ duplicates-answered-from-cache" in lines and "✗ latency-bounded-by-timeout" in lines
    for c in CHECKS:
        assert f"expected {c['expected']}" in out and f"observed {c['observed']}" in out
    assert "messages: m-1, m-2" in out
    assert "because: a [bold]reply[/bold] after the timeout is wasted" in out  # text, never markup


def test_wide_checks_are_a_table_when_everything_fits_on_its_line() -> None:
    assert "expected count(" in _text(CHECKS_WIDE)  # name, expression and observed do not fit side by side
    out = _text(120)
    header = next(line for line in out.splitlines() if "expected" in line)
    assert "check" in header and "observed" in header
    assert "count(handled{consumer=pricing, duplicate=true}) > 0" in out and "…" not in out
