"""The lesson quiz: a question pauses the run, a letter answers it, the verdict and the score show at once."""

from __future__ import annotations

import pytest

from evtool.scenario.lessons import checked_lessons
from evtool.scenario.loader import LoadedScenario, load_scenario
from evtool.sim.host import Resume, SetSpeed, TogglePause
from evtool.sim.snapshot import QuestionView
from evtool.tui.app import EvtoolApp
from evtool.tui.quiz import CHOICE_KEYS, Quiz, right_choice
from evtool.tui.screens.dashboard import DashboardScreen
from evtool.tui.screens.picker import LessonPickerScreen
from evtool.tui.widgets.lesson_pane import LessonPane
from evtool.tui.widgets.quiz_bar import QuizBar

from .helpers import ROOT, make_app, sync, text_of, tick_until


def _run_to_question(host, index: int = 0):  # type: ignore[no-untyped-def]
    """Run fast, resuming past plain pauses, until a question is the current step (and the run paused there)."""
    host.submit(SetSpeed(1000.0))
    seen = 0

    def at_question(s):  # type: ignore[no-untyped-def]
        nonlocal seen
        step = s.lesson.step if s.lesson else None
        if s.paused and step is not None and step.ask is not None:
            if seen == index:
                return True
            seen += 1
        if s.paused:
            host.submit(Resume())
        return False

    return tick_until(host, at_question, dt=0.05)


def test_choice_keys_never_collide_with_the_dashboard_keys() -> None:
    taken = {k for b in DashboardScreen.BINDINGS if not b.id.startswith("answer-")  # type: ignore[union-attr]
             for k in b.key.split(",")}  # type: ignore[union-attr]
    assert not taken & set(CHOICE_KEYS)
    assert not set("12345") & set(CHOICE_KEYS)


def test_every_bundled_question_with_choices_has_its_answer_among_them() -> None:
    for info in checked_lessons():
        lesson = load_scenario(info.path).model.lesson
        for step in lesson.steps if lesson else ():
            if step.ask is not None and step.ask.choices:
                q = QuestionView(step.ask.question, step.ask.answer, step.ask.explain, tuple(step.ask.choices))
                assert right_choice(q) is not None, (info.id, step.ask.question)


def test_the_score_counts_the_first_choice_only() -> None:
    q = QuestionView("2+2?", "4", None, ("3", "4"))
    quiz = Quiz()
    assert quiz.choose(0, q, 0) is not None and quiz.choose(0, q, 1) is None
    assert quiz.score() == (0, 1)
    assert quiz.choose(1, q, 1).right  # type: ignore[union-attr]
    assert quiz.score() == (1, 2)
    assert quiz.choose(2, q, 7) is None  # no such choice


@pytest.mark.asyncio
async def test_a_question_pauses_the_run_every_time_even_at_full_speed(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(80, 24)) as pilot:
        snap = _run_to_question(host)
        assert snap.paused and snap.paused_by == "lesson step 4"
        await sync(app, pilot)
        bar = app.dashboard.query_one(QuizBar)  # type: ignore[union-attr]
        assert bar.display
        shown = text_of(bar)
        assert "How many times was POISON-1 delivered" in shown
        for key, choice in zip(CHOICE_KEYS, ("1", "3", "4", "5"), strict=False):
            assert f" {key}  {choice}" in shown
        # At 80x24 every choice is on screen, above the footer.
        assert bar.region.bottom <= 23 and bar.region.height >= 3


@pytest.mark.asyncio
async def test_a_right_answer_is_judged_at_once(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(80, 24)) as pilot:
        _run_to_question(host)
        await sync(app, pilot)
        await pilot.press("c")  # (c) 4
        bar = app.dashboard.query_one(QuizBar)  # type: ignore[union-attr]
        shown = text_of(bar)
        assert "✓ Right: 4" in shown and "max_attempts counts every delivery" in shown
        assert "quiz 1/1" in shown
        assert "answered right" in text_of(app.dashboard.query_one(LessonPane).body)  # type: ignore[union-attr]
        await pilot.press("d")  # a second answer does not count
        assert app.dashboard.quiz.score(host.snapshot().lesson) == (1, 1)  # type: ignore[union-attr]
        await pilot.press("space")
        await sync(app, pilot, 0.5)
        assert not bar.display  # the run goes on: the bar makes room again


@pytest.mark.asyncio
async def test_a_wrong_answer_says_not_quite_and_gives_the_answer(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        _run_to_question(host)
        await sync(app, pilot)
        await pilot.press("b")  # (b) 3
        shown = text_of(app.dashboard.query_one(QuizBar))  # type: ignore[union-attr]
        assert "✗ Not quite" in shown and "you chose 3" in shown and "(c) 4" in shown
        assert "quiz 0/1" in shown


@pytest.mark.asyncio
async def test_choice_keys_do_nothing_without_a_question(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(80, 24)) as pilot:
        await sync(app, pilot, 1.0)
        for key in CHOICE_KEYS[:4]:
            await pilot.press(key)
        assert app.dashboard.quiz.answers == {}  # type: ignore[union-attr]
        assert not app.dashboard.query_one(QuizBar).display  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_a_question_without_choices_shows_its_answer_on_a(tmp_path) -> None:  # type: ignore[no-untyped-def]
    loaded = load_scenario(ROOT / "scenarios" / "request-reply-timeout.yaml")
    app, host = make_app(loaded)
    async with app.run_test(size=(80, 24)) as pilot:
        snap = _run_to_question(host)
        await sync(app, pilot)
        bar = app.dashboard.query_one(QuizBar)  # type: ignore[union-attr]
        assert "to see the answer" in text_of(bar)
        await pilot.press("a")
        assert "Answer: " in text_of(bar) and snap.lesson.step.ask.answer.split()[0] in text_of(bar)  # type: ignore[union-attr]
        assert app.dashboard.quiz.score(snap.lesson) == (0, 0)  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_the_picker_shows_the_quiz_scores(lesson: LoadedScenario) -> None:
    from evtool.store.quiz import QuizScore

    lessons = [info for info in checked_lessons() if info.id == "retries-dlq-poison"]
    best = QuizScore("r1", "retries-dlq-poison", 1, 1)
    last = QuizScore("r2", "retries-dlq-poison", 0, 1)
    app = EvtoolApp(host=None, lessons=lessons, auto_poll=False, threaded_hosts=False,
                    scores=lambda: {"retries-dlq-poison": (best, last)})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LessonPickerScreen)
        preview = text_of(app.screen.query_one("#lesson-preview"))
        assert "best 1/1, last 0/1" in preview


@pytest.mark.asyncio
async def test_space_without_answering_goes_on(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(80, 24)) as pilot:
        _run_to_question(host)
        await sync(app, pilot)
        await pilot.press("space")
        assert host.sent[-1] == TogglePause()
        snap = await sync(app, pilot, 0.5)
        assert not snap.paused
        assert app.dashboard.quiz.score(snap.lesson) == (0, 1)  # type: ignore[union-attr]
