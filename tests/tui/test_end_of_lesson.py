"""The end of a lesson: the try-next list with a key per variation (launched in place), restart, back to the
picker (leaving a lesson from the picker never quits the app), narration that reacts to the run, and help that
lists only what works in the current mode."""

from __future__ import annotations

import math

import pytest
from textual.containers import VerticalScroll

from evtool.scenario.lessons import checked_lessons
from evtool.scenario.loader import LoadedScenario
from evtool.sim.host import InjectFault, Resume, SetSpeed
from evtool.sim.snapshot import CheckView
from evtool.tui.app import EvtoolApp
from evtool.tui.screens.dashboard import DashboardScreen
from evtool.tui.screens.end import EndModal, Variation, closing_text, what_happened
from evtool.tui.screens.help import HelpModal
from evtool.tui.screens.picker import LessonPickerScreen
from evtool.tui.widgets.lesson_pane import LessonPane

from .helpers import make_app, sync, text_of, tick_until


def _to_end(host) -> None:  # type: ignore[no-untyped-def]
    host.submit(SetSpeed(math.inf))

    def over(s):  # type: ignore[no-untyped-def]
        if s.paused and s.outcome is None:
            host.submit(Resume())
        return s.outcome is not None

    tick_until(host, over)


def _picker_app() -> EvtoolApp:
    lessons = [info for info in checked_lessons() if info.id == "retries-dlq-poison"]
    return EvtoolApp(host=None, lessons=lessons, auto_poll=False, threaded_hosts=False)


def test_narration_says_what_happened_instead() -> None:
    checks = [CheckView("nothing-lost", "pass", "all handled", "all 10 accounted for"),
              CheckView("poison-attempts", "fail", "3 dead letters after 4 attempts", "2 dead letters")]
    said = what_happened(checks)
    assert said == [("bold red", "✗ poison-attempts failed: 2 dead letters (expected: 3 dead letters after 4 attempts)")]
    assert what_happened(checks, ["poison-attempts"]) == []  # the variation predicts it
    held = what_happened([CheckView("charged-once", "pass", "x", "no key charged twice")], ["charged-once"])
    assert held and "meant to break it" in held[0][1]
    text = closing_text("failed", checks, None, None).plain
    assert "What happened instead" in text and "poison-attempts failed" in text


