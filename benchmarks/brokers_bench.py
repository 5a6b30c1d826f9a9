"""Messages per second of the reference scenario on the local core and on each real broker, in one run.

The reference scenario: one producer, one queue, four consumers, ack on
success (no processing time). The local core runs it as fast as possible
(virtual time; the figure is message lifecycles per wall second). Each real
broker runs it through evtool's transport in real time: the producer publishes
as fast as it can (every publish awaits its own confirm / PubAck / XADD reply,
pipelined), the consumers ack each message. The figure is acked messages per
wall second from the start of the run to the end of the drain.

Plain-client anchors on this machine (research/performance-baselines.md):
1,200-5,000 msg/s with each publish confirmed one at a time, 14,000-34,000 pipelined.

Kafka runs the queue as the kafka profile's share group (emulated on a consumer group, one partition per
consumer, a commit after each ack); SQS runs it on moto's server, an emulator whose speed says little about
AWS (batched SendMessageBatch / DeleteMessageBatch of 10, ReceiveMessage of up to 10 with long polling),
so it gets fewer messages by default.

    python benchmarks/brokers_bench.py [--messages 20000] [--sqs-messages 3000] [--local-messages 200000]
                                       [--only rabbitmq,nats,kafka,sqs]
"""

from __future__ import annotations

import argparse
import json
import time

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports.base import PROFILE_OF, TRANSPORTS, probe
from evtool.transports.runner import run_on_transport

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
    t0 = time.perf_counter()
    out = Engine(loaded).run()
    wall = time.perf_counter() - t0
    acked = out.summary["counts"].get("acked", 0)
    return {"target": "local", "messages": acked, "wall_s": round(wall, 3), "msg_per_s": round(acked / wall)}


def real(transport: str, messages: int) -> dict[str, float | int | str]:
    """The reference on a real broker, in real time."""
    loaded = load_text(REFERENCE.format(duration=60, profile=PROFILE_OF[transport], rate="max", count=messages))
    t0 = time.perf_counter()
    out = run_on_transport(loaded, transport)
    wall = time.perf_counter() - t0
    acked = out.summary["counts"].get("acked", 0)
    span = out.virtual_ns / 1e9      # run start -> drain end, without connect/declare/cleanup
    return {"target": transport, "messages": acked, "wall_s": round(wall, 3), "run_s": round(span, 3),
            "msg_per_s": round(acked / span) if span else 0, "outcome": out.outcome, "drain": out.drain,
            "server": out.extra.get("server", "")}


def main() -> None:
    """Run the benchmark and print one JSON line per target, then a summary table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000, help="messages per real broker")
    ap.add_argument("--sqs-messages", type=int, default=500, help="messages on the SQS endpoint")
    ap.add_argument("--local-messages", type=int, default=200_000, help="messages on the local core")
    ap.add_argument("--only", default=",".join(TRANSPORTS), help="comma-separated brokers to include")
    args = ap.parse_args()
    rows = [local(args.local_messages)]
    for t in args.only.split(","):
        why = probe(t)
        if why is not None:
            rows.append({"target": t, "skipped": why})
            continue
        rows.append(real(t, args.sqs_messages if t == "sqs" else args.messages))
    for r in rows:
        print(json.dumps(r))
    print()
    print(f"{'target':<10} {'messages':>9} {'msg/s':>9}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['target']:<10} skipped: {r['skipped']}")
        else:
            print(f"{r['target']:<10} {r['messages']:>9} {r['msg_per_s']:>9}")


if __name__ == "__main__":
    main()
