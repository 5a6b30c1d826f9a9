"""A Redis entry a group has read is pending, not ready, from the moment Redis answers the XREADGROUP: the depth
a run on Redis reports never counts it ready while the answer is on its way to the client, so a capped stream's
depth (its unread entries) never shows more than the capacity."""

from __future__ import annotations

import asyncio
import collections
import uuid
from typing import Any

import pytest

from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports.runner import run_on_transport

pytestmark = pytest.mark.broker

CAPPED = """
evtool: "1"
id: capped-slow-reader
run: {seed: 2, duration: 1500ms, drain: {max: 10s}}
broker: {profile: redis-streams}
channels:
  jobs: {kind: queue, capacity: 5, overflow: reject_publish}
producers:
  p:
    to: jobs
    arrival: {process: constant, rate: 200/s}
consumers:
  c: {from: jobs, prefetch: 1, processing: 5ms}
expect:
  - name: bounded
    that: max(queue.depth{channel=jobs}) <= 5
    when: always
"""

REPLY_DELAY_S = 0.02     # what an XREADGROUP answer spends between Redis and the reader, widened


def test_redis_shows_a_read_entry_pending_before_its_reader_hears_of_it(redis_url: str) -> None:
    """What the transport relies on, on the installed Redis: "A message is pending, and as such stored inside
    the PEL, when it was delivered to some consumer, normally as a side effect of calling XREADGROUP"
    (https://redis.io/commands/xack/), and XINFO GROUPS's last-delivered-id is "The ID of the last entry
    delivered to the group's consumers" (https://redis.io/docs/latest/commands/xinfo-groups/). As soon as
    Redis has answered a read, another connection sees the entry pending and the group's cursor on it; the
    next XADD MAXLEN trims it while it stays pending, and the entries left unread are never more than MAXLEN."""
    import redis

    r = redis.Redis.from_url(redis_url)
    other = redis.Redis.from_url(redis_url)
    key = f"evt:inflight:{uuid.uuid4().hex[:8]}"
    try:
        r.xgroup_create(key, "g", id="$", mkstream=True)
        m0, m1 = (r.xadd(key, {"v": v}, maxlen=2, approximate=False) for v in ("m0", "m1"))
        ((_, got),) = r.xreadgroup("g", "c", {key: ">"}, count=1)
        assert [e[0] for e in got] == [m0]
        (group,) = other.xinfo_groups(key)
        assert (group["last-delivered-id"], group["pending"]) == (m0, 1)
        m2 = other.xadd(key, {"v": "m2"}, maxlen=2, approximate=False)
        assert [e[0] for e in other.xrange(key)] == [m1, m2]              # m0 trimmed, read before
        assert [p["message_id"] for p in other.xpending_range(key, "g", "-", "+", 10)] == [m0]
        ((_, unread),) = other.xreadgroup("g", "d", {key: ">"}, count=10)
        assert [e[0] for e in unread] == [m1, m2]                          # two unread: MAXLEN, no more
    finally:
        r.delete(key)
        r.close()
        other.close()


def test_a_read_entry_stops_counting_ready_when_redis_shows_it_read(redis_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A consumer slower than its producer keeps a stream capped at 5 full: every XADD MAXLEN 5 trims the
    oldest entry. Each XREADGROUP answer is held back 20 ms on its way to the reader (a slow network or a busy
    client), while the publishing connection already sees the read in the group's last-delivered-id (test
    above). The run must count the read entries in flight from then on, not ready until their delivery
    arrives: the depth it reports stays at most 5, as Redis's unread entries do (the old transport read 6).
    Every other fact stays: each entry is delivered and acked, or dropped as trimmed unread
    (``data.observed: trimmed``), once."""
    import redis.asyncio as aredis

    original = aredis.Redis.xreadgroup

    async def late(self: Any, *a: Any, **k: Any) -> Any:
        got = await original(self, *a, **k)
        if got:
            await asyncio.sleep(REPLY_DELAY_S)
        return got

    monkeypatch.setattr(aredis.Redis, "xreadgroup", late)
    loaded = load_text(CAPPED)
    local = Engine(loaded).run()
    trace: list[TraceEvent] = []
    real = run_on_transport(loaded, "redis", url=redis_url, listeners=[trace.extend])
    assert real.extra["problems"] == []
    assert local.checks[0]["status"] == "pass"
    assert real.checks[0]["status"] == "pass", real.checks[0]["observed"]
    fates = collections.Counter(e.msg for e in trace if e.kind in ("delivered", "dropped"))
    published = {e.msg for e in trace if e.kind == "published"}
    assert fates.keys() == published and set(fates.values()) == {1}
    dropped = [e for e in trace if e.kind == "dropped"]
    assert dropped and {(e.data["reason"], e.data["observed"]) for e in dropped} == {("overflow", "trimmed")}
    counts = real.summary["counts"]
    assert counts["delivered"] == counts["acked"] and "redelivered" not in counts
    assert counts["delivered"] + counts["dropped"] == counts["published"]
    assert real.drain == "complete"
