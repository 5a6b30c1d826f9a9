"""Each panel's response to the snapshots (Pilot, virtual time)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from evtool.scenario.loader import LoadedScenario, load_scenario
from evtool.sim.host import InjectFault, Resume
from evtool.tui.widgets.channel_table import ChannelTable
from evtool.tui.widgets.check_table import CheckTable
from evtool.tui.widgets.consumer_table import ConsumerTable
from evtool.tui.widgets.dead_letter_table import DeadLetterTable
from evtool.tui.widgets.event_log import EventFilter, EventLog
from evtool.tui.widgets.lanes import Lanes
from evtool.tui.widgets.lesson_pane import LessonPane
from evtool.tui.widgets.quiz_bar import QuizBar
from evtool.tui.widgets.retry_table import RetryTable
from evtool.tui.widgets.run_status import RunStatus
from evtool.tui.widgets.topology import TopologyView

from .helpers import ROOT, make_app, sync, text_of, tick_until, to_lesson_step

pytestmark = pytest.mark.asyncio
SIZE = (120, 40)


async def test_status_channels_consumers_and_topology_follow_the_run(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        snap = await sync(app, pilot, 10.0)
        dash = app.dashboard
        assert dash is not None
        status = text_of(dash.query_one(RunStatus))
        assert "t 10.000s" in status and "seed 7" in status and "Retries, backoff" in status
        orders = next(c for c in snap.channels if c.name == "orders")
        table = dash.query_one(ChannelTable)
        assert table.get_cell("orders", "acked").plain == f"{orders.acked:,}"
        assert table.get_cell("orders", "ready").plain == f"{orders.ready:,}"
        assert orders.acked > 100
        consumers = dash.query_one(ConsumerTable)
        assert consumers.row_count == 3
        topo = text_of(dash.query_one(TopologyView))
        assert topo.startswith("checkout ") and "▶ orders (queue) ✓" in topo and "billing 3/3 ✓" in topo
        assert "orders.dlq ✓ 0" in topo
        # Crash every instance: the consumer is down and the queue stalls.
        host.submit(InjectFault("crash", "consumer:billing"))
        await sync(app, pilot, 1.0)
        topo = text_of(dash.query_one(TopologyView))
        assert "billing 0/3 ✗" in topo and "orders (queue) ✗" in topo
        assert consumers.get_cell("billing#2", "state").plain == "✗ crashed"


async def test_tables_are_updated_by_key_never_rebuilt(lesson: LoadedScenario, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_clear(self: DataTable, *args: object, **kwargs: object) -> None:
        raise AssertionError("a table was cleared")

    monkeypatch.setattr(DataTable, "clear", no_clear)
    app, _host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        await sync(app, pilot, 1.0)
        table = app.dashboard.query_one(ChannelTable)  # type: ignore[union-attr]
        keys = list(table.rows)
        for _ in range(5):
            await sync(app, pilot, 1.0)
        assert list(table.rows) == keys
        # A row is drawn again only when its cells change: repainting draws nothing new.
        drawn = table.renders
        table.refresh()
        await pilot.pause()
        assert table.renders == drawn
        # One more second of the run: orders changes, orders.dlq (still empty) is not drawn again.
        await sync(app, pilot, 1.0)
        assert 1 <= table.renders - drawn < len(keys)


async def test_a_plain_queue_is_one_lane_without_order_marks(lesson: LoadedScenario) -> None:
    """retries-dlq-poison: `orders` is a plain queue read by competing consumers; it promises no order, so
    it is one lane with states and delivery counts, and never a ⚠ (nor the ⚠ in the legend)."""
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        snap = tick_until(host, lambda s: any(c.attempt > 1 for lane in s.lanes for c in lane.cells), dt=1.0)
        tick_until(host, lambda s: s.now_ns > snap.now_ns + 10e9, dt=1.0)
        app.pull()
        await pilot.pause()
        lanes = app.dashboard.query_one(Lanes)  # type: ignore[union-attr]
        text = text_of(lanes)
        assert text.startswith("orders") and len(lanes.lanes) == 1 and lanes.lanes[0].kind == "queue"
        assert "✓" in text and "○ ready" in text  # cells, and the legend
        assert "⚠" not in text and not any(c.broken for c in lanes.lanes[0].cells)


async def test_lanes_per_key_where_the_order_is_judged_mark_order_breaks() -> None:
    """ordering-sequence-numbers with 3 competing instances: the consumer's per-account order is checked, so
    each account key gets its own lane, labelled `key acct-NN`; a message acknowledged after a later one of
    its key is marked ⚠, and the lane counts them."""
    loaded = load_scenario(ROOT / "scenarios" / "ordering-sequence-numbers.yaml",
                           {"consumers.statements.instances": 3})
    app, host = make_app(loaded)
    async with app.run_test(size=SIZE) as pilot:
        def broke(s):  # type: ignore[no-untyped-def]
            if s.paused:  # past the lesson's pauses
                host.submit(Resume())
            return any(lane.order_breaks for lane in s.lanes)

        snap = tick_until(host, broke, dt=1.0)
        app.pull()
        await pilot.pause()
        lanes = app.dashboard.query_one(Lanes)  # type: ignore[union-attr]
        text = text_of(lanes)
        assert all(lane.kind == "key" for lane in snap.lanes) and 1 < len(snap.lanes) <= 8
        assert [line.split()[0] for line in text.splitlines()[: len(snap.lanes)]] == ["key"] * len(snap.lanes)
        assert "⚠" in text and "order broke" in text
        broken = [c for lane in snap.lanes for c in lane.cells if c.broken]
        assert broken and all(c.state == "acked" for c in broken)
        for lane in snap.lanes:  # one key per lane
            assert {c.key for c in lane.cells} <= {lane.part}


async def test_retry_scheduler_counts_down_in_virtual_time(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        snap = tick_until(host, lambda s: any(r.due_ns - s.now_ns > 300_000_000 for r in s.retries), dt=0.1)
        host.submit(InjectFault("pause", "consumer:billing", {"for": "1s"}))  # hold redeliveries back
        app.pull()
        await pilot.pause()
        table = app.dashboard.query_one(RetryTable)  # type: ignore[union-attr]
        r = next(r for r in snap.retries if r.due_ns - snap.now_ns > 300_000_000)
        first = table.get_cell(r.msg, "due").plain
        assert first.startswith("⏱ ")
        assert table.get_cell(r.msg, "attempt").plain == f"↻ {r.next_attempt}/4"
        host.tick(0.2)
        app.pull()
        await pilot.pause()
        if r.msg in table.rows:
            assert table.get_cell(r.msg, "due").plain != first


async def test_dead_letters_checks_and_lesson_pane_at_the_dead_letter_step(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        to_lesson_step(host, 3)
        snap = await sync(app, pilot)
        dash = app.dashboard
        assert dash is not None
        dl = dash.query_one(DeadLetterTable)
        assert dl.get_cell("POISON-1", "attempts").plain == "4"
        assert dl.get_cell("POISON-1", "reason").plain == "✗ rejected"
        assert dl.get_cell("POISON-1", "route").plain == "orders → orders.dlq"
        checks = dash.query_one(CheckTable)
        assert checks.row_count == len(snap.checks) == 6
        statuses = {c.name: checks.get_cell(c.name, "status").plain for c in snap.checks}
        assert statuses["nothing-lost"].split()[0] in ("✓", "?", "✗")
        pane = text_of(dash.query_one(LessonPane).body)
        assert "Step 4 of 5" in pane and "a question waits below" in pane
        assert "paused by the lesson" in pane
        quiz = text_of(dash.query_one(QuizBar))
        assert "How many times was POISON-1 delivered" in quiz and " c  4" in quiz


async def test_event_log_filters_by_key_message_and_correlation(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        to_lesson_step(host, 3)
        await sync(app, pilot)
        log = app.dashboard.query_one(EventLog)  # type: ignore[union-attr]
        log.set_filter(EventFilter.parse("msg:POISON-1"))
        assert log.events and all(e.msg == "POISON-1" for _, e in log.events)
        log.set_filter(EventFilter.parse("corr:POISON-1 kind:dead_lettered"))
        assert [e.kind for _, e in log.events] == ["dead_lettered"]
        log.set_filter(EventFilter.parse("key:cust-0355"))
        assert all(e.key == "cust-0355" for _, e in log.events)
        log.set_filter(EventFilter.parse("kind:*lettered"))
        assert all(e.kind == "dead_lettered" for _, e in log.events)
        log.set_filter(EventFilter.parse("no-such-thing"))
        await pilot.pause()
        assert "no events match" in text_of(log)
        with pytest.raises(ValueError, match="unknown filter field"):
            EventFilter.parse("colour:red")


async def test_the_end_of_the_run(lesson: LoadedScenario) -> None:
    app, host = make_app(lesson)
    async with app.run_test(size=SIZE) as pilot:
        to_lesson_step(host, 4)
        snap = await sync(app, pilot)
        assert snap.outcome == "passed"
        dash = app.dashboard
        assert dash is not None
        assert "✓ passed" in text_of(dash.query_one(RunStatus))
        assert "run passed" in text_of(dash.query_one(LessonPane).body)
        checks = dash.query_one(CheckTable)
        assert all(checks.get_cell(c.name, "status").plain == "✓ pass" for c in snap.checks)
