"""SVG snapshots of the main screens (pytest-textual-snapshot); update with `pytest --snapshot-update`.

Each docstring says what a reviewer should see in the SVG.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from evtool.scenario.loader import LoadedScenario

from . import scenes


def shoot(snap_compare: Callable[..., bool], scene: scenes.Scene, size: tuple[int, int]) -> bool:
    app, keys = scene

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        await pilot.pause()

    return snap_compare(app, run_before=run_before, terminal_size=size)


def test_lesson_start_80x24(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """80x24. Header: `▶ running 1x │ t 3.000s │ seed 7`. Topology `checkout ─…─▶ [orders ✓ …] ─…─▶ billing 3/3 ✓`
    with the dead-letter edge to `[orders.dlq ✓ 0]`; the channel table (orders, orders.dlq); three billing
    instances; the Lanes tab with a row of cells for `orders` and the legend; the lesson pane at
    `Step 1 of 5` saying that checkout publishes ~20 orders/s; the footer with space, n, +, -, f, r, /, ?, q."""
    assert shoot(snap_compare, scenes.lesson_start(lesson), (80, 24))


def test_mid_run_with_retries(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """120x36. The Retry tab is active: POISON-1 is listed with `↻ 3/4`, a `⏱` countdown and the error
    ParseError; the lesson pane shows step 3 (attempt 2: backoff with full jitter) or step 2."""
    assert shoot(snap_compare, scenes.mid_run_with_retries(lesson), (120, 36))


def test_dead_letter_panel(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """120x36. Header `‖ paused … (lesson step 4)` at t 23.131s. The DLQ tab lists POISON-1:
    `✗ rejected`, ParseError, 4 attempts, `orders → orders.dlq`. The topology shows `[orders.dlq ⚠ 1]`.
    The lesson pane asks how many times POISON-1 was delivered, with choices (1) (3) (4) (5) and
    `press a to reveal the answer`."""
    assert shoot(snap_compare, scenes.dead_letters(lesson), (120, 36))


def test_message_inspector(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """120x36. The inspector dialog on POISON-1: `state ✗ dead  deliveries 4  tag poison`, key cust-0355,
    a time line from 20.002s to 23.131s ending in ✗, and the events: published, delivered, failed
    ParseError, retry_scheduled …, redelivered #2 … #4, rejected, dead_lettered → orders.dlq."""
    assert shoot(snap_compare, scenes.inspector(lesson), (120, 36))


def test_help(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """100x40. The help dialog: a Dashboard group listing space, n, +, -, f, r, /, enter, a, ?, q, 1…5,
    < > , . home with what each does and its binding id (toggle-pause, step, faster, …), then the
    Lanes, Event log and Message inspector groups."""
    assert shoot(snap_compare, scenes.help_screen(lesson), (100, 40))
