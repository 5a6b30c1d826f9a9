"""Properties every run keeps, over a few hundred small random scenarios (tests/property/randgen.py).

Each seed builds a scenario of one channel kind (queue, grouped_queue, topic, log, router), one of the eight
profiles, random faults, retry modes and fail rules, and checks:
(a) every published message ends with a fate, or the run reports messages still held;
(b) `no_loss` never passes when (a) fails;
(c) the same seed gives the same digest;
(d) the drain never says `complete` while messages are held.
A scenario the loader (or the engine's set-up) refuses with a ScenarioError is skipped as invalid; any
other exception fails. Failures that match a bug filed under tests/property/found/ are tolerated here
(the strict xfail there tracks them); benchmarks/property_bench.py runs thousands of seeds.
"""

from __future__ import annotations

import pytest

from .randgen import KINDS, PROFILES, check_seed, scenario_dict

SEEDS = range(300)
CHUNK = 25


@pytest.mark.parametrize("start", range(0, len(SEEDS), CHUNK))
def test_random_scenarios_keep_the_properties(start: int) -> None:
    failures = {}
    for seed in SEEDS[start:start + CHUNK]:
        verdict = check_seed(seed)
        new = {k: v for k, v in verdict.failures.items() if k not in verdict.known}
        if new:
            failures[seed] = new
    assert not failures, f"property failures (reproduce with scenario_yaml(seed)): {failures}"


def test_the_seeds_cover_every_kind_and_profile() -> None:
    """The CI seeds exercise every channel kind, profile, retry mode and fault the generator knows."""
    kinds, profiles, modes, faults = set(), set(), set(), set()
    for seed in SEEDS:
        d = scenario_dict(seed)
        kinds.add(d["channels"]["main"]["kind"])
        profiles.add(d["broker"]["profile"])
        modes |= {c["retry"]["mode"] for c in d["consumers"].values() if "retry" in c}
        faults |= {f["action"] for f in d.get("faults", [])}
    assert kinds == set(KINDS)
    assert profiles == set(PROFILES)
    assert modes == {"redeliver", "in_place", "republish"}
    assert faults >= {"crash", "pause", "broker_restart", "duplicate", "drop", "delay", "redrive", "poison"}
