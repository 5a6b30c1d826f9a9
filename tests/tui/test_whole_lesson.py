"""A whole lesson driven with keys alone, from the lesson picker and back: open it, answer every question,
open the sequence view of the poison message, launch a variation from the end screen, return to the picker.

Only virtual time is advanced by the test (the host is manual: `sync` pretends wall time passes); every
choice the student makes is a key press.
"""

from __future__ import annotations

import pytest

from evtool.scenario.lessons import checked_lessons
from evtool.tui.app import EvtoolApp
from evtool.tui.quiz import CHOICE_KEYS, right_choice
from evtool.tui.screens.dashboard import DashboardScreen
from evtool.tui.screens.end import EndModal
from evtool.tui.screens.picker import LessonPickerScreen
from evtool.tui.screens.sequence import SequenceModal
from evtool.tui.widgets.quiz_bar import QuizBar

from .helpers import sync, text_of


@pytest.mark.asyncio
async def test_a_whole_lesson_with_keys_alone() -> None:
    lessons = [info for info in checked_lessons() if info.id == "retries-dlq-poison"]
    app = EvtoolApp(host=None, lessons=lessons, auto_poll=False, threaded_hosts=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, LessonPickerScreen)
        await pilot.press("enter")
        await pilot.pause()
        dash = app.screen
        assert isinstance(dash, DashboardScreen)
        for _ in range(4):
            await pilot.press("plus")  # 1x → 2x → 5x → 10x → 50x
        answered: list[bool] = []
        saw_sequence = False
        for _ in range(3000):
            snap = await sync(app, pilot, 0.2)
            if isinstance(app.screen, EndModal):
                break
            bar = dash.query_one(QuizBar)
            pending = dash.quiz.pending(snap.lesson)
            if pending is not None:
                assert bar.display and bar.region.bottom <= 23  # the choices are on screen at 80x24
                step, q = pending
                key = CHOICE_KEYS[right_choice(q)]  # type: ignore[index]
                await pilot.press(key)
                assert "✓ Right" in text_of(bar)
                answered.append(True)
            if not saw_sequence and dash.selected_msg == "POISON-1" and snap.dead_total >= 1:
                await pilot.press("s")
                await pilot.pause()
                view = app.screen
                assert isinstance(view, SequenceModal) and view.msg == "POISON-1"
                diagram = view.plain()
                assert "publish" in diagram and "#4" in diagram and "dead-letter" in diagram
                saw_sequence = True
                await pilot.press("escape")
            if snap.paused and snap.outcome is None:
                await pilot.press("space")
        else:
            raise AssertionError("the lesson did not end")
        assert saw_sequence
        lesson = dash.snap.lesson
        asked = sum(1 for s in lesson.steps if s.ask is not None)  # type: ignore[union-attr]
        assert len(answered) == asked >= 1
        assert dash.quiz.score(lesson) == (asked, asked)
        # The end screen: launch the first variation in place.
        await pilot.press("1")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen) and app.screen is not dash
        assert app.screen.variation is not None and app.screen.variation.label == "try 1"
        await sync(app, pilot, 0.5)
        # Back to the lesson picker: q, from a lesson opened in the picker.
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, LessonPickerScreen) and app.is_running
        assert len(app.runs) == 2 and all(h.outcome is not None for h, _l, _q in app.runs)
