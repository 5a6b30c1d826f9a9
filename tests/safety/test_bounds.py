"""Upper bounds at validation: every huge number is a located error, never a hang or a traceback."""

from __future__ import annotations

import random
import time
import tracemalloc
from collections import Counter

import pytest

from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.sim.sampling import ZipfSampler

HEAD = 'evtool: "1"\nid: t\nrun: {seed: 1, duration: 1s}\nchannels:\n  a: {kind: queue}\n'


def _problem(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        load_text(HEAD + text, "s.yaml")
    p = info.value.problems[0]
    assert p.file == "s.yaml" and p.line > 5
    return f"{p.path}: {p.message}"


@pytest.mark.parametrize(("text", "path", "phrase"), [
    ("producers: {p: {to: a, arrival: {process: constant, rate: 1/s}, count: 1e12}}", "producers.p.count",
     "at most 1000000000"),
    ("producers: {p: {to: a, arrival: {process: once}, count: 5000000}}", "producers.p.count",
     "at most 1,000,000 messages at one instant"),
    ("producers: {p: {to: a, arrival: {process: burst, size: 1e9, every: 1s}}}", "producers.p.arrival.size",
     "at most 1000000"),
    ("producers: {p: {to: a, arrival: {process: constant, rate: 1/s}, inject: [{at: 0s, count: 1e8}]}}",
     "producers.p.inject[0].count", "at most 1000000"),
    ("producers: {p: {to: a, arrival: {process: constant, rate: 1/s}, instances: 100000}}",
     "producers.p.instances", "at most 256"),
    ("producers: {p: {to: a, arrival: {process: constant, rate: 2000000000/s}}}", "producers.p.arrival.rate",
     "too large to be a rate"),
    ("producers: {p: {to: a, arrival: {process: constant, rate: 1/s}, key: {dist: zipf, space: 1e13}}}",
     "producers.p.key.space", "at most 1000000000000"),
    ("producers: {p: {to: a, arrival: {process: constant, rate: 1/s}, key: {dist: zipf, space: 9, s: .inf}}}",
     "producers.p.key.s", "finite number"),
    ("consumers: {c: {from: a}}\nfaults: [{at: 0s, action: scale, target: consumer:c, instances: 1000000}]",
     "faults[0].instances", "at most 256"),
    ("consumers: {c: {from: a}}\nfaults: [{at: 0s, action: slow, target: consumer:c, latency_factor: .inf}]",
     "faults[0].latency_factor", "expected a finite number, found `inf`"),
    ("consumers: {c: {from: a, retry: {max_attempts: 3, on_exhausted: drop, backoff: {initial: 1s, "
     "multiplier: .nan}}}}", "consumers.c.retry.backoff.multiplier", "finite number"),
    ("consumers: {c: {from: a, emit: [" + ", ".join(["{to: a, when: 'False'}"] * 65) + "]}}",
     "consumers.c.emit", "64"),
    ("producers: {p: {to: a, arrival: {process: constant, rate: 1/s}, count: " + "9" * 5000 + "}}",
     "producers.p.count", "5,000 digits; the limit is 4,300"),
    ("producers: {p: {to: a, arrival: {process: constant, rate: 1/s}, count: 0x" + "f" * 5000 + "}}",
     "producers.p.count", "digits; the limit is 4,300"),
])
def test_bound_is_a_located_error(text: str, path: str, phrase: str) -> None:
    problem = _problem(text)
    assert problem.startswith(path + ":"), problem
    assert phrase in problem, problem


def test_huge_zipf_key_space_is_not_materialized() -> None:
    """`space: 1e11` used 6 GB in `validate` (the engine built a cumulative table of every key's weight)."""
    text = HEAD + "producers: {p: {to: a, arrival: {process: constant, rate: 100/s}, count: 50, " \
                  "key: {dist: zipf, space: 1e11}}}\nconsumers: {c: {from: a, processing: 1ms}}\n"
    tracemalloc.start()
    t0 = time.monotonic()
    out = Engine(load_text(text, "s.yaml")).run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.summary["published"] == 50
    assert time.monotonic() - t0 < 5 and peak < 50 * 2**20


def test_zipf_sampler_follows_the_law() -> None:
    z = ZipfSampler(1000, 1.1)
    rng = random.Random(3)
    draws = Counter(z.sample(rng) for _ in range(100_000))
    weights = [k ** -1.1 for k in range(1, 1001)]
    total = sum(weights)
    for k in (1, 2, 5, 50, 500):
        assert abs(draws[k] / 100_000 - weights[k - 1] / total) < 0.005
    assert min(draws) >= 1 and max(draws) <= 1000


def test_deep_flow_nesting_is_refused_quickly() -> None:
    """PyYAML's scanner is quadratic in flow depth: 1,500 nested `[` took 19 s before this check."""
    text = HEAD + "producers: {p: {to: a, arrival: {process: once}, count: 1, payload: {x: " + \
        "[" * 1500 + "]" * 1500 + "}}}\n"
    t0 = time.monotonic()
    with pytest.raises(ScenarioError) as info:
        load_text(text, "s.yaml")
    assert time.monotonic() - t0 < 2
    p = info.value.problems[0]
    assert (p.line, "more than 100 levels" in p.message) == (6, True)


def test_brackets_in_quotes_and_comments_do_not_count() -> None:
    deep = "[" * 150
    text = HEAD + f"# {deep}\nproducers: {{p: {{to: a, arrival: {{process: once}}, count: 1, " \
                  f"payload: {{x: '{deep}', z: \"{deep}\\\"{deep}\"}}}}}}\n"
    assert load_text(text, "s.yaml").model.producers["p"].payload["x"] == deep


def test_total_instances_and_partitions_are_bounded() -> None:
    from evtool.scenario.loops import MAX_TOTAL_INSTANCES, MAX_TOTAL_PARTITIONS

    n = MAX_TOTAL_INSTANCES // 256 + 1
    text = 'evtool: "1"\nid: t\nrun: {seed: 1, duration: 1s}\nchannels: {a: {kind: queue}}\nconsumers:\n' + \
        "".join(f"  c{i}: {{from: a, instances: 256}}\n" for i in range(n))
    with pytest.raises(ScenarioError, match="instances in all"):
        load_text(text, "s.yaml")
    n = MAX_TOTAL_PARTITIONS // 1024 + 1
    text = 'evtool: "1"\nid: t\nrun: {seed: 1, duration: 1s}\nchannels:\n' + \
        "".join(f"  l{i}: {{kind: log, partitions: 1024}}\n" for i in range(n))
    with pytest.raises(ScenarioError, match="partitions in all"):
        load_text(text, "s.yaml")
