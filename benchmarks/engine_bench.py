"""Virtual-time throughput of the reference scenario, against a bare heapq loop.

The reference scenario: one producer, one queue, four consumers, ack on
success. The figure is message lifecycles (publish -> deliver -> handle ->
ack) per second of wall time, reported next to a bare `heapq` event loop that
processes the same number of kernel events in the same process, so the ratio
is meaningful on a noisy shared machine.

    python benchmarks/engine_bench.py [--messages 1000000]
    python benchmarks/engine_bench.py --memory --messages 10000000   # resident memory over a long run
"""

from __future__ import annotations

import argparse
import heapq
import json
import time

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

REFERENCE = """
evtool: "1"
id: reference
run: {{seed: 1, duration: {duration}s, drain: {{max: 1m}}}}
channels:
  work: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: constant, rate: 1000/s}}, count: {count}}}
consumers:
  worker: {{from: work, instances: 4, prefetch: 10, processing: 2ms}}
"""


def bare_heapq(events: int) -> float:
    """Wall seconds for a heapq loop that pops and pushes `events` timers (a handful pending)."""
    heap: list[tuple[int, int, int, object, object]] = []
    seq = 0

    def cb(_: object) -> None:
        return None

    for i in range(8):
        seq += 1
        heapq.heappush(heap, (i, 1, seq, cb, None))
    t0 = time.perf_counter()
    n = 0
    while n < events:
        t, _p, _s, fn, arg = heapq.heappop(heap)
        fn(arg)
        seq += 1
        heapq.heappush(heap, (t + 1000, 1, seq, cb, None))
        n += 1
    return time.perf_counter() - t0


def run_reference(messages: int) -> dict[str, float]:
    """Run the reference scenario; return wall time, kernel events, trace events."""
    loaded = load_text(REFERENCE.format(count=messages, duration=messages // 1000 + 1), "reference.yaml")
    engine = Engine(loaded)
    t0 = time.perf_counter()
    out = engine.run()
    wall = time.perf_counter() - t0
    acked = out.summary["acked"]
    return {"wall_s": wall, "kernel_events": engine.kernel.processed, "trace_events": out.events, "acked": acked}


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * 4096 / 2**20


def memory_profile(messages: int, points: int = 10) -> list[tuple[int, float]]:
    """Run the reference scenario in slices and sample RSS: flat means bounded."""
    # The default budgets (2 million messages, 5 million kernel events) would end a long run early.
    budget = {"run.budget.messages": 2 * messages + 1000, "run.budget.events": 10 * messages + 1000}
    loaded = load_text(REFERENCE.format(count=messages, duration=messages // 1000 + 1), "reference.yaml", budget)
    engine = Engine(loaded)
    engine.start()
    step = (messages // 1000 + 1) * 1_000_000_000 // points
    out = []
    t = 0
    while engine.run_until(t):
        engine.flush()
        out.append((engine.metrics.counts.get("acked", 0), rss_mb()))
        t += step
    engine.finish()
    acked = engine.metrics.counts.get("acked", 0)
    out.append((acked, rss_mb()))
    if acked != messages:
        raise SystemExit(f"the run stopped after {acked:,} of {messages:,} messages ({engine.phase})")
    return out


def main() -> None:
    """Measure and print the figures (and a JSON line for machines)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--memory", action="store_true", help="sample RSS during the run instead")
    args = ap.parse_args()
    if args.memory:
        t0 = time.perf_counter()
        samples = memory_profile(args.messages)
        wall = time.perf_counter() - t0
        for acked, mb in samples:
            print(f"acked {acked:>12,}  rss {mb:8.1f} MiB")
        # From the first sample after start-up (10 % of the run) to the end: flat means bounded.
        early, end = samples[min(1, len(samples) - 1)][1], samples[-1][1]
        print(f"{args.messages:,} messages in {wall:.0f}s; resident memory {early:.1f} MiB at 10 % -> {end:.1f} MiB "
              f"at the end: ratio {end / early:.3f} (flat: at most 1.05)")
        print(json.dumps({"messages": args.messages, "wall_s": round(wall, 1), "rss_10pct_mib": round(early, 1),
                          "rss_end_mib": round(end, 1), "ratio": round(end / early, 4)}))
        return
    from evtool.sim import compiled_status

    print(f"engine: {compiled_status()} (the optional compiled parts: EVTOOL_COMPILE=1 pip install .; "
          "EVTOOL_PURE=1 turns them off)")
    ref = run_reference(args.messages)
    base = bare_heapq(int(ref["kernel_events"]))
    lifecycles = ref["acked"] / ref["wall_s"]
    base_rate = ref["kernel_events"] / base
    print(f"reference scenario: {int(ref['acked']):,} lifecycles in {ref['wall_s']:.2f}s "
          f"= {lifecycles:,.0f} lifecycles/s ({ref['kernel_events']:,} kernel events, "
          f"{ref['trace_events']:,} trace events)")
    print(f"bare heapq loop:    {int(ref['kernel_events']):,} events in {base:.2f}s = {base_rate:,.0f} events/s")
    print(f"ratio: engine lifecycles/s ÷ bare heapq events/s = {lifecycles / base_rate:.3f}; "
          f"engine kernel events/s ÷ bare = {(ref['kernel_events'] / ref['wall_s']) / base_rate:.3f}")
    print(json.dumps({"lifecycles_per_s": round(lifecycles), "heapq_events_per_s": round(base_rate),
                      "ratio": round(lifecycles / base_rate, 4), **ref}))


if __name__ == "__main__":
    main()
