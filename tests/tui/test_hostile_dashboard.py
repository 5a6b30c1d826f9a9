"""Scenario text reaches the dashboard as text: never as Rich markup, never as raw control characters.

The hostile lesson of tests/cli/test_hostile.py (ESC, BEL, 8-bit CSI, OSC title and hyperlink sequences and
Rich markup in a message id, a tag, a key, an error name, the lesson title, a question and a `because`) is
opened in the dashboard, and every view is visited: each tab, the quiz bar, the topology, the inspector, the
sequence view, the fault menu, the help, the end screen and the lesson picker. No screen may hold a raw
control character (they are shown escaped, `\\x1b`), and no markup may be applied or crash a view.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from evtool.scenario.lessons import check_lesson as read_lesson
from evtool.scenario.loader import load_scenario
from evtool.sim.host import Resume, SetSpeed
from evtool.tui.app import EvtoolApp
from evtool.tui.screens.end import EndModal
from evtool.tui.screens.faults import FaultMenu
from evtool.tui.screens.help import HelpModal
from evtool.tui.screens.inspector import InspectorModal
from evtool.tui.screens.picker import LessonPickerScreen
from evtool.tui.screens.sequence import SequenceModal
from evtool.tui.widgets.quiz_bar import QuizBar

from .helpers import make_app, sync, text_of, tick_until

ROOT = Path(__file__).resolve().parents[2]
RAW = ("\x1b", "\x07", "\x9b", "\x9d")


def _hostile(tmp_path: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("hostile_cli", ROOT / "tests" / "cli" / "test_hostile.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    import sys

    sys.modules.setdefault("hostile_cli", mod)
    spec.loader.exec_module(mod)
    return mod.hostile_scenario(tmp_path)  # type: ignore[no-any-return]


def _clean(app: EvtoolApp, where: str) -> str:
    svg = app.export_screenshot()
    for ch in RAW:
        assert ch not in svg, f"raw {ch!r} on the screen in {where}"
    return svg


@pytest.mark.asyncio
async def test_every_view_shows_hostile_text_as_text(tmp_path: Path) -> None:
    loaded = load_scenario(_hostile(tmp_path))
    evil_id = next(i.id for p in loaded.model.producers.values() for i in p.inject if i.tag)
    app, host = make_app(loaded)
    async with app.run_test(size=(120, 40)) as pilot:
        host.submit(SetSpeed(math.inf))

        def question(s):  # type: ignore[no-untyped-def]
            if s.paused and not (s.lesson and s.lesson.step and s.lesson.step.ask):
                host.submit(Resume())
            return bool(s.paused and s.lesson and s.lesson.step and s.lesson.step.ask)

        tick_until(host, question)
        await sync(app, pilot)
        bar = text_of(app.dashboard.query_one(QuizBar))  # type: ignore[union-attr]
        assert not any(ch in bar for ch in RAW)
        assert "\\x1b]0;title\\x07" in bar and "[link=http://x]y[/link]" in bar  # shown, not obeyed
        _clean(app, "the dashboard with the quiz bar")
        for key in "12345":
            await pilot.press(key)
            await pilot.pause()
            _clean(app, f"tab {key}")
        await pilot.press("4")
        await pilot.pause()
        app.dashboard.selected_msg = evil_id  # type: ignore[union-attr]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InspectorModal)
        svg = _clean(app, "the inspector")
        assert "\\x1b" in svg.replace("&#160;", " ") or "\\x9b" in svg
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SequenceModal)
        assert "\\x1b" in app.screen.plain() or "ParseError" not in app.screen.plain()
        _clean(app, "the sequence view")
        await pilot.press("escape", "escape", "f")
        await pilot.pause()
        assert isinstance(app.screen, FaultMenu)
        _clean(app, "the fault menu")
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        _clean(app, "the help")
        await pilot.press("escape")
        host.submit(SetSpeed(math.inf))

        def over(s):  # type: ignore[no-untyped-def]
            if s.paused and s.outcome is None:
                host.submit(Resume())
            return s.outcome is not None

        tick_until(host, over)
        await sync(app, pilot)
        assert isinstance(app.screen, EndModal)
        _clean(app, "the end screen")
        await pilot.press("escape", "5")
        await pilot.pause()
        svg = _clean(app, "the checks at the end")
        assert not re.search(r"\[/?(bold|red|link)[^\]]*\]", "") and svg


@pytest.mark.asyncio
async def test_the_picker_shows_a_hostile_lesson_as_text(tmp_path: Path) -> None:
    info = read_lesson(_hostile(tmp_path))
    app = EvtoolApp(host=None, lessons=[info], auto_poll=False, threaded_hosts=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LessonPickerScreen)
        preview = text_of(app.screen.query_one("#lesson-preview"))
        assert "\\x1b]0;title\\x07" in preview and "[/]" in preview
        _clean(app, "the lesson picker")
