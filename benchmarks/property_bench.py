"""Run many random scenarios (tests/property/randgen.py) and count how the properties hold.

Outside CI: `PYTHONPATH=. python benchmarks/property_bench.py [-n 2000] [--start 0]`. Prints the number of
scenarios, invalid ones (refused with a ScenarioError), how many passed each property, the failures with
their seeds (known ones: bugs filed under tests/property/found/), and the wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.property.randgen import check_seed  # noqa: E402 - after the path is set

PROPERTIES = ("loader", "engine", "fates", "no_loss", "determinism", "drain")


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios; exit 1 when a failure is not a known bug."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=2000, help="how many scenarios (seeds start..start+n-1)")
    ap.add_argument("--start", type=int, default=0, help="the first seed")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    invalid = 0
    failed: Counter[str] = Counter()
    known: Counter[str] = Counter()
    examples: dict[str, list[int]] = {}
    for seed in range(args.start, args.start + args.n):
        verdict = check_seed(seed)
        if verdict.invalid:
            invalid += 1
            continue
        for prop, what in verdict.failures.items():
            label = f"{prop} (known)" if prop in verdict.known else prop
            (known if prop in verdict.known else failed)[prop] += 1
            seeds = examples.setdefault(label, [])
            if len(seeds) < 10:
                seeds.append(seed)
            if prop not in verdict.known:
                print(f"seed {seed}: {prop}: {what}")
    wall = time.perf_counter() - t0
    valid = args.n - invalid
    print(f"scenarios: {args.n}  invalid (ScenarioError): {invalid}  run: {valid}")
    for prop in PROPERTIES:
        print(f"  {prop:12} passed {valid - failed[prop] - known[prop]:5}  failed {failed[prop]:4}"
              f"  known bug {known[prop]:4}")
    for label, seeds in sorted(examples.items()):
        print(f"  seeds failing {label}: {seeds}{' ...' if len(seeds) == 10 else ''}")
    print(f"wall time: {wall:.1f} s ({args.n / wall:.1f} scenarios/s, each run twice)")
    return 1 if sum(failed.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
