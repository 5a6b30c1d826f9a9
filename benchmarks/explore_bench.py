"""The search's speed against the engine's: runs per second of `evtool explore` (faults placed, points
read from each seed's trace) next to plain engine runs of the same scenario, in the same process, so the
ratio is meaningful on a noisy shared machine. "The search runs at the engine's speed": the ratio is
the cost of exploring on top of running (reading points, placing faults, judging the checks, the
reference runs of smaller scopes), offset by the search's small-scope runs being shorter than the
scenario's own (the fixture has 12 messages; the caps are 10, 40 and 160).

    python benchmarks/explore_bench.py [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from evtool.explore.candidate import Candidate, Runner
from evtool.explore.search import Budget, Explorer

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "explore" / "fixtures" / "charge-once.yaml"


def main() -> None:
    """Print one JSON line: runs/s of plain engine runs, of the search, and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    text = FIXTURE.read_text(encoding="utf-8")

    plain = Runner(text, str(FIXTURE))
    seed = plain.loaded().model.run.seed
    t0 = time.perf_counter()
    for i in range(args.runs):
        plain.run(Candidate(seed + i))
    plain_s = time.perf_counter() - t0

    explorer = Explorer(Runner(text, str(FIXTURE)), check=None, seed=1, budget=Budget(runs=args.runs))
    t0 = time.perf_counter()
    found = explorer.search()
    explore_s = time.perf_counter() - t0
    assert found is None, "the correct fixture must not fail"
    print(json.dumps({"runs": args.runs, "engine_runs_per_s": round(args.runs / plain_s, 1),
                      "explore_runs_per_s": round(args.runs / explore_s, 1),
                      "explore_over_engine": round(explore_s / plain_s, 2)}))


if __name__ == "__main__":
    main()
