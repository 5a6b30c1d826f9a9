"""Routing: one copy per queue per publish, and the AMQP 255-byte key limit.

https://www.rabbitmq.com/docs/e2e (Exchange to Exchange Bindings): "We detect and eliminate cycles
during message delivery, and ensure that transitively, over any routing topology, for every queue to
which a given message is routed, each queue will receive exactly one copy of that message."
Checked on the installed RabbitMQ 3.10.8 (aio-pika script): a queue bound to fanout e0 and twice to
topic e1 (``a.*`` and ``#``), with e0 bound to e1 -- one publish to e1 leaves exactly 1 message in the
queue.

https://www.rabbitmq.com/tutorials/tutorial-five-python : a routing key can be any words "up to the
limit of 255 bytes". On this machine aio-pika refuses a 256-byte key before sending it
(ValueError "Routing key too long (max 255 bytes)"): nothing is truncated, so evtool refuses such a
key when it validates the scenario, with a located error.
"""

from __future__ import annotations

import pytest

from evtool.core.channel_config import QueueConfig, RouterConfig, TopicConfig
from evtool.core.message import Message
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text

from .conftest import Rig


def test_exchange_to_exchange_paths_give_one_copy(rig: Rig) -> None:
    """q reachable from e1 directly (two bindings) and through e0: one copy."""
    b = rig.broker
    b.declare("q", QueueConfig())
    b.declare("e0", RouterConfig(type="fanout"))
    b.declare("e1", RouterConfig(type="topic"))
    b.bind("e0", "q")
    b.bind("e1", "q", "a.*")
    b.bind("e1", "q", "#")
    b.bind("e1", "e0", "#")
    b.publish(0, "e1", Message("m1", key="a.b"))
    assert b.stats("q").ready == 1
    assert [e.channel for e in rig.kinds("routed")] == ["q", "e0"]


def test_routing_cycle_terminates_with_one_copy(rig: Rig) -> None:
    """Two routers bound to each other and to the same queue: the cycle is cut, one copy arrives."""
    b = rig.broker
    b.declare("q", QueueConfig())
    b.declare("x", RouterConfig(type="fanout"))
    b.declare("y", RouterConfig(type="fanout"))
    b.bind("x", "y")
    b.bind("y", "x")
    b.bind("x", "q")
    b.bind("y", "q")
    b.publish(0, "x", Message("m1"))
    assert b.stats("q").ready == 1


def test_topic_channel_reached_twice_gets_one_copy_per_subscription(rig: Rig) -> None:
    """A topic (each group its own queue) bound through two paths: each group still gets one copy."""
    b = rig.broker
    b.declare("t", TopicConfig())
    b.declare("x", RouterConfig(type="fanout"))
    b.declare("y", RouterConfig(type="fanout"))
    b.bind("x", "t")
    b.bind("x", "y")
    b.bind("y", "t")
    b.subscribe(0, "t", "c", 0, group="g1")
    b.subscribe(0, "t", "c", 0, group="g2")
    b.publish(0, "x", Message("m1"))
    subs = b.subscription_stats("t")
    assert subs["g1"].ready == 1 and subs["g2"].ready == 1


def test_unroutable_only_when_no_queue_is_reached(rig: Rig) -> None:
    """An inner router that matches nothing does not make the publish unroutable."""
    b = rig.broker
    b.declare("q", QueueConfig())
    b.declare("x", RouterConfig(type="fanout"))
    b.declare("inner", RouterConfig(type="direct"))
    b.bind("x", "q")
    b.bind("x", "inner")
    b.publish(0, "x", Message("m1", key="k"))
    assert not rig.kinds("unroutable")
    b.publish(0, "inner", Message("m2", key="k"))
    assert [e.msg for e in rig.kinds("unroutable")] == ["m2"]


SCENARIO = """
evtool: "1"
id: long-keys
run: {seed: 1, duration: 1s}
channels:
  orders: {kind: queue}
  x:
    kind: router
    type: direct
    bindings:
      - {to: orders, pattern: BINDING}
producers:
  p: {to: x, arrival: {process: constant, rate: 1/s}, routing_key: "ROUTING"}
consumers:
  c: {from: orders}
"""


@pytest.mark.parametrize(("binding", "routing", "where"), [
    ("o" * 256, "o", "channels.x.bindings[0].pattern"),
    ("o", "o" * 200 + "{{ key }}" + "o" * 56, "producers.p.routing_key"),
    ("é" * 128, "o", "channels.x.bindings[0].pattern"),     # 128 characters, 256 bytes
])
def test_amqp_key_over_255_bytes_is_a_located_error(binding: str, routing: str, where: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_text(SCENARIO.replace("BINDING", binding).replace("ROUTING", routing), "keys.yaml")
    (problem,) = [p for p in err.value.errors if "AMQP allows at most 255" in p.message]
    assert problem.path == where and problem.file == "keys.yaml" and problem.line > 0
    assert "256 bytes" in problem.message


def test_amqp_key_of_255_bytes_is_accepted() -> None:
    load_text(SCENARIO.replace("BINDING", "o" * 255).replace("ROUTING", "o" * 255), "keys.yaml")
