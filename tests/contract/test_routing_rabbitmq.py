"""Contract: every row of the golden topic-routing table (tests/core/routing_cases.py) on a real RabbitMQ
topic exchange, and through evtool's adapter (a router channel bound to queues)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from evtool.core.routing import topic_matches
from evtool.transports.base import new_prefix

from .drivers import ChannelPlan, RealDriver

pytestmark = [pytest.mark.broker, pytest.mark.asyncio]


def _cases() -> list[tuple[str, str, bool]]:
    path = Path(__file__).resolve().parents[1] / "core" / "routing_cases.py"
    spec = importlib.util.spec_from_file_location("evtool_routing_cases", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.ROUTING_CASES)


ROUTING_CASES = _cases()


async def _route_on_rabbitmq(url: str, cases: list[tuple[str, str, bool]]) -> dict[tuple[str, str], bool]:
    """Bind one queue per distinct pattern to a fresh topic exchange, publish one message per distinct key,
    and read back which queue got which key."""
    import aiormq
    from pamqp.commands import Basic

    prefix = new_prefix()
    patterns = sorted({p for p, _k, _e in cases})
    keys = sorted({k for _p, k, _e in cases})
    conn = await asyncio.wait_for(aiormq.connect(url), 10)
    ch = await conn.channel(publisher_confirms=True)
    exchange = f"{prefix}.routing"
    queues = {p: f"{prefix}.q{i}" for i, p in enumerate(patterns)}
    try:
        await ch.exchange_declare(exchange, exchange_type="topic", auto_delete=False)
        for p, q in queues.items():
            await ch.queue_declare(q, exclusive=True)
            await ch.queue_bind(q, exchange, routing_key=p)
        for k in keys:
            await ch.basic_publish(k.encode(), exchange=exchange, routing_key=k)
        seen: dict[tuple[str, str], bool] = {}
        for p, q in queues.items():
            got = set()
            while True:
                m = await ch.basic_get(q, no_ack=True)
                if not isinstance(m.delivery, Basic.GetOk):
                    break
                got.add(m.body.decode())
            for k in keys:
                seen[(p, k)] = k in got
        return seen
    finally:
        await ch.exchange_delete(exchange)
        await conn.close()


async def test_every_golden_routing_row_on_a_real_topic_exchange(rabbitmq_url: str) -> None:
    """RabbitMQ's topic exchange, the core's matcher and the golden table agree on every row."""
    seen = await _route_on_rabbitmq(rabbitmq_url, ROUTING_CASES)
    wrong = [(p, k, e, seen[(p, k)]) for p, k, e in ROUTING_CASES if seen[(p, k)] != e]
    assert not wrong, f"RabbitMQ disagrees with the golden table on {wrong}"
    assert all(topic_matches(p, k) == e for p, k, e in ROUTING_CASES)


async def test_router_channel_routes_through_the_adapter(rabbitmq_url: str) -> None:
    """A scenario router (topic exchange) bound to queues with patterns: each queue receives exactly the
    keys the golden table says, through evtool's adapter and the routes the runtime predicts."""
    rows = [r for r in ROUTING_CASES if r[0] in ("a.#", "*.b", "#")]
    patterns = sorted({p for p, _k, _e in rows})
    keys = sorted({k for _p, k, _e in rows})
    plans = [ChannelPlan("ex", "router", router_type="topic",
                         bindings=[(f"q{i}", p) for i, p in enumerate(patterns)])]
    plans += [ChannelPlan(f"q{i}", "queue", groups=["c"]) for i in range(len(patterns))]
    d = RealDriver("rabbitmq", rabbitmq_url)
    await d.start(plans)
    try:
        for i, k in enumerate(keys):
            await d.publish("ex", f"k{i}", key=k)
        for i, p in enumerate(patterns):
            sid = await d.subscribe(f"q{i}", f"c{i}", prefetch=0)
            expected = [f"k{j}" for j, k in enumerate(keys) if topic_matches(p, k)]
            got = [(await d.take(sid)).msg.id for _ in expected]
            await d.quiet(sid)
            assert got == expected, p
    finally:
        await d.stop()
