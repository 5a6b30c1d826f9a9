"""The installed brokers still behave as the profiles say (RabbitMQ 3.10, NATS 2.9, Redis 7.0; seconds each).

These replay the probe scripts quoted in test_stale_ack.py, test_capacity.py and test_ttl_profiles.py
against the real brokers, so a broker upgrade that changes the behaviour fails here instead of
silently making a profile untrue. Under ``CI=true`` an unreachable broker fails (broker_fixtures).
"""

from __future__ import annotations

import asyncio
import uuid

from broker_fixtures import nats_url, rabbitmq_url, redis_url  # noqa: F401  (pytest fixtures)

from evtool.core.profiles import get_profile


def test_nats_ack_from_the_superseded_delivery_settles(nats_url: str) -> None:  # noqa: F811
    """AckWait 1 s: the first delivery's ack, sent after the redelivery, settles the message."""
    assert get_profile("nats-jetstream").stale_ack == "settles"
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

    async def probe() -> tuple[int, int, bool]:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        name = f"EVT_STALE_{uuid.uuid4().hex[:8]}"
        subject = f"evt.stale.{name}"
        await js.add_stream(StreamConfig(name=name, subjects=[subject], retention=RetentionPolicy.WORK_QUEUE))
        try:
            await js.add_consumer(name, ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT,
                                                       ack_wait=1.0, max_deliver=2))
            sub = await js.pull_subscribe(subject, durable="c", stream=name)
            await js.publish(subject, b"x")
            (first,) = await sub.fetch(1, timeout=2)
            await asyncio.sleep(1.3)
            (second,) = await sub.fetch(1, timeout=2)
            await first.ack_sync()
            info = await js.consumer_info(name, "c")
            stored = (await js.stream_info(name)).state.messages
            try:
                await sub.fetch(1, timeout=1.5)
                third = True
            except Exception:  # nats.errors.TimeoutError: nothing more to deliver
                third = False
            assert second.metadata.num_delivered == 2
            return info.num_ack_pending, stored, third
        finally:
            await js.delete_stream(name)
            await nc.close()

    assert asyncio.run(probe()) == (0, 0, False)


def test_redis_xack_after_xclaim_settles(redis_url: str) -> None:  # noqa: F811
    """XACK by id removes an entry another consumer claimed; the claimer's XACK then counts 0."""
    assert get_profile("redis-streams").stale_ack == "settles"
    import redis

    r = redis.Redis.from_url(redis_url)
    key = f"evt:stale:{uuid.uuid4().hex[:8]}"
    try:
        r.xgroup_create(key, "g", id="$", mkstream=True)
        eid = r.xadd(key, {"v": "1"})
        r.xreadgroup("g", "alice", {key: ">"}, count=1)
        claimed = r.xclaim(key, "g", "bob", min_idle_time=0, message_ids=[eid])
        assert [c[0] for c in claimed] == [eid]
        assert r.xack(key, "g", eid) == 1
        assert r.xpending_range(key, "g", "-", "+", 10) == []
        assert r.xack(key, "g", eid) == 0
    finally:
        r.delete(key)
        r.close()


def test_nats_max_age_and_max_msgs_include_unacked(nats_url: str) -> None:  # noqa: F811
    """MaxAge deletes an unacked message; MaxMsgs with DiscardOld deletes the oldest, unacked one."""
    p = get_profile("nats-jetstream")
    assert (p.message_expiry, p.capacity_counts, p.overflow_head) == ("anywhere", "stored", "drop")
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StreamConfig

    async def probe() -> tuple[int, int, int, int]:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        age, cap = (f"EVT_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("AGE", "CAP"))
        try:
            await js.add_stream(StreamConfig(name=age, subjects=[f"evt.{age}"], max_age=1.0,
                                             retention=RetentionPolicy.WORK_QUEUE))
            await js.add_consumer(age, ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT, ack_wait=30))
            sub = await js.pull_subscribe(f"evt.{age}", durable="c", stream=age)
            await js.publish(f"evt.{age}", b"a")
            await sub.fetch(1, timeout=2)
            await asyncio.sleep(2.5)
            aged = (await js.stream_info(age)).state.messages
            pending = (await js.consumer_info(age, "c")).num_ack_pending
            await js.add_stream(StreamConfig(name=cap, subjects=[f"evt.{cap}"], max_msgs=2,
                                             discard=DiscardPolicy.OLD, retention=RetentionPolicy.WORK_QUEUE))
            await js.add_consumer(cap, ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT, ack_wait=30))
            sub2 = await js.pull_subscribe(f"evt.{cap}", durable="c", stream=cap)
            for body in (b"m0", b"m1"):
                await js.publish(f"evt.{cap}", body)
            await sub2.fetch(2, timeout=2)                 # both unacked
            await js.publish(f"evt.{cap}", b"m2")
            state = (await js.stream_info(cap)).state
            return aged, pending, state.messages, state.first_seq
        finally:
            for name in (age, cap):
                try:
                    await js.delete_stream(name)
                except Exception:  # the stream was never created (an earlier step failed)
                    pass
            await nc.close()

    assert asyncio.run(probe()) == (0, 0, 2, 2)