@pytest.mark.asyncio
async def test_the_end_screen_opens_by_itself_and_launches_a_variation_in_place(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(80, 24)) as pilot:
        _to_end(host)
        await sync(app, pilot)
        end = app.screen
        assert isinstance(end, EndModal)
        shown = text_of(end.query_one("#end-text"))
        assert "every check held" in shown and "Try next" in shown
        # 80×24: one line per variation, what it breaks first.
        assert " 1  breaks poison-attempts: Mark ParseError as non-retryable" in shown
        assert " 2  breaks charged-once: Turn idempotency off" in shown
        assert " 3  breaks poison-attempts: Set retry.on_exhausted: requeue" in shown  # each variation has a key
        # Nothing scrolls: the text and the keys under it are all on screen.
        scroll = end.query_one(VerticalScroll)
        assert scroll.max_scroll_y == 0, scroll.virtual_size
        keys = end.query_one("#end-keys")
        assert "run it again" in text_of(keys) and keys.region.bottom <= 24 and keys.region.height >= 1
        await pilot.press("1")
        await pilot.pause()
        dash = app.screen
        assert isinstance(dash, DashboardScreen) and dash is app.dashboard
        assert dash.variation is not None and dash.variation.label == "try 1"
        assert app.host is not host and app.host.loaded.overrides == {  # type: ignore[union-attr]
            "consumers.billing.retry.non_retryable": ["ParseError"]}
        assert host.outcome is not None  # the first run was closed
        _to_end(app.host)
        await sync(app, pilot)
        assert isinstance(app.screen, EndModal)
        text = text_of(app.screen.query_one("#end-text"))
        assert "You ran try 1" in text and "As this variation predicts: poison-attempts failed" in text
        await pilot.press("r")  # the same variation again
        await pilot.pause()
        assert app.dashboard.variation.label == "try 1"  # type: ignore[union-attr]
        assert app.host.snapshot().now_ns == 0  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_redrive_that_breaks_a_check_is_told_at_the_end(lesson: LoadedScenario) -> None:
    """The student redrives the poison message: nothing was fixed, so it dies again, and the dead-letter
    check that the lesson expects to pass fails; the closing words say so instead of the script."""
    app, host = make_app(lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        host.submit(SetSpeed(math.inf))

        def dead(s):  # type: ignore[no-untyped-def]
            if s.paused:
                host.submit(Resume())
            return s.dead_total >= 1

        tick_until(host, dead)
        host.submit(InjectFault("redrive", "channel:orders.dlq"))
        _to_end(host)
        snap = await sync(app, pilot)
        assert snap.outcome == "failed"
        assert isinstance(app.screen, EndModal)
        text = text_of(app.screen.query_one("#end-text"))
        assert "What happened instead" in text and "poison-attempts failed" in text
        await pilot.press("escape")
        pane = text_of(app.dashboard.query_one(LessonPane).body)  # type: ignore[union-attr]
        assert "What happened instead" in pane and "poison-attempts failed" in pane


@pytest.mark.asyncio
async def test_leaving_a_lesson_from_the_picker_goes_back_to_it() -> None:
    app = _picker_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        first = app.host
        await pilot.press("q")  # from the picker, q goes back to it
        await pilot.pause()
        assert isinstance(app.screen, LessonPickerScreen) and app.is_running
        assert first is not None and first.outcome is not None and app.host is None
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen) and app.host is not first
        _to_end(app.host)
        await sync(app, pilot)
        assert isinstance(app.screen, EndModal)
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, LessonPickerScreen)
        assert len(app.outcomes) == 2


@pytest.mark.asyncio
async def test_help_lists_only_what_works_now(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        live = app.screen
        assert isinstance(live, HelpModal)
        text = live.plain()
        assert "inject a fault" in text and "redrive" in text and "quit" in text
        assert "< >" not in text and "home" not in text  # seek keys only in a replay
        assert "answer the question" not in text and "what to try next" not in text
        assert "toggle-pause" not in text and "seek-back" not in text  # words, not action ids
        await pilot.press("escape")
        host.submit(SetSpeed(math.inf))

        def question(s):  # type: ignore[no-untyped-def]
            if s.paused and not (s.lesson and s.lesson.step and s.lesson.step.ask):
                host.submit(Resume())
            return bool(s.paused and s.lesson and s.lesson.step and s.lesson.step.ask)

        tick_until(host, question)
        await sync(app, pilot)
        await pilot.press("question_mark")
        assert "a b c d  answer the question" in app.screen.plain()  # type: ignore[attr-defined]
    app, _host = make_app(lesson, replay=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        text = app.screen.plain()  # type: ignore[attr-defined]
        assert "< >" in text and "home" in text and "inject a fault" not in text and "redrive" not in text


def test_a_variation_value_object() -> None:
    v = Variation("try 1", {"a": 1}, ("x",), "say")
    assert v.fails == ("x",)


@pytest.mark.asyncio
async def test_m_shows_the_variations_side_by_side(lesson: LoadedScenario) -> None:
    from evtool.tui.screens.matrix import MatrixModal

    app, host = make_app(lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        _to_end(host)
        await sync(app, pilot)
        await pilot.press("m")
        view = app.screen
        assert isinstance(view, MatrixModal)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert view.matrix is not None
        assert [r.column.label for r in view.matrix.results] == ["lesson", "try 1", "try 2", "try 3", "try 4"]
        assert view.matrix.results[2].verdicts["charged-once"] == "fail"
