"""Random small scenarios and the properties every run of one must keep.

Shared by tests/property/test_random_scenarios.py (a few hundred seeds in CI) and
benchmarks/property_bench.py (thousands, outside CI). A scenario is built from one integer seed by a
plain `random.Random`, so a failure is reproduced from its seed alone (`scenario_yaml(seed)`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import yaml

from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

PROFILES = ("default", "rabbitmq-classic", "rabbitmq-quorum", "sqs-standard", "sqs-fifo", "kafka",
            "nats-jetstream", "redis-streams")
KINDS = ("queue", "grouped_queue", "topic", "log", "router")
RETRY_MODES = ("redeliver", "in_place", "republish")
FAULTS = ("crash", "pause", "broker_restart", "duplicate", "drop", "delay", "slow", "scale", "restart",
          "poison", "redrive")

# Trace kinds that settle a message for good (somewhere): see docs/scenario-language.md "Trace events".
FATES = frozenset({"acked", "rejected", "dead_lettered", "expired", "dropped", "duplicate_dropped", "publish_rejected",
                   "unroutable", "parked", "max_deliveries_reached"})
HELD = ("ready", "in_flight", "delayed")


def _ms(rng: random.Random, lo: int, hi: int) -> str:
    return f"{rng.randint(lo, hi)}ms"


def _queue_like(rng: random.Random, kind: str, dlq: str | None) -> dict[str, Any]:
    ch: dict[str, Any] = {"kind": kind}
    if rng.random() < 0.3:
        ch["capacity"] = rng.randint(1, 20)
        ch["overflow"] = rng.choice(["reject_publish", "drop_head"] + (["dead_letter"] if dlq else []))
    if rng.random() < 0.3:
        ch["ack_timeout"] = _ms(rng, 50, 2000)
    if rng.random() < 0.3:
        ch["ttl"] = _ms(rng, 20, 2000)
    if rng.random() < 0.3:
        ch["max_deliveries"] = rng.randint(1, 5)
    if dlq:
        ch["dead_letter"] = dlq
    if rng.random() < 0.2:
        ch["requeue_position"] = rng.choice(["head", "original", "tail"])
    if rng.random() < 0.2:
        ch["durable"] = rng.random() < 0.5
    return ch


def _consumer(rng: random.Random, src: str) -> dict[str, Any]:
    c: dict[str, Any] = {"from": src, "processing": _ms(rng, 0, 30)}
    if rng.random() < 0.3:
        c["instances"] = rng.randint(1, 3)
    if rng.random() < 0.2:
        c["concurrency"] = rng.randint(1, 3)
    if rng.random() < 0.2:
        c["prefetch"] = rng.randint(1, 5)
    if rng.random() < 0.1:
        c["ack"] = "auto"
    if rng.random() < 0.5:
        rule: dict[str, Any] = {"probability": round(rng.random(), 2), "error": rng.choice(["Boom", "Parse"])}
        if rng.random() < 0.2:
            rule["retryable"] = False
        if rng.random() < 0.1:
            rule["crash"] = True
        if rng.random() < 0.3:
            rule = {"when": "msg.tag == 'poison'", "error": "Poison"}
        c["fail_if"] = [rule]
    if rng.random() < 0.5:
        retry: dict[str, Any] = {"max_attempts": rng.randint(1, 4), "mode": rng.choice(RETRY_MODES),
                                 "on_exhausted": rng.choice(["dead_letter", "drop", "requeue"])}
        if rng.random() < 0.6:
            retry["backoff"] = {"type": "constant", "delay": _ms(rng, 1, 200)}
        c["retry"] = retry
    return c


def _fault(rng: random.Random, consumers: list[str], channels: list[str], producers: list[str],
           dlqs: list[str]) -> dict[str, Any]:
    action = rng.choice(FAULTS)
    f: dict[str, Any] = {"action": action, "at": _ms(rng, 0, 1500)}
    if action in ("crash", "pause", "slow", "scale", "restart"):
        f["target"] = f"consumer:{rng.choice(consumers)}"
    if action == "crash" and rng.random() < 0.6:
        f["restart_after"] = _ms(rng, 10, 1000)
    elif action in ("pause", "slow"):
        f["for"] = _ms(rng, 10, 1000)
        if action == "slow":
            f["latency_factor"] = rng.choice([2, 5])
    elif action == "scale":
        f["instances"] = rng.randint(0, 3)
    elif action == "broker_restart":
        f["target"] = "broker"
        f["downtime"] = _ms(rng, 0, 500)
    elif action in ("duplicate", "drop", "delay"):
        kind = rng.choice(["consumer", "channel", "producer"])
        name = rng.choice({"consumer": consumers, "channel": channels, "producer": producers}[kind])
        f.update(target=f"{kind}:{name}", probability=round(rng.random(), 2),
                 scope=rng.choice(["per_message", "per_instance"]), **{"for": _ms(rng, 10, 2000)})
        if action == "delay":
            f["latency"] = _ms(rng, 1, 500)
    elif action == "poison":
        f["target"] = f"channel:{rng.choice(channels)}"
    elif action == "redrive":
        f["target"] = f"channel:{rng.choice(dlqs or channels)}"
    return f


def scenario_dict(seed: int) -> dict[str, Any]:
    """A small random scenario, as the mapping a YAML file would hold."""
    rng = random.Random(seed)
    profile = rng.choice(PROFILES)
    kind = rng.choice(KINDS)
    channels: dict[str, Any] = {}
    dlq = "dlq" if kind != "log" and rng.random() < 0.5 else None
    if dlq:
        channels[dlq] = {"kind": "queue", "role": "dead_letter"}
    readable: list[str] = []
    producer_extra: dict[str, Any] = {}
    if kind == "log":
        channels["main"] = {"kind": "log", "partitions": rng.randint(1, 3)}
        if rng.random() < 0.2:
            channels["main"]["retention"] = {"count": rng.randint(1, 20)}
        readable.append("main")
    elif kind == "router":
        rtype = rng.choice(["direct", "fanout", "topic"])
        bound = [f"b{i}" for i in range(rng.randint(1, 2))]
        for b in bound:
            channels[b] = _queue_like(rng, rng.choice(["queue", "topic"]), dlq)
        pats = {"direct": ["a", "b"], "fanout": [""], "topic": ["a.*", "#"]}[rtype]
        channels["main"] = {"kind": "router", "type": rtype,
                            "bindings": [{"to": b, "pattern": rng.choice(pats)} for b in bound]}
        producer_extra["routing_key"] = rng.choice(["a", "b", "a.x"])
        readable += bound
    else:
        channels["main"] = _queue_like(rng, kind, dlq)
        readable.append("main")
    producers: dict[str, Any] = {}
    for i in range(rng.randint(1, 2)):
        arrival = rng.choice([
            {"process": "constant", "rate": f"{rng.randint(1, 40)}/s"},
            {"process": "poisson", "rate": f"{rng.randint(1, 40)}/s"},
            {"process": "burst", "size": rng.randint(1, 10), "every": _ms(rng, 100, 800)},
            {"process": "once", "at": _ms(rng, 0, 500)},
        ])
        p: dict[str, Any] = {"to": "main", "arrival": arrival, **producer_extra}
        if arrival["process"] == "once" or rng.random() < 0.4:
            p["count"] = rng.randint(1, 20)
        if rng.random() < 0.3:
            p["instances"] = rng.randint(1, 3)
        if rng.random() < 0.5 or kind == "grouped_queue":
            p["key"] = {"dist": "uniform", "space": rng.randint(1, 5)}
        if rng.random() < 0.2:
            p["ttl"] = _ms(rng, 20, 1000)
        producers[f"p{i}"] = p
    consumers = {f"c{j}": _consumer(rng, src) for j, src in enumerate(readable)}
    if dlq and rng.random() < 0.3:
        consumers["dl"] = {"from": dlq, "processing": "1ms"}
    faults = [_fault(rng, list(consumers), [n for n in channels if channels[n]["kind"] != "router"],
                     list(producers), [dlq] if dlq else []) for _ in range(rng.randint(0, 2))]
    sc: dict[str, Any] = {
        "evtool": "1",
        "id": f"random-{seed}",
        "run": {"seed": seed, "duration": _ms(rng, 200, 2000), "drain": {"max": _ms(rng, 500, 5000)}},
        "broker": {"profile": profile},
        "channels": channels,
        "producers": producers,
        "consumers": consumers,
        "expect": [{"name": "nothing-lost", "check": "no_loss"}],
    }
    if faults:
        sc["faults"] = faults
    return sc


def scenario_yaml(seed: int) -> str:
    """The YAML text of `scenario_dict(seed)`."""
    return yaml.safe_dump(scenario_dict(seed), sort_keys=False)


@dataclass
class Verdict:
    """What one random scenario showed: invalid (refused by the loader), or each property's result."""

    seed: int
    invalid: bool = False
    failures: dict[str, str] = field(default_factory=dict)
    """property name (fates, no_loss, determinism, drain, loader, engine) -> what went wrong."""
    known: set[str] = field(default_factory=set)
    """Failures that match a bug already filed under tests/property/found/ (strict xfail there)."""


