"""Benchmark: what full recording costs a real engine run.

Runs the reference scenario of `benchmarks/engine_bench.py` (one producer,
one queue, four consumers) in this process, alternately without recording
and with a `Recorder` listening (full trace), for several rounds, and reports
medians:

* the wall-time ratio recorded ÷ not recorded, measured to the moment the
  result is committed (what `evtool run` waits for; the product target is at
  most 1.3, also with `--one-core`, where the writer process shares the
  engine's CPU), and to the moment the writer has marked the trace complete;
* the writer process's CPU time per event up to the committed result (it
  runs on another core if there is one, so on a busy machine it competes
  with the engine), and after it: once the result is committed the writer
  rewrites the trace's chunks of rows as columns (`Writer.compact`, at the
  lowest CPU priority), which costs the run nothing but is CPU all the same;
* the database size per million events.

The writer process runs as it does from an installed package, with bytecode
caches (kept in a temporary folder, as `scale_bench.py` does): with
PYTHONDONTWRITEBYTECODE set, every recorded run would compile the writer's
modules again, about 10 ms of CPU that no installed evtool spends.

    .venv/bin/python benchmarks/record_bench.py [--messages 250000] [--rounds 3] [--one-core]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import REFERENCE  # noqa: E402

from evtool.scenario.loader import LoadedScenario, load_text  # noqa: E402
from evtool.sim.engine import Engine  # noqa: E402
from evtool.store.model import RunHeader, RunResult, new_run_id, utc_now_iso  # noqa: E402
from evtool.store.recorder import Recorder  # noqa: E402

# As an installed package runs: with bytecode caches. The writer process inherits this environment.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "evtool-record-bench-pycache")


def plain_run(loaded: LoadedScenario) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and digest of a run that records nothing."""
    engine = Engine(loaded)
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = engine.run()
    return time.perf_counter() - t0, time.process_time() - c0, out.digest


def recorded_run(loaded: LoadedScenario, db: Path) -> dict[str, float | int | str]:
    """A run with full recording: seconds to the end of the engine, to the committed result, to the index."""
    header = RunHeader(id=new_run_id(), scenario_id="reference", scenario_path="reference.yaml",
                       scenario_text=loaded.text, scenario_hash=loaded.sha256, seed=1, started_at=utc_now_iso())
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0 = time.process_time()
    t0 = time.perf_counter()
    rec = Recorder(db)
    rec.start(header)
    engine = Engine(loaded, listeners=[rec.record])
    out = engine.run()
    t_engine = time.perf_counter()
    rec.finish(RunResult(outcome=out.outcome, ended_at=utc_now_iso(), virtual_ns=out.virtual_ns, digest=out.digest,
                         events=out.events, messages=out.summary.get("published", 0), summary=out.summary,
                         checks=out.checks))
    t_result = time.perf_counter()
    own_cpu = time.process_time() - c0
    writer_cpu_at_result = rec.writer_cpu_at_result
    rec.wait()
    t_indexed = time.perf_counter()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    writer_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    assert writer_cpu_at_result is not None, "the writer did not report its CPU time with the result"
    return {"engine_s": t_engine - t0, "result_s": t_result - t0, "indexed_s": t_indexed - t0,
            "writer_cpu_s": writer_cpu_at_result, "writer_total_cpu_s": writer_cpu, "own_cpu_s": own_cpu,
            "events": out.events, "digest": out.digest}


