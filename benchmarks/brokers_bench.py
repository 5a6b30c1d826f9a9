"""Messages per second of the reference scenario on the local core and on each real broker, in one run.

The reference scenario: one producer, one queue, four consumers, ack on
success (no processing time). The local core runs it as fast as possible
(virtual time; the figure is message lifecycles per wall second). Each real
broker runs it through evtool's transport in real time: the producer publishes
as fast as it can (every publish awaits its own confirm / PubAck / XADD reply,
pipelined), the consumers ack each message. The figure is acked messages per
wall second from the start of the run to the end of the drain.

Next to each transport the benchmark measures, in the same run, a plain-client anchor: the same client
library publishing N messages pipelined (every publish confirmed, all in flight together, or the broker's
batch call) to a fresh queue while one consumer reads and acks them (prefetch 100; RabbitMQ: a quorum queue,
persistent messages and four consumers, what evtool declares); the figure is N over the
time to the last ack. The ratio evtool / anchor is what evtool's engine costs on the same machine at the same
moment (on a busy machine every absolute figure drops; the ratio is the comparable one). Each row also gives the
client's CPU time per message (process time over the run, connect and declare included): what the client side
would cap at on an idle core (1e6 / µs per message), whatever the other load on the machine.

Kafka runs the queue as the kafka profile's share group (emulated on a consumer group, one partition per
consumer, a commit after each ack). SQS (batched SendMessageBatch / DeleteMessageBatch of 10, ReceiveMessage
of up to 10 with long polling) runs on the endpoint EVTOOL_SQS_URL names (moto's server on 127.0.0.1:5000 by
default, what the tests use), or on one this benchmark starts with `--sqs-endpoint fauxqs|moto`
(sqs_endpoint.py). moto's receive costs O(backlog) per message, so on moto the figure is moto's (about 50-60
msg/s, plain client and evtool alike) and the default is 500 messages; fauxqs (npm) serves a receive at the
same cost at any backlog, so there the figure is evtool's client, with --messages messages. Neither says
much about AWS.

Each target runs `--runs` times (3 by default), evtool and its anchor back to back in every round; the table
gives the medians and every round's ratio.

    python benchmarks/brokers_bench.py [--messages 20000] [--sqs-messages 3000] [--local-messages 200000]
                                       [--only rabbitmq,nats,redis,kafka,sqs] [--runs 3]
                                       [--sqs-endpoint running|fauxqs|moto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqs_endpoint  # noqa: E402

from evtool.scenario.loader import load_text  # noqa: E402
from evtool.sim.engine import Engine  # noqa: E402
from evtool.transports.base import PROFILE_OF, TRANSPORTS, probe, resolve_url  # noqa: E402
from evtool.transports.runner import run_on_transport  # noqa: E402

TARGET = 5_000
"""Messages per second every transport should hold on this machine (issue 14)."""

REFERENCE = """
evtool: "1"
id: reference-brokers
run: {{seed: 1, duration: {duration}s, drain: {{max: 2m}}}}
broker: {{profile: {profile}}}
channels:
  work: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: constant, rate: {rate}}}, count: {count}}}
consumers:
  worker: {{from: work, instances: 4, prefetch: 100, processing: 0s}}