def test_rabbitmq_one_copy_maxlen_dead_letter_and_key_limit(rabbitmq_url: str) -> None:  # noqa: F811
    """RabbitMQ 3.10: one copy over three paths; drop-head with a DLX dead-letters (reason maxlen);
    a 256-byte routing key is refused by the client, never truncated."""
    assert get_profile("rabbitmq-classic").overflow_head == "dead_letter"
    import aio_pika
    from aio_pika import ExchangeType, Message

    async def probe() -> tuple[int, bytes | None, object, bool]:
        conn = await aio_pika.connect(rabbitmq_url)
        try:
            ch = await conn.channel()
            tag = uuid.uuid4().hex[:8]
            e0 = await ch.declare_exchange(f"evt.e0.{tag}", ExchangeType.FANOUT, auto_delete=True)
            e1 = await ch.declare_exchange(f"evt.e1.{tag}", ExchangeType.TOPIC, auto_delete=True)
            q = await ch.declare_queue(f"evt.q.{tag}", exclusive=True)
            await q.bind(e0)
            await q.bind(e1, "a.*")
            await q.bind(e1, "#")
            await e0.bind(e1, "#")
            await e1.publish(Message(b"x"), routing_key="a.b")
            dlx = await ch.declare_exchange(f"evt.dlx.{tag}", ExchangeType.FANOUT, auto_delete=True)
            dlq = await ch.declare_queue(f"evt.dlq.{tag}", exclusive=True)
            await dlq.bind(dlx)
            lim = f"evt.lim.{tag}"
            await ch.declare_queue(lim, exclusive=True,
                                   arguments={"x-max-length": 2, "x-dead-letter-exchange": dlx.name})
            for i in range(3):
                await ch.default_exchange.publish(Message(f"m{i}".encode()), routing_key=lim)
            await asyncio.sleep(0.3)
            copies = 0
            while (m := await q.get(fail=False)) is not None:
                copies += 1
                await m.ack()
            dead = await dlq.get(fail=False)
            body = dead.body if dead else None
            reason = dead.headers["x-death"][0]["reason"] if dead else None  # type: ignore[index]
            try:
                await ch.default_exchange.publish(Message(b"x"), routing_key="k" * 256)
                refused = False
            except ValueError:
                refused = True
            return copies, body, reason, refused
        finally:
            await conn.close()

    assert asyncio.run(probe()) == (1, b"m0", "maxlen", True)


def test_redis_xadd_maxlen_never_refuses_and_trims_the_oldest(redis_url: str) -> None:  # noqa: F811
    """XADD MAXLEN 2 (exact): every add succeeds and only the two newest entries stay. A pending entry counts
    in the length and is trimmed like the rest, but stays in the PEL and its XACK still settles it; unread
    entries beyond the two newest are lost; a trimmed pending entry re-read later comes back empty (profile
    fields reject_publish and capacity_counts; tests/core/test_capacity.py)."""
    p = get_profile("redis-streams")
    assert (p.reject_publish, p.capacity_counts) == ("head_trimmed", "ready")
    import redis

    r = redis.Redis.from_url(redis_url)
    key = f"evt:maxlen:{uuid.uuid4().hex[:8]}"
    try:
        r.xgroup_create(key, "g", id="$", mkstream=True)
        m0 = r.xadd(key, {"v": "m0"}, maxlen=2, approximate=False)
        r.xreadgroup("g", "c", {key: ">"}, count=1)                      # m0 is now pending
        m1, m2 = (r.xadd(key, {"v": v}, maxlen=2, approximate=False) for v in ("m1", "m2"))
        assert [e[0] for e in r.xrange(key)] == [m1, m2]                 # m0 trimmed though pending
        ((_, unread),) = r.xreadgroup("g", "c", {key: ">"}, count=10)
        assert [e[0] for e in unread] == [m1, m2]                        # nothing unread was lost
        assert r.xack(key, "g", m0) == 1                                 # the trimmed pending entry settles
        m3, m4, m5 = (r.xadd(key, {"v": v}, maxlen=2, approximate=False) for v in ("m3", "m4", "m5"))
        assert m3 and m4 and m5                                          # no add is ever refused
        ((_, unread),) = r.xreadgroup("g", "c", {key: ">"}, count=10)
        assert [e[0] for e in unread] == [m4, m5]                        # three unread, two kept: m3 lost
        ((_, reread),) = r.xreadgroup("g", "c", {key: "0"}, count=10)   # m1, m2 pending and trimmed
        assert [(e[0], e[1]) for e in reread][:2] == [(m1, {}), (m2, {})]
    finally:
        r.delete(key)
        r.close()


def test_redis_stream_entries_never_expire_by_age(redis_url: str) -> None:  # noqa: F811
    """Redis streams: "There is currently no option to tell the stream to just retain items that are not older
    than a given period" (redis.io, Streams, "Capped streams"). An entry leaves only by XDEL or a trim: one
    added, read and left pending, and one added and left unread are both still there, whole, well after a TTL
    a scenario might have given them (profile field message_expiry: none; tests/core/test_ttl_profiles.py)."""
    assert get_profile("redis-streams").message_expiry == "none"
    import time

    import redis

    r = redis.Redis.from_url(redis_url)
    key = f"evt:nottl:{uuid.uuid4().hex[:8]}"
    try:
        r.xgroup_create(key, "g", id="$", mkstream=True)
        held = r.xadd(key, {"v": "held"})
        r.xreadgroup("g", "c", {key: ">"}, count=1)                      # pending
        unread = r.xadd(key, {"v": "unread"})
        time.sleep(0.3)                                                  # past a 100 ms "ttl"
        assert [e[0] for e in r.xrange(key)] == [held, unread]
        ((_, got),) = r.xreadgroup("g", "c", {key: ">"}, count=10)
        assert [(e[0], e[1]) for e in got] == [(unread, {b"v": b"unread"})]
        ((_, again),) = r.xreadgroup("g", "c", {key: "0"}, count=10)    # the pending one re-read, whole
        assert (again[0][0], again[0][1]) == (held, {b"v": b"held"})
    finally:
        r.delete(key)
        r.close()
