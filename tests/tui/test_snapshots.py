"""SVG snapshots of the main screens (pytest-textual-snapshot); update with `pytest --snapshot-update`.

Each docstring says what a reviewer should see in the SVG.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from evtool.scenario.loader import LoadedScenario

from . import scenes


def shoot(snap_compare: Callable[..., bool], scene: scenes.Scene, size: tuple[int, int]) -> bool:
    app, keys = scene

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await pilot.app.workers.wait_for_complete()  # the variations matrix runs in a worker
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
    The lesson pane says `? a question waits below`; the quiz bar above the footer asks how many times
    POISON-1 was delivered, with choices ` a  1   b  3   c  4   d  5`."""
    assert shoot(snap_compare, scenes.dead_letters(lesson), (120, 36))


def test_message_inspector(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """120x36. The inspector dialog on POISON-1: `state ✗ dead  deliveries 4  tag poison`, key cust-0355,
    a time line from 20.002s to 23.131s ending in ✗, and the events: published, delivered, failed
    ParseError, retry_scheduled …, redelivered #2 … #4, rejected, dead_lettered → orders.dlq."""
    assert shoot(snap_compare, scenes.inspector(lesson), (120, 36))


def test_help(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """100x40. The help dialog of a live run: groups Time (space, n, + -; no seek keys), Look (1 … 5, enter,
    s, /, tab), Change the run (f, r), Lesson (q quit, ? this help), each key with what it does in words."""
    assert shoot(snap_compare, scenes.help_screen(lesson), (100, 40))


def test_quiz_question_80x24(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """80x24. Paused by lesson step 4. Above the footer, the quiz bar: `? How many times was POISON-1 delivered
    to a billing worker?`, the four choices ` a  1   b  3   c  4   d  5` on one line, `press a letter to
    answer · space goes on without answering   quiz 0/1`. Nothing of the bar is cut off."""
    assert shoot(snap_compare, scenes.quiz_question(lesson), (80, 24))


def test_quiz_answered_120x40(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """120x40. After pressing b: `✗ Not quite: you chose 3; the answer is (c) 4`, the explanation
    (max_attempts counts every delivery ...), `space goes on   quiz 0/1`; the lesson pane says `✗ not quite`."""
    assert shoot(snap_compare, scenes.quiz_answered(lesson), (120, 40))


def test_quiz_question_120x40(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """120x40. The same question as at 80x24, with the whole dashboard above it."""
    assert shoot(snap_compare, scenes.quiz_question(lesson), (120, 40))


def test_quiz_answered_80x24(snap_compare: Callable[..., bool], lesson: LoadedScenario) -> None:
    """80x24. The verdict (not quite, the answer (c) 4, the explanation) fits above the footer."""
    assert shoot(snap_compare, scenes.quiz_answered(lesson), (80, 24))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_sequence_view(snap_compare: Callable[..., bool], lesson: LoadedScenario, size: tuple[int, int]) -> None:
    """The sequence view of POISON-1: lifelines checkout, orders, billing#…, orders.dlq (names on two lines
    at 80 columns); publish ▶, deliver #1 ▶, ● ✗ ParseError, ● ↻ retry wait …, ◀ nack, redeliver #2…#4,
    ◀ reject, and the dead-letter arrow ▶ to orders.dlq; time offsets +0ms … +3.1s on the left."""
    assert shoot(snap_compare, scenes.sequence(lesson), size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_saga_panel(snap_compare: Callable[..., bool], lesson: LoadedScenario, size: tuple[int, int]) -> None:
    """order-saga at t≈6s, the `6 Sagas` tab: instances with ✓ completed ■■■ 3/3 and ↺ compensated ■□□ 1/3
    (failed step charge_payment) or □□□ 0/3 (reserve_inventory), the trigger and the start time."""
    assert shoot(snap_compare, scenes.sagas(lesson), size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_saga_sequence(snap_compare: Callable[..., bool], lesson: LoadedScenario, size: tuple[int, int]) -> None:
    """The sequence of one saga instance: `▶ saga started` on the order-saga lifeline, the commands published
    to the command channels and delivered to the services, their replies, `✓ reserve_inventory` or the failed
    step in red, `↺ compensating …` and `↺ compensated …`, in time order."""
    assert shoot(snap_compare, scenes.saga_sequence(lesson), size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_topic_fork(snap_compare: Callable[..., bool], lesson: LoadedScenario, size: tuple[int, int]) -> None:
    """pubsub-fanout at 50 s: `orders ─…─▶ order-events (topic) ✓ … waiting`, then a fork ├ ├ └ with one
    branch per group, billing, shipping and analytics, each with `backlog N  lag …` (analytics far behind);
    the edges show moving ○/● glyphs or their rate."""
    assert shoot(snap_compare, scenes.fanout(lesson), size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_log_partitions(snap_compare: Callable[..., bool], lesson: LoadedScenario, size: tuple[int, int]) -> None:
    """partitioned-ordering at 5 s: `account-events (log, 6 partitions)`, the statements group 2/2 and under
    it p0…p5 each with `→#0` or `→#1` (its owner) and its lag (or ✓)."""
    assert shoot(snap_compare, scenes.partitions(lesson), size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_end_of_lesson(snap_compare: Callable[..., bool], lesson: LoadedScenario, size: tuple[int, int]) -> None:
    """The end screen over the dashboard: `✓ The run passed: every check held (6/6)`, `Try next:` with
    ` 1 ` Mark ParseError as non-retryable … (breaks poison-attempts), ` 2 ` Turn idempotency off …, two tips
    with a `·`, then the keys ` r ` run it again, ` l ` back to the lessons, ` m ` the variations side by side."""
    assert shoot(snap_compare, scenes.end_of_lesson(lesson), size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_variations_matrix(snap_compare: Callable[..., bool], lesson: LoadedScenario, size: tuple[int, int]) -> None:
    """`m` on the end screen: a table with the columns lesson, try 1 … try 4; the row `outcome` (passed in
    green, failed in red), one row per check with ✓ or ✗ (a `!` where the run did not expect that verdict),
    then deliveries, dead letters, duplicates; under it what each column ran (`try 2: --set …`)."""
    assert shoot(snap_compare, scenes.matrix(lesson), size)
