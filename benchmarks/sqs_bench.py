"""SQS on moto's server: what bounds its messages per second, and what evtool's FIFO short polling changes.

Part 1 (plain boto3, no evtool): the cost of one ReceiveMessage of 10 on a standard queue as the backlog grows.
moto checks each returned message's retention period through get_queue_attributes, which counts the queue's
visible, in-flight and delayed messages by scanning all of them: a receive costs O(backlog) per message
returned, on one interpreter (the GIL), whatever the number of concurrent receivers.

Part 2 (evtool): the same keyed load through the SQS transport on a FIFO queue (8 message groups) with FIFO
short polling and turn-taking (the transport's default) and with the loop they replaced (sqs.FIFO_SHORT_POLL and
sqs.RECEIVE_ONE_AT_A_TIME False: every instance long-polls at once), on a
standard queue, and on the local core; acked messages per second from the run's start to the end of its drain.
The figures are ratios within one run (the machine is shared; absolute figures move with its load).

    python benchmarks/sqs_bench.py [--messages 400] [--url http://127.0.0.1:5000]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports import sqs
from evtool.transports.runner import run_on_transport

SCENARIO = """
evtool: "1"
id: sqs-bench
run: {{seed: 1, duration: 60s, drain: {{max: 2m}}}}
broker: {{profile: {profile}}}
channels:
  work: {{kind: {kind}}}
producers:
  load:
    to: work
    arrival: {{process: constant, rate: max}}
    count: {count}
    key: {{dist: uniform, space: 8, format: "k{{n}}"}}
consumers:
  worker: {{from: work, instances: 2, prefetch: 10, processing: 0s}}
"""


def receive_cost(url: str, depths: list[int]) -> list[dict[str, float]]:
    """ms per message of a 10-message short poll on a standard queue holding `depth` messages."""
    import boto3

    c = boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                     aws_secret_access_key="x")
    out = []
    for depth in depths:
        q = c.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        try:
            for i in range(0, depth, 10):
                c.send_message_batch(QueueUrl=q, Entries=[{"Id": str(j), "MessageBody": "x" * 200}
                                                          for j in range(min(10, depth - i))])
            t0, got = time.perf_counter(), 0
            for _ in range(5):
                got += len(c.receive_message(QueueUrl=q, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                             VisibilityTimeout=60).get("Messages", []))
            out.append({"backlog": depth, "ms_per_message": round((time.perf_counter() - t0) * 1000 / got, 2)})
        finally:
            c.delete_queue(QueueUrl=q)
    return out


def evtool_run(url: str, profile: str, kind: str, count: int) -> dict[str, float | int | str]:
    loaded = load_text(SCENARIO.format(profile=profile, kind=kind, count=count))
    out = run_on_transport(loaded, "sqs", url=url)
    span = out.virtual_ns / 1e9
    acked = out.summary["counts"].get("acked", 0)
    return {"acked": acked, "run_s": round(span, 2), "msg_per_s": round(acked / span, 1) if span else 0,
            "drain": out.drain, "problems": len(out.extra["problems"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--url", default="http://127.0.0.1:5000")
    args = ap.parse_args()
    for row in receive_cost(args.url, [20, 200, 800]):
        print(json.dumps({"part": "moto receive cost", **row}))
    t0 = time.perf_counter()
    core = Engine(load_text(SCENARIO.format(profile="sqs-fifo", kind="grouped_queue", count=args.messages))).run()
    wall = time.perf_counter() - t0
    rows = {"local core (sqs-fifo)": {"acked": core.summary["counts"].get("acked", 0),
                                      "msg_per_s": round(core.summary["counts"].get("acked", 0) / wall)}}
    rows["sqs standard queue"] = evtool_run(args.url, "sqs-standard", "queue", args.messages)
    rows["sqs fifo, now"] = evtool_run(args.url, "sqs-fifo", "grouped_queue", args.messages)
    sqs.FIFO_SHORT_POLL = sqs.RECEIVE_ONE_AT_A_TIME = False
    try:
        rows["sqs fifo, before"] = evtool_run(args.url, "sqs-fifo", "grouped_queue", args.messages)
    finally:
        sqs.FIFO_SHORT_POLL = sqs.RECEIVE_ONE_AT_A_TIME = True
    for name, row in rows.items():
        print(json.dumps({"target": name, **row}))
    short, long_ = rows["sqs fifo, now"]["msg_per_s"], rows["sqs fifo, before"]["msg_per_s"]
    if long_:
        print(f"fifo now/before ratio: {float(short) / float(long_):.2f}")


if __name__ == "__main__":
    main()
