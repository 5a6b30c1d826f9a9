"""`inspect --kind` counts what it does not show without building every event, and says the same thing."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from evtool.report.inspect import inspect_run, render_events

if TYPE_CHECKING:  # the fixture's type, from this folder's conftest
    from conftest import Recorded


def _text(renderable: object) -> str:
    buf = io.StringIO()
    Console(file=buf, width=140, color_system=None).print(renderable)
    return buf.getvalue()


@pytest.mark.parametrize("kinds", [["acked"], ["dead_lettered"], ["published", "delivered"], ["redriven"]])
@pytest.mark.parametrize("limit", [1, 5, 200, 100_000])
def test_kind_view_is_the_event_counting_view(recorded: Recorded, kinds: list[str], limit: int) -> None:
    matching = [e for e in recorded.events_a if e.kind in kinds]
    got = _text(inspect_run(recorded.store, recorded.a.id, kinds=kinds, limit=limit))
    assert got == _text(render_events(matching, limit=limit))
    rest = len(matching) - limit
    assert (f"... and {rest} more" in got) == (rest > 0)


def test_count_kinds_of_the_recorded_run(recorded: Recorded) -> None:
    for kinds in (["acked"], ["dead_lettered", "redriven"], ["nothing"]):
        assert recorded.store.count_kinds(recorded.a.id, kinds) == sum(e.kind in kinds for e in recorded.events_a)
