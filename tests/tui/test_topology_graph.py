"""The topology as a graph: a topic's fork with group names, backlog and lag; a log's partitions with owner and
lag; routers, patterns and dead-letter edges; every branch kept at 80 columns; messages in motion."""

from __future__ import annotations

import math

import pytest

from evtool.scenario.loader import load_scenario
from evtool.sim.host import Resume, SetSpeed, Step, TogglePause
from evtool.tui.widgets.topology import MOTION_MAX_SPEED, TopologyView

from .helpers import ROOT, make_app, sync, text_of, tick_until


def _load(name: str):  # type: ignore[no-untyped-def]
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml")


def _run_to(host, t_s: float, speed: float = 20.0):  # type: ignore[no-untyped-def]
    host.submit(SetSpeed(speed))

    def reached(s):  # type: ignore[no-untyped-def]
        if s.paused:
            host.submit(Resume())
        return s.now_ns >= t_s * 1e9

    return tick_until(host, reached, dt=0.05)


@pytest.mark.asyncio
@pytest.mark.parametrize("width", [80, 120])
async def test_a_topic_forks_into_its_groups_with_backlog_and_lag(width: int) -> None:
    app, host = make_app(_load("pubsub-fanout"))
    async with app.run_test(size=(width, 30)) as pilot:
        _run_to(host, 50)
        host.submit(SetSpeed(math.inf))
        await sync(app, pilot)
        lines = text_of(app.dashboard.query_one(TopologyView)).splitlines()  # type: ignore[union-attr]
        head = next(i for i, line in enumerate(lines) if "order-events (topic)" in line)
        branches = lines[head + 1: head + 4]
        assert [b.strip()[0] for b in branches] == ["├", "├", "└"]  # a fork, one branch per group
        for group in ("billing", "shipping", "analytics"):
            assert any(group in b and "backlog" in b and "lag" in b for b in branches), (group, branches)
        analytics = next(b for b in branches if "analytics" in b)
        backlog = int(analytics.split("backlog ")[1].split()[0])
        assert backlog > 50 and "lag 0ms" not in analytics  # it was away 40 s: it lags behind the others
        assert all("backlog 0" in b or "backlog 1 " in b for b in branches if "analytics" not in b)
        assert all(len(line) <= width for line in lines)


@pytest.mark.asyncio
async def test_a_log_shows_each_partition_with_its_owner_and_lag() -> None:
    app, host = make_app(_load("partitioned-ordering"))
    async with app.run_test(size=(80, 30)) as pilot:
        _run_to(host, 5)
        await sync(app, pilot)
        text = text_of(app.dashboard.query_one(TopologyView))  # type: ignore[union-attr]
        assert "account-events (log, 6 partitions)" in text and "statements 2/2" in text
        for p in range(6):
            assert f"p{p}→#" in text
        owners = {text.split(f"p{p}→#")[1][0] for p in range(6)}
        assert owners == {"0", "1"}  # two instances share the six partitions


@pytest.mark.asyncio
async def test_dead_letter_edges_and_pattern_branches_at_80_columns() -> None:
    app, host = make_app(_load("order-saga"))
    async with app.run_test(size=(80, 40)) as pilot:
        _run_to(host, 4)
        await sync(app, pilot)
        view = app.dashboard.query_one(TopologyView)  # type: ignore[union-attr]
        lines = view.graph(host.snapshot(), 76).plain.splitlines()
        assert any("orders (topic)" in line for line in lines)
        assert any("saga order-saga" in line for line in lines)  # the saga reads the trigger topic
        for ch in ("inventory.commands", "payment.commands", "shipping.commands"):
            head = next(i for i, line in enumerate(lines) if ch in line)
            assert "order-saga" in lines[head]  # the saga feeds its command channels
            assert any("saga.dlq" in line for line in lines[head + 1: head + 4])
        assert all(len(line) <= 76 for line in lines)


@pytest.mark.asyncio
async def test_messages_move_at_teaching_speed_freeze_when_paused_and_step_one_event(lesson) -> None:  # type: ignore[no-untyped-def]
    app, host = make_app(lesson)
    async with app.run_test(size=(100, 32)) as pilot:
        await sync(app, pilot, 2.0)
        view = app.dashboard.query_one(TopologyView)  # type: ignore[union-attr]
        # At 1x, 20 orders a second would fill every cell of an edge: a solid bar says less than its rate.
        assert "/s" in text_of(view).splitlines()[0]
        host.submit(SetSpeed(0.25))  # a teaching speed: single messages, each a glyph
        await sync(app, pilot, 2.0)
        moving = text_of(view)
        assert any(g in moving for g in "○●"), moving  # glyphs on the edges, not only rates
        host.submit(TogglePause())
        await sync(app, pilot)
        frozen = text_of(view)
        await sync(app, pilot, 1.0)
        await sync(app, pilot, 1.0)
        assert text_of(view) == frozen  # paused: nothing moves
        before = host.snapshot().events
        host.submit(Step(1))
        snap = await sync(app, pilot)
        assert snap.events == before + 1 or snap.now_ns > 0
        # At high speed the edges show rates instead of single messages.
        host.submit(SetSpeed(MOTION_MAX_SPEED * 4))
        host.submit(TogglePause())
        await sync(app, pilot, 0.5)
        fast = text_of(view)
        assert "/s" in fast.splitlines()[0] and "●" not in fast.splitlines()[1]


@pytest.mark.asyncio
async def test_the_order_broke_marker_explains_itself_on_focus() -> None:
    from evtool.tui.widgets.lanes import Lanes

    loaded = load_scenario(ROOT / "scenarios" / "ordering-sequence-numbers.yaml",
                           {"consumers.statements.instances": 3})
    app, host = make_app(loaded)
    async with app.run_test(size=(100, 32)) as pilot:
        def broke(s):  # type: ignore[no-untyped-def]
            if s.paused:  # past the lesson's pauses
                host.submit(Resume())
            return any(c.broken for lane in s.lanes for c in lane.cells[-20:])

        snap = tick_until(host, broke, dt=0.1)
        host.submit(TogglePause())
        await sync(app, pilot)
        lanes = app.dashboard.query_one(Lanes)  # type: ignore[union-attr]
        lanes.focus()
        await pilot.pause()
        lanes.lane_index = next(i for i, lane in enumerate(lanes.lanes) if any(c.broken for c in lane.cells[-20:]))
        cells = lanes._visible(lanes.lanes[lanes.lane_index])
        broken = max(i for i, c in enumerate(cells) if c.broken)
        for _ in range(len(cells) - 1 - broken):
            await pilot.press("left")
        assert lanes.selected == cells[broken].msg
        text = lanes.render().plain
        assert f"{cells[broken].msg} was acknowledged after a later message of {cells[broken].key}" in text
        # At 100 columns the lanes panel is narrow: the explanation wraps onto a second line, never cut.
        await pilot.pause()
        shown = "".join(lanes.render_line(y).text for y in range(len(lanes.lanes), len(lanes.lanes) + 2))
        assert "broke here" in shown and "…" not in shown
        assert snap is not None


@pytest.mark.asyncio
async def test_partition_lanes_are_labelled_by_number_in_order() -> None:
    from evtool.tui.widgets.lanes import Lanes

    app, host = make_app(_load("partitioned-ordering"))
    async with app.run_test(size=(80, 24)) as pilot:
        _run_to(host, 3)
        await sync(app, pilot)
        lanes = app.dashboard.query_one(Lanes)  # type: ignore[union-attr]
        lines = lanes.render().plain.splitlines()[:6]
        assert [line.split()[0] for line in lines] == [f"p{p}" for p in range(6)]