"""


def local(messages: int) -> dict[str, float | int | str]:
    """The reference on the core, as fast as possible."""
    loaded = load_text(REFERENCE.format(duration=messages // 10_000 + 1, profile="default", rate="10000/s",
                                        count=messages))
    t0, c0 = time.perf_counter(), time.process_time()
    out = Engine(loaded).run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    acked = out.summary["counts"].get("acked", 0)
    return {"target": "local", "messages": acked, "wall_s": round(wall, 3), "msg_per_s": round(acked / wall),
            "cpu_us_per_msg": round(cpu / max(acked, 1) * 1e6)}


def real(transport: str, messages: int) -> dict[str, float | int | str]:
    """The reference on a real broker, in real time."""
    loaded = load_text(REFERENCE.format(duration=60, profile=PROFILE_OF[transport], rate="max", count=messages))
    t0, c0 = time.perf_counter(), time.process_time()
    out = run_on_transport(loaded, transport)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    acked = out.summary["counts"].get("acked", 0)
    span = out.virtual_ns / 1e9      # run start -> drain end, without connect/declare/cleanup
    return {"target": transport, "messages": acked, "wall_s": round(wall, 3), "run_s": round(span, 3),
            "msg_per_s": round(acked / span) if span else 0, "cpu_us_per_msg": round(cpu / max(acked, 1) * 1e6),
            "outcome": out.outcome, "drain": out.drain,
            "server": out.extra.get("server", "")}


# ----------------------------------------------------------------------------------------- plain anchors


async def _anchor_rabbitmq(n: int) -> float:
    """What evtool declares under rabbitmq-quorum: a durable quorum queue, persistent messages, four consumer
    channels with prefetch 100."""
    import aiormq
    from pamqp.commands import Basic

    conn = await aiormq.connect(resolve_url("rabbitmq"))
    q = f"anchor-{time.time_ns()}"
    subs: list[Any] = []
    try:
        pub = await conn.channel()
        await pub.queue_declare(q, durable=True, arguments={"x-queue-type": "quorum"})
        done = asyncio.Event()
        got = 0
        for _ in range(4):
            sub = await conn.channel()
            subs.append(sub)
            await sub.basic_qos(prefetch_count=100)

            async def on(message: Any, sub: Any = sub) -> None:
                nonlocal got
                await sub.basic_ack(message.delivery.delivery_tag)
                got += 1
                if got >= n:
                    done.set()

            await sub.basic_consume(q, on)
        props = Basic.Properties(delivery_mode=2)
        t0 = time.perf_counter()
        await asyncio.gather(*(pub.basic_publish(b"x" * 200, routing_key=q, properties=props) for _ in range(n)))
        await done.wait()
        return time.perf_counter() - t0
    finally:
        for sub in subs:        # consumers first: deleting a queue under them cancels them noisily
            await sub.close()
        ch = await conn.channel()
        await ch.queue_delete(q)
        await conn.close()


async def _anchor_nats(n: int) -> float:
    import nats

    nc = await nats.connect(resolve_url("nats"))
    js = nc.jetstream()
    name = f"anchor{int(time.time() * 1000) % 10**9}"
    try:
        await js.add_stream(name=name, subjects=[f"{name}.x"])
        sub = await js.pull_subscribe(f"{name}.x", durable="c")
        t0 = time.perf_counter()
        pubs = asyncio.gather(*(js.publish(f"{name}.x", b"x" * 200) for _ in range(n)))
        got = 0
        while got < n:
            try:
                msgs = await sub.fetch(100, timeout=1)
            except Exception:  # noqa: BLE001 - nothing yet
                continue
            await asyncio.gather(*(m.ack() for m in msgs))
            got += len(msgs)
        await pubs
        return time.perf_counter() - t0
    finally:
        try:
            await js.delete_stream(name)
        finally:
            await nc.close()


async def _anchor_redis(n: int) -> float:
    import redis.asyncio as aredis

    r = aredis.Redis.from_url(resolve_url("redis"))
    key = f"anchor:{time.time_ns()}"
    try:
        await r.xgroup_create(key, "g", id="0", mkstream=True)
        t0 = time.perf_counter()

        async def produce() -> None:
            for i in range(0, n, 100):
                p = r.pipeline(transaction=False)
                for _ in range(min(100, n - i)):
                    p.xadd(key, {"m": b"x" * 200})
                await p.execute()

        prod = asyncio.create_task(produce())
        got = 0
        while got < n:
            resp = await r.xreadgroup("g", "c", {key: ">"}, count=100, block=100)
            ids = [eid for _k, entries in resp or [] for eid, _f in entries]
            if ids:
                await r.xack(key, "g", *ids)
                got += len(ids)
        await prod
        return time.perf_counter() - t0
    finally:
        await r.delete(key)
        await r.aclose()


async def _anchor_kafka(n: int) -> float:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from evtool.transports.kafka import bootstrap

    servers = bootstrap(resolve_url("kafka"))
    topic = f"anchor-{time.time_ns()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    prod = AIOKafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=2)
    cons = AIOKafkaConsumer(topic, bootstrap_servers=servers, group_id=topic, enable_auto_commit=False,
                            auto_offset_reset="earliest", session_timeout_ms=2000, heartbeat_interval_ms=500)
    await prod.start()
    await cons.start()
    try:
        while not cons.assignment():
            await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        futs = [await prod.send(topic, b"x" * 200) for _ in range(n)]
        got = 0
        while got < n:
            batch = await cons.getmany(timeout_ms=100, max_records=500)
            got += sum(len(v) for v in batch.values())
            if batch:
                await cons.commit()
        await asyncio.gather(*futs)
        return time.perf_counter() - t0
    finally:
        await cons.stop()
        await prod.stop()
        await admin.delete_topics([topic])
        await admin.close()


async def _anchor_sqs(n: int) -> float:
    from aiobotocore.session import get_session

    ctx = get_session().create_client("sqs", endpoint_url=resolve_url("sqs"), region_name="us-east-1",
                                      aws_access_key_id="x", aws_secret_access_key="x")
    c = await ctx.__aenter__()
    url = (await c.create_queue(QueueName=f"anchor-{time.time_ns()}"))["QueueUrl"]
    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(c.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(j), "MessageBody": "x" * 200} for j in range(min(10, n - i))]) for i in range(0, n, 10)))
        got = 0
        while got < n:
            resp = await c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            msgs = resp.get("Messages", [])
            if msgs:
                await c.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(msgs)])
                got += len(msgs)
        return time.perf_counter() - t0
    finally:
        await c.delete_queue(QueueUrl=url)
        await ctx.__aexit__(None, None, None)


ANCHORS = {"rabbitmq": _anchor_rabbitmq, "nats": _anchor_nats, "redis": _anchor_redis, "kafka": _anchor_kafka,
           "sqs": _anchor_sqs}


def anchor(transport: str, messages: int) -> tuple[int, int] | None:
    """The plain client's msg/s for `transport` (pipelined publish, one consumer acking) and its client CPU in
    µs per message (set-up included), or None on error."""
    c0 = time.process_time()
    try:
        wall = asyncio.run(asyncio.wait_for(ANCHORS[transport](messages), timeout=300))
    except Exception as exc:  # noqa: BLE001 - an anchor that fails is reported, the benchmark goes on
        print(json.dumps({"target": transport, "anchor_error": f"{type(exc).__name__}: {exc}"}))
        return None
    return round(messages / wall), round((time.process_time() - c0) / messages * 1e6)


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def main() -> None:
    """Run the benchmark (`--runs` rounds, each evtool then its anchor back to back), print one JSON line per
    target and round, then a table: the median msg/s of each side, the median of the per-round ratios, and the
    per-round ratios themselves."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000, help="messages per real broker")
    ap.add_argument("--sqs-messages", type=int, default=None,
                    help="messages on the SQS endpoint (default: 500, or --messages with --sqs-endpoint fauxqs)")
    ap.add_argument("--local-messages", type=int, default=200_000, help="messages on the local core")
    ap.add_argument("--only", default=",".join(TRANSPORTS), help="comma-separated brokers to include")
    ap.add_argument("--runs", type=int, default=3, help="rounds per target (the table gives medians)")
    ap.add_argument("--sqs-endpoint", choices=("running", *sqs_endpoint.KINDS), default="running",
                    help="SQS: the endpoint already running (EVTOOL_SQS_URL, else 127.0.0.1:5000), or start "
                         "fauxqs or moto on a free port for this run and stop it after (sqs_endpoint.py)")
    args = ap.parse_args()
    if args.sqs_messages is None:
        args.sqs_messages = args.messages if args.sqs_endpoint == "fauxqs" else 500
    if args.sqs_endpoint != "running" and "sqs" in args.only.split(","):
        with sqs_endpoint.started(args.sqs_endpoint) as url:
            os.environ["EVTOOL_SQS_URL"] = url  # evtool's transport and the anchor both resolve it
            print(f"sqs endpoint: {args.sqs_endpoint} at {url}", flush=True)
            bench(args)
    else:
        bench(args)


