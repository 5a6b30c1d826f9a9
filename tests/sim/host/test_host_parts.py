"""The host's parts on their own: rates, channel health, trigger text, recorded interventions."""

from __future__ import annotations

from evtool.core.delivery import ChannelStats
from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.scenario.loader import LoadedScenario
from evtool.sim.engine import Engine
from evtool.sim.host import describe_trigger, interventions_from_events
from evtool.sim.host.snapshots import RateMeter, channel_health

S = 1_000_000_000


class _Inst:
    def __init__(self, state: str) -> None:
        self.state = state


class _Consumer:
    def __init__(self, *states: str) -> None:
        self.instances = [_Inst(s) for s in states]


def test_rates_are_counted_over_the_last_virtual_second(lesson: LoadedScenario) -> None:
    eng = Engine(lesson)
    eng.start()
    meter = RateMeter()
    eng.run_until(2 * S)
    eng.flush()
    meter.measure(eng, lesson.model)
    before = {n: eng.broker.stats(n).published for n in lesson.model.channels}
    eng.run_until(3 * S)
    eng.flush()
    chans, prods, _ = meter.measure(eng, lesson.model)
    for name, (rate_in, _) in chans.items():
        assert rate_in == eng.broker.stats(name).published - before[name]
    assert sum(prods.values()) > 0, "the lesson's producer publishes in its first seconds"


def test_a_second_measure_at_the_same_instant_keeps_the_rates(lesson: LoadedScenario) -> None:
    eng = Engine(lesson)
    eng.start()
    meter = RateMeter()
    meter.measure(eng, lesson.model)
    eng.run_until(S)
    eng.flush()
    first = meter.measure(eng, lesson.model)
    assert meter.measure(eng, lesson.model) == first


def test_channel_health() -> None:
    busy = ChannelStats(published=100, ready=60, depth=60)
    empty = ChannelStats()
    assert channel_health("dead_letter", ChannelStats(ready=1, depth=1), [], 0, 0) == "warn"
    assert channel_health("dead_letter", empty, [], 0, 0) == "ok"
    assert channel_health("normal", busy, [_Consumer("crashed", "stopped")], 0, 0) == "stall"
    assert channel_health("normal", busy, [_Consumer("running")], 10.0, 5.0) == "warn"
    assert channel_health("normal", busy, [_Consumer("running")], 10.0, 10.0) == "ok"
    assert channel_health("normal", ChannelStats(ready=3, depth=3), [], 0, 0) == "idle"


def test_triggers_read_as_written() -> None:
    assert describe_trigger(m.LessonStep(at="20s", say="x")) == "at 20s"
    assert describe_trigger(m.LessonStep(at="end", say="x")) == "at end"
    assert describe_trigger(m.LessonStep(event="dead_lettered{tag=poison}", nth=2, say="x")) == \
        "dead_lettered{tag=poison} (#2)"


def test_interventions_are_rebuilt_from_the_recorded_events() -> None:
    def ev(t: int, data: dict, channel: str | None = None, msg: str | None = None) -> TraceEvent:
        return TraceEvent(t, "user_intervention", msg, channel, None, None, None, 0, None, data)

    events = [
        ev(5, {"action": "redrive"}, "orders.dlq", "m7"),
        ev(6, {"fault": {"action": "crash", "target": "billing"}}),
        ev(7, {"action": "pause", "target": "billing"}),
        TraceEvent(8, "acked", "m1", "orders", "billing", 1, None, 1, None, None),
    ]
    assert interventions_from_events(events) == [
        (5, "redrive", {"channel": "orders.dlq", "msg": "m7"}),
        (6, "fault", {"action": "crash", "target": "billing"}),
        (7, "fault", {"action": "pause", "target": "billing"}),
    ]
