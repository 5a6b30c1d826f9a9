"""Every bundled lesson on the core and on each real broker: do the per-check verdicts agree?

    python benchmarks/lessons_on_brokers.py [--only batching,slow-consumer-backpressure]
        [--brokers rabbitmq,nats,redis] [--out /tmp/lessons_brokers] [--set KEY=VALUE ...]
    python benchmarks/lessons_on_brokers.py --report /tmp/lessons_brokers [--markdown]

For each lesson and each broker it runs what ``evtool run LESSON --compare local,BROKER`` runs
(`evtool.transports.runner.compare_runs`: the core under the broker's profile, then the lesson on the broker
in real time) and records each check's verdict on both sides, the checks that differ, the capability notes
that explain a difference ("not applicable on this broker"), the wall time of each side and the machine's
load average (`os.getloadavg`) before and after. The brokers run concurrently, one subprocess each (a real
run is real time: the lessons' 20 s-4 min of virtual time are that much wall time on a broker); each worker
appends one JSON line per lesson to ``OUT/BROKER.jsonl`` as it goes, and the parent merges them into
``OUT/results.json`` every few seconds, so a partial sweep is useful. ``--report`` prints the table of a
(partial) sweep again, ``--markdown`` as the generated section of docs/transports.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BROKERS = ("rabbitmq", "nats", "redis")
FIRST = ("batching", "slow-consumer-backpressure", "idempotent-consumer")
"""Lessons run first (the known differences), the rest follow in name order."""


def lesson_ids() -> list[str]:
    """The bundled lessons, the known differences first."""
    from evtool.scenario.lessons import lesson_dir

    names = sorted(p.stem for p in lesson_dir().glob("*.yaml"))
    return [n for n in FIRST if n in names] + [n for n in names if n not in FIRST]


def load_avg() -> float:
    """The 1-minute load average (the machine's 2 cores are shared: read results next to it)."""
    return round(os.getloadavg()[0], 2)


def _side(outcome: Any, wall_s: float) -> dict[str, Any]:
    return {
        "outcome": outcome.outcome, "drain": outcome.drain, "profile": outcome.extra.get("profile", ""),
        "checks": {c["name"]: {"status": c["status"], "observed": str(c.get("observed", ""))}
                   for c in outcome.checks},
        "counts": {k: v for k, v in outcome.summary.get("counts", {}).items() if isinstance(v, int)},
        "p99_ms": (outcome.summary.get("latency_ms") or {}).get("p99"),
        "wall_s": round(wall_s, 2),
    }


def run_one(lesson: str, broker: str, sets: list[str]) -> dict[str, Any]:
    """One lesson on the core (under `broker`'s profile) and on `broker`: a JSON-able record."""
    from evtool.scenario.lessons import lesson_dir
    from evtool.scenario.loader import load_scenario
    from evtool.sim.rng import run_seed
    from evtool.transports.runner import compare_runs, differing_not_applicable

    rec: dict[str, Any] = {"lesson": lesson, "broker": broker, "sets": sets, "load_before": load_avg(),
                           "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    t0 = time.monotonic()
    try:
        loaded = load_scenario(lesson_dir() / f"{lesson}.yaml", sets or None)
        outs = compare_runs(loaded, ["local", broker], seed=run_seed(loaded.model, None))
    except Exception as exc:  # noqa: BLE001 - a lesson that cannot run on a broker is a result too
        rec.update(error=f"{type(exc).__name__}: {exc}", load_after=load_avg(),
                   wall_s=round(time.monotonic() - t0, 2))
        return rec
    total = time.monotonic() - t0
    real = outs[broker]
    real_wall = float(real.extra.get("wall_s", 0.0))
    rec["local"] = _side(outs["local"], max(total - real_wall, 0.0))
    rec["real"] = _side(real, real_wall)
    rec["real"].update(server=real.extra.get("server", ""), problems=list(real.extra.get("problems", [])),
                       notes=list(real.extra.get("warnings", [])))
    rec["differ"] = differing(rec["local"]["checks"], rec["real"]["checks"])
    # differences the broker's capabilities explain (evtool.transports.check_notes): "not applicable"
    rec["not_applicable"] = differing_not_applicable(outs["local"].checks, real.checks,
                                                     real.extra.get("not_applicable", {}),
                                                     outs["local"].summary.get("counts"))
    rec["load_after"] = load_avg()
    return rec


def differing(local: dict[str, Any], real: dict[str, Any]) -> list[str]:
    """Checks whose verdict is not the same on both sides."""
    names = list(local) + [n for n in real if n not in local]
    return [n for n in names if (local.get(n) or {}).get("status") != (real.get(n) or {}).get("status")]


def worker(broker: str, lessons: list[str], sets: list[str], out: Path) -> None:
    """Run `lessons` on `broker` one after the other, appending a JSON line per lesson to OUT/BROKER.jsonl."""
    path = out / f"{broker}.jsonl"
    for lesson in lessons:
        rec = run_one(lesson, broker, sets)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(f"{broker}: {lesson}: {summary_cell(rec)}", flush=True)


def read_results(out: Path) -> list[dict[str, Any]]:
    """Every record written so far under `out` (the last record of a lesson × broker wins: a rerun)."""
    recs: dict[tuple[str, str], dict[str, Any]] = {}
    for b in BROKERS:
        p = out / f"{b}.jsonl"
        if p.exists():
            for line in p.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    r = json.loads(line)
                    recs[(r["lesson"], r["broker"])] = r
    for r in recs.values():
        if "differ" in r and "not_applicable" not in r:   # written before the run kept it: derive it
            from evtool.transports.check_notes import applies

            r["not_applicable"] = {n: why for n, why in _not_applicable(r).items()
                                   if n in r["differ"] and applies(why, r["local"]["counts"])}
    return list(recs.values())


def _not_applicable(rec: dict[str, Any]) -> dict[str, str]:
    from evtool.scenario.lessons import lesson_dir
    from evtool.scenario.loader import load_scenario
    from evtool.transports.check_notes import not_applicable

    return not_applicable(load_scenario(lesson_dir() / f"{rec['lesson']}.yaml", rec.get("sets") or None),
                          rec["broker"])


def merge(out: Path) -> list[dict[str, Any]]:
    """`read_results`, also written to OUT/results.json."""
    recs = read_results(out)
    (out / "results.json").write_text(json.dumps({"results": recs}, indent=1), encoding="utf-8")
    return recs


def summary_cell(rec: dict[str, Any]) -> str:
    """`same (4/4)`, `differs: queue-bounded`, or the error, with wall times and load."""
    if "error" in rec:
        return f"error: {rec['error'][:70]}"
    n = len(rec["real"]["checks"])
    verdict = _diff_text(rec)
    return (f"{verdict} ({n} checks; core {rec['local']['wall_s']:.1f} s, broker {rec['real']['wall_s']:.0f} s,"
            f" load {rec['load_before']}->{rec['load_after']})")


def _diff_text(rec: dict[str, Any]) -> str:
    """`same`, `differs: a, b`, `n/a on redis: c` (a difference the capability notes explain)."""
    na = rec.get("not_applicable", {})
    real = [d for d in rec["differ"] if d not in na]
    parts = (["differs: " + ", ".join(real)] if real else []) + (
        [f"n/a on {rec['broker']}: " + ", ".join(na)] if na else [])
    return "; ".join(parts) or "same"


def _verdicts(side: dict[str, Any]) -> str:
    return " ".join("✓" if c["status"] == "pass" else "✗" if c["status"] == "fail" else "?"
                    for c in side["checks"].values())


def table(recs: list[dict[str, Any]], markdown: bool = False) -> str:
    """lesson × broker: the verdicts on each side, what differs, wall time and load."""
    order = {n: i for i, n in enumerate(lesson_ids())}
    recs = sorted(recs, key=lambda r: (order.get(r["lesson"], 99), BROKERS.index(r["broker"])))
    rows = [["lesson", "broker", "core", "broker", "differs", "wall s (broker)", "load", "at"]]
    for r in recs:
        if "error" in r:
            rows.append([r["lesson"], r["broker"], "", "", f"error: {r['error'][:60]}", f"{r['wall_s']:.0f}",
                         f"{r['load_before']}", r["started"][-8:-3]])
            continue
        diff = _diff_text(r)
        rows.append([r["lesson"], r["broker"], _verdicts(r["local"]), _verdicts(r["real"]), diff,
                     f"{r['real']['wall_s']:.0f}", f"{r['load_before']}-{r['load_after']}", r["started"][-8:-3]])
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


BEGIN = "<!-- lessons-on-brokers:begin (benchmarks/lessons_on_brokers.py --report DIR --docs FILE) -->"
END = "<!-- lessons-on-brokers:end -->"


def write_docs(path: Path, recs: list[dict[str, Any]]) -> None:
    """Replace the generated section of `path` (between BEGIN and END) with the table of `recs`."""
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no generated section ({BEGIN} ... {END})")
    servers = sorted({f"{r['broker']} {r['real'].get('server', '')}".strip() for r in recs if "real" in r})
    started = sorted(r["started"][-8:] for r in recs)
    day = max((r["started"][:10] for r in recs if len(r["started"]) > 8), default="")
    loads = [x for r in recs for x in (r.get("load_before"), r.get("load_after")) if x is not None]
    head = (f"Sweep of {len(recs)} runs ({len({r['lesson'] for r in recs})} lessons), started {day} between "
            f"{started[0]} and {started[-1]} UTC (column `at`); load average (1 min) {min(loads)}-{max(loads)}; "
            f"{', '.join(servers)}. Verdicts in check order (✓ pass, ✗ fail, ? unknown); \"n/a on X\": "
            "a difference the broker's capabilities explain (`--compare` says \"not applicable on X\").")
    body = f"{BEGIN}\n{head}\n\n{table(recs, markdown=True)}\n{END}"
    pre, rest = text.split(BEGIN, 1)
    path.write_text(pre + body + rest.split(END, 1)[1], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated lesson ids (default: every bundled lesson)")
    ap.add_argument("--brokers", default=",".join(BROKERS))
    ap.add_argument("--out", default="/tmp/lessons_brokers", help="directory for the JSON results")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="an override, as evtool run --set")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
    ap.add_argument("--report", default="", help="print the table of the results under this directory")
    ap.add_argument("--markdown", action="store_true", help="with --report: a Markdown table")
    ap.add_argument("--docs", default="", help="with --report: write the Markdown table into this file, "
                    f"between {BEGIN!r} and {END!r}")
    a = ap.parse_args(argv)
    if a.report:
        recs = read_results(Path(a.report))
        if a.docs:
            write_docs(Path(a.docs), recs)
        print(table(recs, markdown=a.markdown))
        return 0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    lessons = [s.strip() for s in a.only.split(",") if s.strip()] or lesson_ids()
    if a.worker:
        worker(a.worker, lessons, a.sets, out)
        return 0
    brokers = [b.strip() for b in a.brokers.split(",") if b.strip()]
    print(f"{len(lessons)} lessons x {', '.join(brokers)}; results in {out}/results.json; load {load_avg()}",
          flush=True)
    cmd = [sys.executable, __file__, "--out", str(out), "--only", ",".join(lessons)]
    for s in a.sets:
        cmd += ["--set", s]
    procs = [subprocess.Popen([*cmd, "--worker", b]) for b in brokers]
    started = time.monotonic()
    while any(p.poll() is None for p in procs):
        time.sleep(5)
        merge(out)
    recs = merge(out)
    print(f"\nswept in {time.monotonic() - started:.0f} s\n")
    print(table(recs))
    return 0 if all(p.returncode == 0 for p in procs) else 1


if __name__ == "__main__":
    sys.exit(main())
