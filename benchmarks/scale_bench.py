"""Scale: the readers of a recorded run of a million events, and the engine's memory over a long run.

Readers: the reference scenario of `benchmarks/engine_bench.py` is recorded
twice into one database, small (250 messages, about 1,000 events) and large
(`--messages`, default 250,000: about a million events). Each reader command
(`runs`, `show`, `inspect` of a message, of a kind, and every export
format) runs in a fresh process on each run; the table gives the wall seconds
(the median of `--repeat` runs), the CPU seconds (user + system, the median: on a busy machine
the steadier figure) and peak memory (max RSS) on the large run and the ratio of its time to
the same command on the small run (target: a second or two, and memory that
does not grow with the trace).

Memory (`--memory N`): the reference scenario with N messages runs in this
process and its resident memory is sampled ten times; flat means bounded
(target: flat over 10 million messages).

    python benchmarks/scale_bench.py [--messages 250000] [--repeat 3] [--memory 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import REFERENCE, memory_profile  # noqa: E402

from evtool.scenario.loader import load_text  # noqa: E402
from evtool.sim.engine import Engine  # noqa: E402
from evtool.store.model import RunHeader, RunResult, new_run_id, utc_now_iso  # noqa: E402
from evtool.store.recorder import Recorder  # noqa: E402


def record(db: Path, messages: int) -> tuple[str, int]:
    """Record the reference scenario with `messages` messages; (run id, events)."""
    loaded = load_text(REFERENCE.format(count=messages, duration=messages // 1000 + 1), "reference.yaml")
    header = RunHeader(id=new_run_id(), scenario_id="reference", scenario_path="reference.yaml",
                       scenario_text=loaded.text, scenario_hash=loaded.sha256, seed=1, started_at=utc_now_iso())
    rec = Recorder(db, wait_for_index=True)
    rec.start(header)
    out = Engine(loaded, listeners=[rec.record]).run()
    rec.finish(RunResult(outcome=out.outcome, ended_at=utc_now_iso(), virtual_ns=out.virtual_ns, digest=out.digest,
                         events=out.events, messages=out.summary.get("published", 0), summary=out.summary,
                         checks=out.checks))
    return header.id, out.events


# As an installed package runs: with bytecode caches (kept in a temporary folder).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV.update(COLUMNS="100", PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "evtool-scale-bench-pycache"))


def timed(args: list[str], db: Path) -> tuple[float, float, int, float]:
    """(wall seconds, max RSS in MiB, exit status, CPU seconds) of `evtool ARGS --db DB`, its output discarded."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "evtool", *args, "--db", str(db)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def readers(messages: int, repeat: int = 1) -> dict[str, dict[str, float]]:
    """Time every reader on a small and a large recorded run (median of `repeat` runs each); print a table."""
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "runs.db"
        small, small_events = record(db, 250)
        t0 = time.perf_counter()
        large, large_events = record(db, messages)
        print(f"recorded {large_events:,} events in {time.perf_counter() - t0:.1f}s "
              f"(small run: {small_events:,}); database {db.stat().st_size / 1e6:.1f} MB")
        commands = {
            "runs": lambda r: ["runs"],
            "show": lambda r: ["show", r],
            "inspect --message": lambda r: ["inspect", r, "--message", "load-120"],
            "inspect --kind acked": lambda r: ["inspect", r, "--kind", "acked"],
            "inspect --kind dead_lettered": lambda r: ["inspect", r, "--kind", "dead_lettered"],
            **{f"export -f {f}": (lambda r, f=f: ["export", r, "-f", f, "-o", str(Path(tmp) / f"{r}.{f}"),
                                                  "--force"])
               for f in ("json", "jsonl", "md", "html", "mermaid")},
        }
        print(f"{'command':<30}{'large s':>9}{'small s':>9}{'ratio':>7}{'large CPU s':>13}{'max RSS MiB':>13}")
        for name, make in commands.items():
            timed(make(small), db)  # warm the page cache and the bytecode
            s_wall = statistics.median(timed(make(small), db)[0] for _ in range(repeat))
            large_runs = [timed(make(large), db) for _ in range(repeat)]
            l_wall = statistics.median(r[0] for r in large_runs)
            l_cpu = statistics.median(r[3] for r in large_runs)
            l_rss = max(r[1] for r in large_runs)
            status = max(r[2] for r in large_runs)
            flag = "" if status == 0 else f"  (exit {status})"
            print(f"{name:<30}{l_wall:>9.2f}{s_wall:>9.2f}{l_wall / s_wall:>7.2f}{l_cpu:>13.2f}{l_rss:>13.0f}{flag}")
            out[name] = {"large_s": round(l_wall, 3), "small_s": round(s_wall, 3), "large_cpu_s": round(l_cpu, 3),
                         "ratio": round(l_wall / s_wall, 3), "max_rss_mib": round(l_rss)}
    return out


def main() -> None:
    """Parse arguments, measure, print tables and a JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=250_000, help="messages of the large recorded run")
    ap.add_argument("--memory", type=int, default=0, help="also sample memory over a run of this many messages")
    ap.add_argument("--repeat", type=int, default=1, help="time each command this many times (median; max RSS)")
    args = ap.parse_args()
    result: dict[str, object] = {"readers": readers(args.messages, max(1, args.repeat))}
    if args.memory:
        samples = memory_profile(args.memory)
        for acked, mb in samples:
            print(f"acked {acked:>12,}  rss {mb:8.1f} MiB")
        first = samples[1][1] if len(samples) > 1 else samples[0][1]
        result["memory"] = {"messages": args.memory, "rss_after_10pct_mib": round(first, 1),
                            "rss_end_mib": round(samples[-1][1], 1)}
        print(f"resident memory from 10 % to the end of the run: {first:.1f} -> {samples[-1][1]:.1f} MiB")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
