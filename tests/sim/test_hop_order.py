"""A random hop latency delays each publish but never lets a publisher's later message overtake it.

RabbitMQ, https://www.rabbitmq.com/docs/semantics#ordering: "Messages published in one channel, passing
through one exchange and one queue and one outgoing channel will be received in the same order that they
were sent." A producer's hop to a channel is that one channel (one TCP connection): the latency it adds
is a delay of the stream, not a shuffle. Found by `evtool explore`: the ordering lesson's grouped-queue
variation failed `per-account-order` with no fault at all, because two publishes of one account 1 ms
apart drew hop latencies that swapped them.
"""

from __future__ import annotations

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

SCENARIO = """
evtool: "1"
id: hop-order
run: {seed: 3, duration: 2s}
broker: {hop_latency: {dist: uniform, min: 0ms, max: 20ms}}
channels: {q: {kind: queue}, r: {kind: queue}}
producers:
  a: {to: q, arrival: {process: constant, rate: 1000/s}, count: 400}
  b: {to: r, arrival: {process: constant, rate: 1000/s}, count: 400}
consumers: {w: {from: q}, v: {from: r}}
"""


def _arrivals(events: list[TraceEvent], channel: str) -> list[int]:
    """Message numbers in the order the broker took them (`published` is traced on arrival)."""
    return [int(e.msg.rsplit("-", 1)[1]) for e in events if e.kind == "published" and e.channel == channel]


def test_hop_latency_keeps_each_publishers_order() -> None:
    events: list[TraceEvent] = []
    Engine(load_text(SCENARIO), listeners=[events.extend]).run()
    for channel in ("q", "r"):
        seq = _arrivals(events, channel)
        assert len(seq) == 400
        assert seq == sorted(seq), f"a later publish overtook an earlier one on {channel}"


def test_hop_latency_still_delays() -> None:
    events: list[TraceEvent] = []
    Engine(load_text(SCENARIO), listeners=[events.extend]).run()
    # message n is sent at n ms (constant 1000/s); the broker takes it one hop later
    late = [e.t - int(e.msg.rsplit("-", 1)[1]) * 1_000_000 for e in events
            if e.kind == "published" and e.channel == "q"]
    assert min(late) >= 0
    assert max(late) > 1_000_000, "the hop must still take time"
