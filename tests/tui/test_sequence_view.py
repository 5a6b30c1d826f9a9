"""The sequence view (`s`) of a message, a request with its reply, and a saga instance; the saga panel (6)."""

from __future__ import annotations

import math

import pytest

from evtool.scenario.loader import LoadedScenario, load_scenario
from evtool.sim.host import Resume, SetSpeed
from evtool.tui.sagas import SagaTracker
from evtool.tui.screens.dashboard import DashboardScreen
from evtool.tui.screens.inspector import InspectorModal
from evtool.tui.screens.sequence import SequenceModal, related_events
from evtool.tui.sequence import lifelines, render_sequence, sequence_rows
from evtool.tui.widgets.saga_table import SagaTable

from .helpers import ROOT, make_app, manual_host, sync, tick_until, to_lesson_step


def _labels(rows):  # type: ignore[no-untyped-def]
    return [r.label for r in rows]


def test_the_poison_message_draws_every_arrow_in_order(lesson: LoadedScenario) -> None:
    host = manual_host(lesson)
    to_lesson_step(host, 3)
    life = host.lifecycle("POISON-1")
    assert life is not None
    rows = sequence_rows(life.events)
    labels = _labels(rows)
    assert labels[0] == "publish" and labels[1] == "deliver #1" and labels[-1] == "dead-letter"
    assert [lbl for lbl in labels if lbl.startswith("redeliver")] == ["redeliver #2", "redeliver #3", "redeliver #4"]
    assert labels.count("✗ ParseError") == 4 and labels.count("nack requeue") == 3 and "reject" in labels
    assert sum(1 for lbl in labels if lbl.startswith("↻ retry wait")) == 3
    names = lifelines(rows)
    assert names[:2] == ["checkout", "orders"] and names[-1] == "orders.dlq"
    assert all(n.startswith("billing#") for n in names[2:-1])
    for width in (60, 80, 120):
        lines = render_sequence(rows, width)
        assert all(len(line.plain) <= width for line in lines)
        head = lines[0].plain + lines[1].plain
        assert "checkout" in head and "orders.dlq" in head
        assert "+0ms" in lines[1].plain + lines[2].plain
        assert "▶" in lines[-1].plain  # the dead-letter arrow points right, to orders.dlq


def test_a_request_its_timeout_and_its_orphan_reply() -> None:
    loaded = load_scenario(ROOT / "scenarios" / "request-reply-timeout.yaml")
    tracker = SagaTracker(loaded.model)
    host = manual_host(loaded, listeners=[tracker])
    host.submit(SetSpeed(math.inf))

    def orphaned(s):  # type: ignore[no-untyped-def]
        if s.paused:
            host.submit(Resume())
        return any(e.kind == "reply_orphaned" for _, e in s.recent)

    snap = tick_until(host, orphaned)
    orphan = next(e for _, e in snap.recent if e.kind == "reply_orphaned")
    request = next(e.msg for e in tracker.conversation(orphan.key) if e.kind == "request_sent")
    _life, events = related_events(request, host.lifecycle, tracker.conversation)
    labels = _labels(sequence_rows(events))
    assert labels[0].startswith("request #1")
    assert any(lbl.startswith("⏱ timeout") for lbl in labels)
    assert "orphan reply" in labels
    assert labels.index("orphan reply") > next(i for i, lbl in enumerate(labels) if lbl.startswith("⏱ timeout"))


@pytest.mark.asyncio
async def test_s_opens_the_sequence_of_the_selected_message_and_it_grows_live(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(80, 24)) as pilot:
        await sync(app, pilot, 0.5)
        await pilot.press("s")  # nothing selected yet: a hint, no dialog
        assert isinstance(app.screen, DashboardScreen)
        tick_until(host, lambda s: any(c.state == "inflight" for lane in s.lanes for c in lane.cells), dt=0.001)
        await sync(app, pilot)
        snap = host.snapshot()
        msg = next(c.msg for lane in snap.lanes for c in lane.cells if c.state == "inflight")
        app.dashboard.selected_msg = msg  # type: ignore[union-attr]
        await pilot.press("s")
        await pilot.pause()
        view = app.screen
        assert isinstance(view, SequenceModal) and view.msg == msg
        before = view.plain()
        assert "publish" in before and "ack" not in before.split("deliver")[-1]
        for _ in range(50):
            await sync(app, pilot, 0.05)
            if "ack" in view.plain().split("deliver")[-1]:
                break
        assert view.plain() != before and "◀" in view.plain()  # the ack came back: the diagram grew
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


@pytest.mark.asyncio
async def test_the_poison_message_from_the_lesson_step_and_from_the_inspector(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=(120, 40)) as pilot:
        to_lesson_step(host, 3)
        await sync(app, pilot)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SequenceModal) and app.screen.msg == "POISON-1"
        assert "dead-letter" in app.screen.plain()
        await pilot.press("escape", "enter")
        assert isinstance(app.screen, InspectorModal)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SequenceModal) and app.screen.msg == "POISON-1"


@pytest.mark.asyncio
async def test_the_saga_panel_lists_instances_and_enter_opens_one() -> None:
    loaded = load_scenario(ROOT / "scenarios" / "order-saga.yaml")
    app, host = make_app(loaded)
    async with app.run_test(size=(120, 40)) as pilot:
        host.submit(SetSpeed(50.0))

        def compensated(s):  # type: ignore[no-untyped-def]
            if s.paused:
                host.submit(Resume())
            return s.now_ns > 4e9 and app.dashboard.sagas.counts().get("compensated", 0) > 0  # type: ignore[union-attr]

        tick_until(host, compensated, dt=0.05)
        await sync(app, pilot)
        await pilot.press("6")
        table = app.dashboard.query_one(SagaTable)  # type: ignore[union-attr]
        assert table.row_count >= 2
        states = {i.state for i in table.instances.values()}
        assert {"completed", "compensated"} <= states
        done = next(i for i in table.instances.values() if i.state == "completed")
        assert len(done.done) == done.total == 3
        assert table.get_cell(done.id, "steps").plain == "■■■ 3/3"
        comp = next(i for i in table.instances.values() if i.state == "compensated")
        table.focus()
        table.move_cursor(row=table.get_row_index(comp.id))
        await pilot.press("enter")
        await pilot.pause()
        view = app.screen
        assert isinstance(view, SequenceModal) and view.msg == comp.id
        text = view.plain()
        assert "▶ saga started" in text and "↺ compensat" in text and "✗ " in text
        assert text.index("▶ saga started") < text.index("↺ compensat")
        await pilot.press("escape")
        await pilot.press("s")  # s in the sagas panel: the selected instance
        await pilot.pause()
        assert isinstance(app.screen, SequenceModal) and app.screen.msg == comp.id


@pytest.mark.asyncio
async def test_no_saga_tab_without_sagas(lesson: LoadedScenario) -> None:
    app, _host = make_app(lesson)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        assert not app.dashboard.query(SagaTable)  # type: ignore[union-attr]
