"""Print the trace digest and verdicts of every bundled lesson, each of its variations and the benchmark
references, one line each: the before/after evidence for an engine change.

    python benchmarks/lesson_digests.py > before.txt     # on the old code
    python benchmarks/lesson_digests.py > after.txt      # on the new code
    diff before.txt after.txt                            # empty: same digests, same verdicts

`--compiled` / `--pure` say which engine modules to use when a compiled build is present (the
default is whatever imports); the line `engine: compiled|pure` says which ran.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main() -> None:
    """Run everything and print `name digest events outcome verdicts`."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pure", action="store_true", help="force the pure-Python engine (EVTOOL_PURE=1)")
    ap.add_argument("--messages", type=int, default=3000, help="messages in the benchmark references")
    args = ap.parse_args()
    if args.pure:
        os.environ["EVTOOL_PURE"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import simpy_bench

    from evtool.scenario.lessons import lesson_dir
    from evtool.scenario.loader import load_scenario, load_text
    from evtool.scenario.models import Variation
    from evtool.sim import compiled_status
    from evtool.sim.engine import Engine

    print(f"engine: {compiled_status()}")

    def line(name: str, out: object) -> None:
        verdicts = ",".join(f"{c['name']}={c['status']}" for c in out.checks)  # type: ignore[attr-defined]
        print(f"{name:<48} {out.digest[:24]} {out.events:>8} {out.outcome:<8} {verdicts}")  # type: ignore[attr-defined]

    for p in sorted(lesson_dir().glob("*.yaml")):
        line(p.stem, Engine(load_scenario(p)).run())
        model = load_scenario(p).model
        if model.lesson is None:
            continue
        for i, v in enumerate(model.lesson.try_next):
            if isinstance(v, Variation) and v.set:
                line(f"{p.stem}[{i}]", Engine(load_scenario(p, dict(v.set))).run())
    for name, text in (("bench-plain", simpy_bench.PLAIN), ("bench-realistic", simpy_bench.REALISTIC)):
        n = args.messages
        line(name, Engine(load_text(text.format(count=n, duration=n // 1000 + 1), f"{name}.yaml")).run())


if __name__ == "__main__":
    main()
