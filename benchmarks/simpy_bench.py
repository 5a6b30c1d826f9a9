"""evtool's engine against a plain SimPy model of the same shape, in one process.

The reference shape: one producer at 1,000 messages a second, one queue, four
consumers, processing drawn uniformly between 1 and 6 ms, ack on success. The
figure is message lifecycles (published and acked) per second of wall time.

* `simpy`: a bare SimPy model (a `Store` for the queue, one process per
  consumer, one for the producer). It keeps no broker semantics and no trace.
* `evtool plain`: the same scenario on evtool's core, with the full trace and
  its digest (target: at least 1.0 times SimPy).
* `evtool realistic`: the same load with a realistic consumer: a fail rule
  (5 % upstream timeouts), retries with exponential backoff and a dead-letter
  queue, idempotency on the message id, and an effect on the service's state
  (target: at least 0.7 times the same SimPy model).

The three are run alternately for `--rounds` rounds and the medians are
compared, so a machine that slows down or speeds up favours none of them.
Each run is timed in CPU time of this process by default (`--clock cpu`), so
other processes on a shared machine do not decide the ratio; `--clock wall`
times wall seconds instead.
SimPy is a benchmark-only extra (`pip install evtool[bench]`), never a
runtime dependency.

    python benchmarks/simpy_bench.py [--messages 100000] [--rounds 3] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

CLOCK = time.process_time
"""What a run is timed with: CPU seconds of this process (`--clock wall`: `time.perf_counter`)."""

PLAIN = """
evtool: "1"
id: reference-simpy
run: {{seed: 1, duration: {duration}s, drain: {{max: 1m}}}}
channels:
  work: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: constant, rate: 1000/s}}, count: {count}}}
consumers:
  worker: {{from: work, instances: 4, prefetch: 10, processing: {{dist: uniform, min: 1ms, max: 6ms}}}}
"""

REALISTIC = """
evtool: "1"
id: reference-realistic
run: {{seed: 1, duration: {duration}s, drain: {{max: 1m}}}}
channels:
  work: {{kind: queue}}
  work.dlq: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: constant, rate: 1000/s}}, count: {count}}}
consumers:
  worker:
    from: work
    instances: 4
    prefetch: 10
    processing: {{dist: uniform, min: 1ms, max: 6ms}}
    fail_if:
      - {{probability: 0.05, error: UpstreamTimeout}}
    effects: [{{inc: handled, by: 1}}]
    state: {{handled: 0}}
    idempotency: {{key: msg.id, window: 1h}}
    retry: {{max_attempts: 4, backoff: {{type: exponential, initial: 10ms}}, on_exhausted: dead_letter}}
    dead_letter: work.dlq
"""


def simpy_run(messages: int, seed: int = 1) -> tuple[float, int]:
    """Wall seconds and lifecycles of the bare SimPy model (producer, Store, four consumers)."""
    import simpy

    env = simpy.Environment()
    queue = simpy.Store(env)
    rng = random.Random(seed)
    done = [0]

    def producer() -> object:
        for i in range(messages):
            yield queue.put(i)
            yield env.timeout(0.001)

    def consumer() -> object:
        while True:
            yield queue.get()
            yield env.timeout(rng.uniform(0.001, 0.006))
            done[0] += 1

    env.process(producer())
    for _ in range(4):
        env.process(consumer())
    t0 = CLOCK()
    env.run()
    return CLOCK() - t0, done[0]


def evtool_run(text: str, messages: int, pure: bool = False) -> tuple[float, int, str, int]:
    """Wall seconds, lifecycles (acked), digest and trace events of an evtool run of `text`; `pure` runs
    without the optional compiled parts even when they are built (what `pip install .` gives)."""
    from evtool.scenario.loader import load_text
    from evtool.sim.engine import Engine
    from evtool.trace import digest

    loaded = load_text(text.format(count=messages, duration=messages // 1000 + 1), "reference.yaml")
    engine = Engine(loaded)
    compiled_encoder = getattr(digest, "_encode_rows", None)  # None without a compiled build
    if pure:
        digest._encode_rows = None  # noqa: SLF001
    try:
        t0 = CLOCK()
        out = engine.run()
        wall = CLOCK() - t0
    finally:
        digest._encode_rows = compiled_encoder  # noqa: SLF001
    return wall, int(out.summary["acked"]), out.digest, int(out.events)


def median(xs: list[float]) -> float:
    """The median (upper middle for an even count)."""
    return sorted(xs)[len(xs) // 2]


def main() -> None:
    """Run the rounds, print a table and a JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="time each run in CPU seconds of this process (default) or wall seconds")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    try:
        from evtool.sim import compiled_status
    except ImportError:  # an evtool from before the optional compiled parts

        def compiled_status() -> str:
            return "pure"

    # With a compiled build (EVTOOL_COMPILE=1 pip install .) each evtool run is also made without it:
    # both figures, in the same rounds, and the same digest both ways.
    compiled = compiled_status() == "compiled"
    runs = ["simpy", "plain", "realistic"] + (["plain-pure", "realistic-pure"] if compiled else [])
    rates: dict[str, list[float]] = {name: [] for name in runs}
    digests: dict[str, set[str]] = {"plain": set(), "realistic": set()}
    events: dict[str, int] = {}
    for i in range(args.rounds):
        k = i % len(runs)
        for name in runs[k:] + runs[:k]:
            if name == "simpy":
                wall, done = simpy_run(args.messages)
            else:
                base = name.removesuffix("-pure")
                wall, done, digest, ev = evtool_run(PLAIN if base == "plain" else REALISTIC, args.messages,
                                                    pure=name.endswith("-pure"))
                digests[base].add(digest)
                events[base] = ev
            if done != args.messages:
                raise SystemExit(f"{name}: {done} lifecycles of {args.messages}")
            rates[name].append(done / wall)
    simpy_rate = median(rates["simpy"])
    print(f"{args.messages:,} messages, median of {args.rounds} rounds; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; engine {compiled_status()}; {args.clock} time")
    print(f"{'':<24}{'lifecycles/s':>14}{'ratio':>8}{'target':>8}  trace")
    print(f"{'simpy':<24}{simpy_rate:>14,.0f}{1:>8.2f}{'':>8}  none")
    for name in runs[1:]:
        base = name.removesuffix("-pure")
        target = 1.0 if base == "plain" else 0.7
        r = median(rates[name])
        label = f"evtool {base}" + (" (pure)" if name.endswith("-pure") else " (compiled)" if compiled else "")
        print(f"{label:<24}{r:>14,.0f}{r / simpy_rate:>8.2f}{target:>8.1f}  "
              f"{events[base]:,} events, digest {next(iter(digests[base]))[:16]}")
    for name, ds in digests.items():
        assert len(ds) == 1, f"{name}: the digest changed between rounds (or compiled and pure): {ds}"
    figures: dict[str, object] = {"messages": args.messages, "engine": compiled_status(), "clock": args.clock,
                                  "simpy_per_s": round(simpy_rate)}
    for name in runs[1:]:
        key = name.replace("-", "_")
        figures[f"{key}_per_s"] = round(median(rates[name]))
        figures[f"{key}_ratio"] = round(median(rates[name]) / simpy_rate, 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
