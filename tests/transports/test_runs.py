"""Whole scenarios on each real broker in real time (a few seconds each): same checks as the local engine,
the same trace vocabulary, names prefixed per run and cleaned up afterwards (or kept with keep=True)."""

from __future__ import annotations

import asyncio

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports.runner import run_on_transport, run_on_transport_async
from evtool.transports.topology import build_topology

from .scenarios import CRASH, FANOUT, POISON, POISON_ATTEMPTS, text

pytestmark = pytest.mark.broker


def _statuses(outcome: object) -> dict[str, str]:
    return {c["name"]: c["status"] for c in outcome.checks}  # type: ignore[attr-defined]


def test_poison_scenario_matches_the_local_run(broker: tuple[str, str]) -> None:
    transport, url = broker
    loaded = load_text(text(POISON, transport, ATTEMPTS=str(POISON_ATTEMPTS[transport])))
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, transport, url=url, listeners=[trace.extend])
    assert real.extra["problems"] == []
    assert _statuses(local) == _statuses(real)
    if transport == "nats":
        # JetStream keeps the message at MaxDeliver (advisory), and so does the core's nats-jetstream profile:
        # no dead letter on either side (test_truth.py has the explicit dead-letter emulation). A message kept
        # where no consumer sees it is not handled, so no_loss fails on both sides
        assert _statuses(real) == {"nothing-lost": "fail", "poison": "fail", "charged": "pass"}
        assert real.summary["counts"].get("max_deliveries_reached") == 1
        assert local.summary["counts"].get("max_deliveries_reached") == 1
        assert any("stays in the stream" in w for w in real.extra["warnings"])
    else:
        assert _statuses(real) == {"nothing-lost": "pass", "poison": "pass", "charged": "pass"}
        assert real.outcome == "passed"
    assert real.drain == "complete"
    for k in ("published", "acked", "delivered"):
        assert real.summary["counts"].get(k) == local.summary["counts"].get(k), k
    poison = [e for e in trace if e.msg == "POISON-1" and e.kind in ("delivered", "redelivered")]
    assert [e.attempt for e in poison] == list(range(1, POISON_ATTEMPTS[transport] + 1))
    assert real.summary["consumers"]["billing"]["state"] == {"charged": 19}


def test_crashed_consumer_work_is_redelivered(broker: tuple[str, str]) -> None:
    transport, url = broker
    loaded = load_text(text(CRASH, transport))
    real = run_on_transport(loaded, transport, url=url)
    assert real.extra["problems"] == []
    assert _statuses(real) == {"nothing-lost": "pass", "all-done": "pass", "redelivered": "pass"}, real.checks


def test_routing_topics_and_groups(broker: tuple[str, str]) -> None:
    transport, url = broker
    loaded = load_text(text(FANOUT, transport))
    local = Engine(loaded).run()
    real = run_on_transport(loaded, transport, url=url)
    assert real.extra["problems"] == []
    assert _statuses(real) == _statuses(local) == {"audit-a-all": "pass", "audit-b-all": "pass",
                                                    "paid-only": "pass"}, real.checks
    assert real.summary["counts"]["routed"] == local.summary["counts"]["routed"]


async def _leftovers(transport: str, url: str, prefix: str, loaded: object) -> list[str]:
    """Names with this run's prefix still on the broker."""
    topo = build_topology(loaded.model, prefix)  # type: ignore[attr-defined]
    if transport == "redis":
        import redis.asyncio as aredis

        r = aredis.from_url(url)
        try:
            return [k.decode() for k in await r.keys(f"{prefix}:*")]
        finally:
            await r.aclose()
    if transport == "nats":
        import nats

        nc = await nats.connect(url)
        try:
            names = await nc.jsm().streams_info()
            return [s.config.name for s in names if s.config.name.startswith(prefix)]
        finally:
            await nc.close()
    import aiormq

    conn = await aiormq.connect(url)
    left = []
    try:
        for name in topo.channels:
            ch = await conn.channel()
            try:
                await ch.queue_declare(f"{prefix}.{name}", passive=True)
                left.append(name)
                await ch.close()
            except aiormq.exceptions.ChannelNotFoundEntity:
                pass
    finally:
        await conn.close()
    return left


def test_names_are_prefixed_and_cleaned_up_unless_kept(broker: tuple[str, str]) -> None:
    transport, url = broker
    loaded = load_text(text(POISON, transport, ATTEMPTS=str(POISON_ATTEMPTS[transport])))

    async def scenario() -> None:
        a = await run_on_transport_async(loaded, transport, url=url, duration_ns=300_000_000)
        assert await _leftovers(transport, url, a.extra["prefix"], loaded) == []
        b = await run_on_transport_async(loaded, transport, url=url, duration_ns=300_000_000, keep=True)
        assert a.extra["prefix"] != b.extra["prefix"]
        try:
            assert await _leftovers(transport, url, b.extra["prefix"], loaded) != []
        finally:
            from evtool.transports.base import Topology  # noqa: F401 - the cleanup below uses a fresh adapter
            from evtool.transports.runner import make_transport

            ad = make_transport(transport, url, loaded)
            await ad.connect()
            await ad.declare(build_topology(loaded.model, b.extra["prefix"]), _NullSink())
            await ad.cleanup()
            await ad.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