def check_text(text: str, seed: int = 0) -> Verdict:
    """Run one scenario text twice and judge the four properties."""
    verdict = Verdict(seed)
    try:
        loaded = load_text(text, f"random-{seed}.yaml")
    except ScenarioError:
        verdict.invalid = True
        return verdict
    except Exception as exc:  # noqa: BLE001 - any other exception from the loader is the bug we look for
        verdict.failures["loader"] = f"{type(exc).__name__}: {exc}"
        return verdict
    events: list[Any] = []
    try:
        engine = Engine(loaded, listeners=[events.extend])
    except ScenarioError:
        verdict.invalid = True  # what the chosen profile cannot do, refused with a located error
        return verdict
    try:
        outcome = engine.run()
        again = Engine(loaded, listeners=[events.extend]).run()
        again = Engine(load_text(text, f"random-{seed}.yaml")).run()
    except Exception as exc:  # noqa: BLE001 - a crash of the engine is a failure of every property
        verdict.failures["engine"] = f"{type(exc).__name__}: {exc}"
        return verdict
    producers = set(loaded.model.producers)
    published = {e.msg for e in events if e.kind == "published" and e.actor in producers}
    settled = {e.msg for e in events if e.kind in FATES}
    chans = outcome.summary.get("channels", {})
    # a dead-letter channel's messages have their fate (dead-lettered): they are not held work
    roles = {n: getattr(c, "role", "normal") for n, c in loaded.model.channels.items()}
    held = {n: {k: s.get(k, 0) for k in HELD} for n, s in chans.items()
            if roles.get(n) != "dead_letter" and any(s.get(k, 0) for k in HELD)}
    # a log's retention reports what it removed from a group's backlog as one `dropped` event with a
    # count and no message id (reason retention): that many unsettled messages of the channel are accounted
    channel_of = {e.msg: e.channel for e in events if e.kind == "published" and e.actor in producers}
    allowance: dict[str, int] = {}
    for e in events:
        if e.kind == "dropped" and e.msg is None and e.data:
            allowance[e.channel] = allowance.get(e.channel, 0) + int(e.data.get("count", 0))
    unsettled = set()
    for mid in sorted(published - settled):
        ch = channel_of.get(mid)
        if allowance.get(ch, 0) > 0:
            allowance[ch] -= 1
        else:
            unsettled.add(mid)
    # (a) every producer's message has a fate, or the run says messages are still held
    fates_ok = not unsettled or outcome.drain != "complete" or bool(held)
    if not fates_ok:
        verdict.failures["fates"] = f"{len(unsettled)} without a fate and none held, e.g. {sorted(unsettled)[:3]}"
    # (b) no_loss never passes when (a) fails
    no_loss = next((c["status"] for c in outcome.checks if c["name"] == "nothing-lost"), None)
    if not fates_ok and no_loss == "pass":
        verdict.failures["no_loss"] = "no_loss passed with messages that have no fate"
    # (c) the same seed gives the same digest
    if outcome.digest != again.digest:
        verdict.failures["determinism"] = f"digests {outcome.digest[:12]} != {again.digest[:12]}"
    # (d) a drain never says complete while messages are held
    if outcome.drain == "complete" and held:
        verdict.failures["drain"] = f"drain complete while held: {held}"
    return verdict


def check_seed(seed: int) -> Verdict:
    """Generate the scenario of `seed`, run it, judge it."""
    return check_text(scenario_yaml(seed), seed)
