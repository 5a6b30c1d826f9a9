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

With the optional compiled build (`EVTOOL_COMPILE=1 pip install .`) the
evtool rows are the compiled engine, and the pure engine is measured as well
in a child interpreter with `EVTOOL_PURE=1`, against SimPy rounds of its own;
the two engines must give the same digests. `--json` prints only the figures.

    python benchmarks/simpy_bench.py [--messages 100000] [--rounds 3] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
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


def evtool_run(text: str, messages: int) -> tuple[float, int, str, int]:
    """Seconds, lifecycles (acked), digest and trace events of an evtool run of `text`."""
    from evtool.scenario.loader import load_text
    from evtool.sim.engine import Engine

    loaded = load_text(text.format(count=messages, duration=messages // 1000 + 1), "reference.yaml")
    engine = Engine(loaded)
    t0 = CLOCK()
    out = engine.run()
    wall = CLOCK() - t0
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
    ap.add_argument("--json", action="store_true", help="print only the JSON line of figures")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    try:
        from evtool.sim import compiled_status
    except ImportError:  # an evtool from before the optional compiled parts

        def compiled_status() -> str:
            return "pure"

    compiled = compiled_status()
    runs = ["simpy", "plain", "realistic"]
    rates: dict[str, list[float]] = {name: [] for name in runs}
    digests: dict[str, set[str]] = {"plain": set(), "realistic": set()}
    events: dict[str, int] = {}
    for i in range(args.rounds):
        k = i % len(runs)
        for name in runs[k:] + runs[:k]:
            if name == "simpy":
                wall, done = simpy_run(args.messages)
            else:
                wall, done, digest, ev = evtool_run(PLAIN if name == "plain" else REALISTIC, args.messages)
                digests[name].add(digest)
                events[name] = ev
            if done != args.messages:
                raise SystemExit(f"{name}: {done} lifecycles of {args.messages}")
            rates[name].append(done / wall)
    simpy_rate = median(rates["simpy"])
    figures: dict[str, object] = {"messages": args.messages, "engine": compiled, "clock": args.clock,
                                  "simpy_per_s": round(simpy_rate)}
    for name in runs[1:]:
        figures[f"{name}_per_s"] = round(median(rates[name]))
        figures[f"{name}_ratio"] = round(median(rates[name]) / simpy_rate, 3)
        figures[f"{name}_digest"] = next(iter(digests[name]))
        figures[f"{name}_events"] = events[name]
    for name, ds in digests.items():
        assert len(ds) == 1, f"{name}: the digest changed between rounds: {ds}"
    if args.json:
        print(json.dumps(figures))
        return
    # With a compiled build (EVTOOL_COMPILE=1 pip install .) the pure engine is measured too, in a child
    # interpreter with EVTOOL_PURE=1 (the compiled modules cannot be unloaded from this one), against its
    # own SimPy rounds: each ratio compares two figures of the same process.
    pure: dict[str, object] | None = None
    if compiled != "pure":
        child = subprocess.run([sys.executable, __file__, "--messages", str(args.messages), "--rounds",
                                str(args.rounds), "--clock", args.clock, "--json"],
                               env={**os.environ, "EVTOOL_PURE": "1"}, capture_output=True, text=True, check=True)
        pure = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"{args.messages:,} messages, median of {args.rounds} rounds; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; engine {compiled}; {args.clock} time")
    print(f"{'':<24}{'lifecycles/s':>14}{'ratio':>8}{'target':>8}  trace")
    print(f"{'simpy':<24}{simpy_rate:>14,.0f}{1:>8.2f}{'':>8}  none")
    rows = [(f"evtool {n}" + ("" if compiled == "pure" else f" ({compiled})"), n, figures) for n in runs[1:]]
    if pure is not None:
        rows += [(f"evtool {n} (pure)", n, pure) for n in runs[1:]]
        print(f"{'simpy (pure child)':<24}{pure['simpy_per_s']:>14,.0f}{1:>8.2f}{'':>8}  none")
    for label, name, fig in rows:
        target = 1.0 if name == "plain" else 0.7
        print(f"{label:<24}{fig[f'{name}_per_s']:>14,.0f}{fig[f'{name}_ratio']:>8.2f}{target:>8.1f}  "
              f"{fig[f'{name}_events']:,} events, digest {str(fig[f'{name}_digest'])[:16]}")
        if pure is not None and fig[f"{name}_digest"] != figures[f"{name}_digest"]:
            raise SystemExit(f"{name}: the compiled and the pure engine gave different digests")
    if pure is not None:
        for name in runs[1:]:
            figures[f"{name}_pure_per_s"] = pure[f"{name}_per_s"]
            figures[f"{name}_pure_ratio"] = pure[f"{name}_ratio"]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