def db_size(path: Path) -> tuple[int, int]:
    """Bytes of the database and its WAL after a checkpoint, and the bytes of its pages in use.

    They differ by free pages: the trace is first written as rows, and the compaction frees
    about half of what they took; the writer gives those back to the file system in a database
    made with auto_vacuum=INCREMENTAL (every new one), elsewhere the next run's rows fill them.
    """
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, page_size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                                  for p in ("page_count", "freelist_count", "page_size"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")), (pages - free) * page_size


def median(xs: list[float]) -> float:
    """The median (upper middle for an even count)."""
    return sorted(xs)[len(xs) // 2]


def main() -> None:
    """Parse arguments, run the rounds, print a table and a JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=250_000, help="messages in the reference scenario")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one-core", action="store_true",
                    help="pin this process and the writer to one CPU: the writer gets no free core")
    args = ap.parse_args()
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # the writer process inherits it
    loaded = load_text(REFERENCE.format(count=args.messages, duration=args.messages // 1000 + 1), "reference.yaml")
    base: list[float] = []
    base_cpu: list[float] = []
    digests: set[str] = set()
    rec: list[dict[str, float | int | str]] = []
    size = live = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            # Alternate the order so a machine that slows down or speeds up favours neither side.
            db = Path(tmp) / f"round-{i}.db"
            if i % 2 == 0:
                plain = plain_run(loaded)
                rec.append(recorded_run(loaded, db))
            else:
                rec.append(recorded_run(loaded, db))
                plain = plain_run(loaded)
            base.append(plain[0])
            base_cpu.append(plain[1])
            digests |= {plain[2], str(rec[-1]["digest"])}
            size, live = db_size(db)
            db.unlink()
    events = int(rec[0]["events"])
    b = median(base)
    engine_s = median([float(r["engine_s"]) for r in rec])
    result_s = median([float(r["result_s"]) for r in rec])
    indexed_s = median([float(r["indexed_s"]) for r in rec])
    writer_cpu = median([float(r["writer_cpu_s"]) for r in rec])
    writer_total = median([float(r["writer_total_cpu_s"]) for r in rec])
    own_cpu = median([float(r["own_cpu_s"]) for r in rec])
    bc = median(base_cpu)
    cpus = f"pinned to 1 of {os.cpu_count()} CPUs" if args.one_core else f"{os.cpu_count()} CPUs"
    print(f"reference scenario, {args.messages:,} messages = {events:,} trace events; {cpus}, "
          f"load average {os.getloadavg()[0]:.1f}; median of {args.rounds} rounds")
    print(f"{'':<36}{'seconds':>9}{'events/s':>12}{'ratio':>8}")
    print(f"{'not recording':<36}{b:>9.2f}{events / b:>12,.0f}{1:>8.2f}")
    print(f"{'recording: engine done':<36}{engine_s:>9.2f}{events / engine_s:>12,.0f}{engine_s / b:>8.2f}")
    print(f"{'recording: result committed':<36}{result_s:>9.2f}{events / result_s:>12,.0f}{result_s / b:>8.2f}")
    print(f"{'recording: writer done':<36}{indexed_s:>9.2f}{events / indexed_s:>12,.0f}{indexed_s / b:>8.2f}")
    print(f"CPU: engine alone {bc:.2f}s; engine process while recording {own_cpu:.2f}s "
          f"(ratio {own_cpu / bc:.2f}); writer process to the result {writer_cpu:.2f}s = "
          f"{writer_cpu / events * 1e6:.2f} µs per event (ratio to the engine alone {writer_cpu / bc:.2f})")
    print(f"  after the result (compacting the trace at the lowest priority): {writer_total - writer_cpu:.2f}s = "
          f"{(writer_total - writer_cpu) / events * 1e6:.2f} µs per event; writer in all "
          f"{writer_total / events * 1e6:.2f} µs per event")
    print("  with a free core for the writer, the wall ratio tends to the larger of the two CPU ratios; on a busy "
          "machine, to their sum")
    print(f"CPU ratio, engine process + writer process ÷ engine alone: {(own_cpu + writer_cpu) / bc:.2f} "
          "(the wall ratio when the writer gets no free core; target <= 1.3)")
    assert len(digests) == 1, f"recording changed the trace digest: {digests}"
    print(f"database: {size / 1e6:,.1f} MB for {events:,} events = {size / events:,.1f} MB per million events; "
          f"in use {live / 1e6:,.1f} MB = {live / events:,.1f} MB per million events")
    print(json.dumps({"events": events, "base_s": round(b, 3), "result_ratio": round(result_s / b, 3),
                      "indexed_ratio": round(indexed_s / b, 3),
                      "engine_cpu_ratio": round(own_cpu / bc, 3), "writer_cpu_ratio": round(writer_cpu / bc, 3),
                      "cpu_sum_ratio": round((own_cpu + writer_cpu) / bc, 3),
                      "writer_us_per_event": round(writer_cpu / events * 1e6, 3),
                      "writer_after_result_us_per_event": round((writer_total - writer_cpu) / events * 1e6, 3),
                      "mb_per_million_events": round(size / events, 1),
                      "mb_in_use_per_million_events": round(live / events, 1)}))


if __name__ == "__main__":
    main()