class _NullSink:
    def deliver(self, *a: object) -> None:
        """Unused."""

    def dead(self, *a: object, **k: object) -> None:
        """Unused."""

    def kept(self, *a: object) -> None:
        """Unused."""

    def problem(self, text: str) -> None:
        """Unused."""


def test_outcome_names_transport_without_credentials(rabbitmq_url: str) -> None:
    loaded = load_text(text(POISON, "rabbitmq", ATTEMPTS="3"))
    real = run_on_transport(loaded, "rabbitmq", url=rabbitmq_url, duration_ns=300_000_000)
    assert real.extra["transport"] == "rabbitmq" and real.extra["profile"] == "rabbitmq-quorum"
    assert "guest:***@" in real.extra["url"] and ":guest@" not in real.extra["url"]
    assert real.extra["server"].startswith("3.") or real.extra["server"]


def test_interrupted_run_ends_interrupted_and_cleans_up(rabbitmq_url: str) -> None:
    """Cancelling the run (Ctrl-C) gives an `interrupted` outcome and still deletes what was declared."""
    loaded = load_text(text(CRASH, "rabbitmq"))

    async def scenario() -> None:
        task = asyncio.ensure_future(run_on_transport_async(loaded, "rabbitmq", url=rabbitmq_url))
        await asyncio.sleep(0.8)
        task.cancel()
        out = await asyncio.wait_for(task, 20)
        assert out.outcome == "interrupted"
        assert await _leftovers("rabbitmq", rabbitmq_url, out.extra["prefix"], loaded) == []

    asyncio.run(scenario())


def test_compare_local_and_rabbitmq_side_by_side(rabbitmq_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`compare_runs` runs both; the table shows each check and the key counts per target."""
    from evtool.transports import compare_runs, format_comparison

    monkeypatch.setenv("EVTOOL_RABBITMQ_URL", rabbitmq_url)
    loaded = load_text(text(POISON, "rabbitmq", ATTEMPTS="3"))
    outcomes = compare_runs(loaded, ["local", "rabbitmq"])
    table = format_comparison(outcomes)
    lines = table.splitlines()
    assert lines[0].split() == ["local", "rabbitmq"]
    poison = next(line for line in lines if line.startswith("check poison"))
    assert poison.count("pass: 1 dead letter(s)") == 2
    dead = next(line for line in lines if line.startswith("dead_lettered"))
    assert dead.split()[1:] == ["1", "1"]


TRIMMED = """
evtool: "1"
id: trimmed-unread
run: {seed: 1, duration: 700ms, drain: {max: 4s}}
broker: {profile: redis-streams}
channels:
  jobs: {kind: queue, capacity: 2}
producers:
  p:
    to: jobs
    arrival: {process: constant, rate: 1/s}
    stop: 0s
    inject:
      - {at: 0s, id: M1}
      - {at: 400ms, id: M2}
      - {at: 500ms, id: M3}
      - {at: 600ms, id: M4}
consumers:
  c: {from: jobs, prefetch: 1, processing: 1500ms}
"""


def test_redis_records_an_unread_entry_trimmed_when_the_trim_happens(redis_url: str) -> None:
    """XADD MAXLEN 2: M4's add trims M2, which the group never read (M1 is held, M2 and M3 wait). MAXLEN:
    "Redis enforces this by removing the oldest entries - that is, the entries with the lowest stream IDs"
    (https://redis.io/docs/latest/commands/xtrim/); XINFO GROUPS gives each group's last-delivered-id, "The
    ID of the last entry delivered to the group's consumers" (https://redis.io/docs/latest/commands/
    xinfo-groups/). The transport reads both on the same connection right after the XADDs and records M2
    dropped at once, as the core under redis-streams does, instead of when a read finds it missing after M3
    and M4."""
    loaded = load_text(TRIMMED)
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, "redis", url=redis_url, listeners=[trace.extend])
    assert real.extra["problems"] == []
    (dropped,) = [e for e in trace if e.kind == "dropped"]
    assert (dropped.msg, dropped.data["reason"], dropped.data["observed"]) == ("M2", "overflow", "trimmed")
    m4 = next(e for e in trace if e.kind == "published" and e.msg == "M4")
    m3_delivered = next(e for e in trace if e.kind == "delivered" and e.msg == "M3")
    assert m4.t <= dropped.t < m3_delivered.t           # at the trim, long before a read could miss it
    assert real.summary["counts"].get("dropped") == local.summary["counts"].get("dropped") == 1
    assert real.drain == "complete"