def bench(args: argparse.Namespace) -> None:
    """The rounds and the table of `main`."""
    targets = ["local", *args.only.split(",")]
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
    skipped: dict[str, str] = {}
    for t in targets[1:]:
        why = probe(t)
        if why is not None:
            skipped[t] = why
    for run in range(1, args.runs + 1):
        for t in targets:
            if t in skipped:
                continue
            if t == "local":
                row = local(args.local_messages)
            else:
                n = args.sqs_messages if t == "sqs" else args.messages
                row = real(t, n)
                got = anchor(t, n)
                if got is not None:
                    row["anchor_msg_per_s"], row["anchor_cpu_us_per_msg"] = got
                    row["ratio"] = round(float(row["msg_per_s"]) / float(row["anchor_msg_per_s"]), 2)
            row["run"] = run
            rows[t].append(row)
            print(json.dumps(row), flush=True)
    print()
    print(f"medians of {args.runs} run(s); ratio = evtool msg/s / plain-client msg/s, measured back to back")
    print(f"{'target':<9} {'msgs':>6} {'evtool/s':>9} {'plain/s':>8} {'ratio':>6} {'ratios per run':<17} "
          f"{'µs/msg':>7} {'plain':>6}  (issue 14's target: {TARGET:,} msg/s on every transport)")
    for t in targets:
        if t in skipped:
            print(f"{t:<9} skipped: {skipped[t]}")
            continue
        rs = rows[t]
        med = round(_median([float(r["msg_per_s"]) for r in rs]))
        cpu = round(_median([float(r["cpu_us_per_msg"]) for r in rs]))
        ratios = [r["ratio"] for r in rs if "ratio" in r]
        plain = [float(r["anchor_msg_per_s"]) for r in rs if "anchor_msg_per_s" in r]
        pcpu = [float(r["anchor_cpu_us_per_msg"]) for r in rs if "anchor_cpu_us_per_msg" in r]
        bad = [r for r in rs if r.get("outcome", "passed") != "passed" or r.get("drain", "complete") != "complete"]
        print(f"{t:<9} {rs[0]['messages']:>6} {med:>9} {round(_median(plain)) if plain else '-':>8} "
              f"{round(_median(ratios), 2) if ratios else '-':>6} {' '.join(str(x) for x in ratios) or '-':<17} "
              f"{cpu:>7} {round(_median(pcpu)) if pcpu else '-':>6}"
              + ("" if t == "local" else "  below target" if med < TARGET else "  at target")
              + ("  (a run did not pass)" if bad else ""))


if __name__ == "__main__":
    main()
