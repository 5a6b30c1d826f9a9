"""Benchmark: the cost of recording a run's full trace into the run store.

Produces N synthetic trace events (a pool from `tests/synthetic_runs.py`,
repeated with shifted times, each event rebuilt as the engine would build it)
in batches, twice: once handing each batch to nothing (not recording), once to
a `Recorder`. Reports events/s for both, the ratio of wall times (the
product target is at most 1.5), the writer's own rate, and the database size
per million events. Also a `--record summary` run for comparison.

The real-engine figure (the product target) is benchmarks/record_bench.py; this one isolates the
store with a synthetic producer.

    .venv/bin/python benchmarks/store_bench.py --events 1000000
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # synthetic runs live with the tests

from synthetic_runs import synthetic_events, synthetic_header, synthetic_result  # noqa: E402

from evtool.core.events import TraceEvent  # noqa: E402
from evtool.store.recorder import Recorder  # noqa: E402


def make_pool(messages: int) -> list[TraceEvent]:
    """A realistic mix of trace events to repeat."""
    return list(synthetic_events(messages=messages, seed=1))


def burn(seconds: float) -> None:
    """Busy-wait holding the GIL, standing in for the engine's own work."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def produce(pool: Sequence[TraceEvent], n: int, batch: int, sink: Callable[[list[TraceEvent]], None],
            engine_us: float = 0.0) -> float:
    """Build `n` events from the pool (times shifted per lap) and hand them to `sink` in batches; seconds.

    With `engine_us`, each batch also costs `engine_us` µs of engine work per event.
    """
    span = pool[-1].t + 1
    start = time.perf_counter()
    buf: list[TraceEvent] = []
    made = 0
    lap = 0
    while made < n:
        shift = lap * span
        for e in pool:
            # Rebuilding the tuple is the engine's own cost of emitting an event.
            buf.append(TraceEvent(e.t + shift, e.kind, e.msg, e.channel, e.actor, e.instance, e.key, e.attempt,
                                  e.tag, e.data))
            if len(buf) >= batch:
                if engine_us:
                    burn(len(buf) * engine_us / 1e6)
                sink(buf)
                buf = []
            made += 1
            if made >= n:
                break
        lap += 1
    if buf:
        sink(buf)
    return time.perf_counter() - start


def db_size(path: Path) -> int:
    """Bytes of the database and its WAL, after a checkpoint."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    """Parse arguments, run the passes, print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1000, help="events per engine hand-off")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--engine-us", type=float, default=0.0,
                    help="simulated engine work per event in µs (a real engine spends 2-10)")
    args = ap.parse_args()
    pool = make_pool(20_000)
    print(f"{args.events:,} events, engine batches of {args.batch}, pool of {len(pool):,} events, "
          f"{os.cpu_count()} CPUs, median of {args.rounds} rounds, simulated engine work {args.engine_us} µs/event")
    base: list[float] = []
    full_produce: list[float] = []
    full_total: list[float] = []
    summ_total: list[float] = []
    size = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            base.append(produce(pool, args.events, args.batch, lambda b: None, args.engine_us))
            for mode, produce_list, total_list in (("full", full_produce, full_total),
                                                   ("summary", None, summ_total)):
                path = Path(tmp) / f"{mode}-{i}.db"
                rec = Recorder(path)
                rec.start(synthetic_header(record_mode=mode))
                t0 = time.perf_counter()
                p = produce(pool, args.events, args.batch, rec.record, args.engine_us)
                rec.finish(synthetic_result(pool[:1000]))
                total = time.perf_counter() - t0
                total_list.append(total)
                if produce_list is not None:
                    produce_list.append(p)
                    size = db_size(path)

    def med(xs: list[float]) -> float:
        return sorted(xs)[len(xs) // 2]

    b, fp, ft, st = med(base), med(full_produce), med(full_total), med(summ_total)
    n = args.events
    print(f"{'pass':<34}{'seconds':>10}{'events/s':>14}{'ratio':>8}")
    print(f"{'not recording':<34}{b:>10.2f}{n / b:>14,.0f}{1:>8.2f}")
    print(f"{'record summary':<34}{st:>10.2f}{n / st:>14,.0f}{st / b:>8.2f}")
    print(f"{'record full: engine side':<34}{fp:>10.2f}{n / fp:>14,.0f}{fp / b:>8.2f}")
    print(f"{'record full: until committed':<34}{ft:>10.2f}{n / ft:>14,.0f}{ft / b:>8.2f}")
    print(f"database size: {size / 1e6:,.1f} MB for {n:,} events = {size / 1e6 * 1e6 / n:,.1f} MB per million events")


if __name__ == "__main__":
    main()
