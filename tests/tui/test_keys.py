"""Every key of the dashboard, driven by the Pilot on virtual time (no wall-clock sleeps)."""

from __future__ import annotations

import math

import pytest
from textual.widgets import OptionList, TabbedContent

from evtool.scenario.lessons import checked_lessons
from evtool.scenario.loader import LoadedScenario
from evtool.sim.host import Faster, InjectFault, Redrive, Seek, SetSpeed, Slower, Step, TogglePause
from evtool.tui.app import EvtoolApp
from evtool.tui.screens.dashboard import DashboardScreen
from evtool.tui.screens.faults import FaultMenu
from evtool.tui.screens.filter import FilterModal
from evtool.tui.screens.help import HelpModal
from evtool.tui.screens.inspector import InspectorModal
from evtool.tui.screens.picker import LessonPickerScreen
from evtool.tui.widgets.consumer_table import ConsumerTable
from evtool.tui.widgets.dead_letter_table import DeadLetterTable
from evtool.tui.widgets.event_log import EventLog
from evtool.tui.widgets.lanes import Lanes
from evtool.tui.widgets.run_status import RunStatus

from .helpers import make_app, sync, text_of, to_lesson_step

pytestmark = pytest.mark.asyncio
SIZE = (100, 32)


async def test_space_pauses_and_resumes(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await sync(app, pilot, 1.0)
        await pilot.press("space")
        assert host.sent[-1] == TogglePause()
        snap = await sync(app, pilot, 1.0)
        assert snap.paused and snap.now_ns == 1_000_000_000
        assert "‖ paused" in text_of(app.dashboard.query_one(RunStatus))
        await pilot.press("space")
        snap = await sync(app, pilot, 1.0)
        assert not snap.paused and snap.now_ns == 2_000_000_000
        assert "▶ running" in text_of(app.dashboard.query_one(RunStatus))


async def test_n_steps_one_event(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await sync(app, pilot, 0.5)
        before = host.engine.kernel.processed
        await pilot.press("n")
        assert host.sent[-1] == Step(1)
        snap = await sync(app, pilot, 1.0)
        assert snap.paused
        assert host.engine.kernel.processed == before + 1


async def test_plus_and_minus_change_the_speed(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus")
        await pilot.press("plus")
        assert list(host.sent)[-2:] == [Faster(), Faster()]
        await sync(app, pilot)
        assert "5x" in text_of(app.dashboard.query_one(RunStatus))
        for _ in range(6):
            await pilot.press("minus")
        assert host.sent[-1] == Slower()
        snap = await sync(app, pilot)
        assert snap.speed == 0.1
        assert "0.1x" in text_of(app.dashboard.query_one(RunStatus))


async def test_f_opens_the_fault_menu_and_a_choice_crashes_an_instance(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await sync(app, pilot, 2.0)
        await pilot.press("f")
        assert isinstance(app.screen, FaultMenu)
        labels = [label for label, _ in app.screen.choices]
        assert "crash billing#0 (restarts after 5s)" in labels
        assert "inject a poison message into orders" in labels
        assert "restart the broker (2s down)" in labels
        await pilot.press("enter")  # the first choice
        assert isinstance(app.screen, DashboardScreen)
        assert host.sent[-1] == InjectFault("crash", "consumer:billing#0", {"restart_after": "5s"})
        await sync(app, pilot)
        state = app.dashboard.query_one(ConsumerTable).get_cell("billing#0", "state")
        assert state.plain == "✗ crashed"
        await pilot.press("f")
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_r_redrives_the_selected_dead_letter(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        to_lesson_step(host, 3)
        await sync(app, pilot)
        await pilot.press("r")  # first press: show the dead letters
        assert app.dashboard.query_one(TabbedContent).active == "dead"
        table = app.dashboard.query_one(DeadLetterTable)
        assert table.has_focus and table.row_count == 1
        await pilot.press("r")
        assert host.sent[-1] == Redrive("orders.dlq", "POISON-1")
        await sync(app, pilot)
        assert table.row_count == 0


async def test_slash_filters_the_event_log(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        to_lesson_step(host, 3)
        await sync(app, pilot)
        await pilot.press("slash")
        assert isinstance(app.screen, FilterModal)
        await pilot.press(*"colour:x", "enter")  # an unknown field is refused, the dialog stays
        assert isinstance(app.screen, FilterModal)
        app.screen.query_one("Input").value = ""
        await pilot.press(*"kind:failed tag:poison", "enter")
        assert isinstance(app.screen, DashboardScreen)
        assert app.dashboard.query_one(TabbedContent).active == "events"
        log = app.dashboard.query_one(EventLog)
        assert log.events and all(e.kind == "failed" and e.tag == "poison" for _, e in log.events)
        assert len(log.events) == 4  # POISON-1's four attempts


async def test_enter_inspects_the_lesson_s_message(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        to_lesson_step(host, 3)
        await sync(app, pilot)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, InspectorModal) and screen.msg == "POISON-1"
        assert screen.life is not None and screen.life.state == "dead" and screen.life.attempts == 4
        assert "✗" in text_of(screen.query_one("#inspector-line"))
        await pilot.press("c")  # no cause: a notification, the dialog stays
        assert app.screen is screen
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_question_mark_lists_the_keys_in_words(lesson: LoadedScenario) -> None:
    app, _host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        keys = {k for _, group in app.screen.groups for k, _w in group}
        assert {"space", "n", "+ -", "enter", "s", "/", "f", "r", "q", "?"} <= keys
        assert all(b.id for b in DashboardScreen.BINDINGS)  # every binding has an id (for remapping)
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_q_quits(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
    assert host.outcome is not None and host.outcome.outcome == "interrupted"


async def test_number_keys_switch_panels(lesson: LoadedScenario) -> None:
    app, _host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        tabs = app.dashboard.query_one(TabbedContent)
        for key, pane in zip("23451", ("retries", "dead", "events", "checks", "lanes"), strict=True):
            await pilot.press(key)
            assert tabs.active == pane


async def test_seek_keys_in_a_replay(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson, replay=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("greater_than_sign")
        snap = await sync(app, pilot)
        assert host.sent[-1] == Seek(12_000_000_000, relative=True)  # 5% of load (2m) + drain max (2m)
        assert snap.now_ns == 12_000_000_000 and snap.paused
        await pilot.press("full_stop")
        assert (await sync(app, pilot)).now_ns == 13_000_000_000
        await pilot.press("comma")
        await pilot.press("comma")
        assert (await sync(app, pilot)).now_ns == 11_000_000_000
        await pilot.press("less_than_sign")
        assert (await sync(app, pilot)).now_ns == 0
        await pilot.press("f")  # no faults in a replay
        assert isinstance(app.screen, DashboardScreen)


async def test_seek_keys_do_nothing_live(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("greater_than_sign")
        assert not any(isinstance(c, Seek) for c in host.sent)


async def test_lanes_select_with_arrows_and_inspect_with_enter(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        host.submit(SetSpeed(math.inf))
        await sync(app, pilot, 0.0)
        await sync(app, pilot, 0.01)
        host.submit(TogglePause())
        await sync(app, pilot)
        lanes = app.dashboard.query_one(Lanes)
        lanes.focus()
        await pilot.pause()
        newest = lanes.selected
        await pilot.press("left")
        assert lanes.selected != newest
        chosen = lanes.selected
        await pilot.press("enter")
        assert isinstance(app.screen, InspectorModal) and app.screen.msg == chosen


async def test_event_log_select_and_inspect(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await sync(app, pilot, 3.0)
        await pilot.press("4")
        log = app.dashboard.query_one(EventLog)
        log.focus()
        await pilot.press("up", "up")
        ev = log.selected_event()
        assert ev is not None and not log.follow
        await pilot.press("end")
        assert log.follow
        await pilot.press("up")
        ev = log.selected_event()
        while ev is not None and ev.msg is None:
            await pilot.press("up")
            ev = log.selected_event()
        assert ev is not None
        await pilot.press("enter")
        assert isinstance(app.screen, InspectorModal) and app.screen.msg == ev.msg


async def test_the_picker_opens_a_lesson(lesson: LoadedScenario) -> None:
    lessons = [info for info in checked_lessons() if info.id == "retries-dlq-poison"]
    assert lessons and lessons[0].title == lesson.model.lesson.title  # type: ignore[union-attr]
    app = EvtoolApp(host=None, lessons=lessons, auto_poll=False, threaded_hosts=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LessonPickerScreen)
        assert "Retries, backoff" in text_of(app.screen.query_one("#lesson-preview"))
        assert app.screen.query_one(OptionList).option_count == 1
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        assert app.host is not None and app.host.scenario.id == "retries-dlq-poison"
        await sync(app, pilot, 1.0)
        assert "t 1.000s" in text_of(app.dashboard.query_one(RunStatus))
