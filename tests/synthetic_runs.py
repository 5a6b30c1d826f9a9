"""Synthetic runs: a small, seeded discrete-event model that emits realistic trace events.

Used by the store and report tests, by `benchmarks/store_bench.py` and for
demos while the real engine is elsewhere. The model: a producer `checkout`
publishes `OrderPlaced` to the queue `orders` (keys `c-1`..`c-N`), two
`billing` instances compete for it, poison messages fail and are retried
with exponential backoff until they are dead-lettered to `orders.dlq`;
successful orders sometimes cause a `PaymentTaken` on `payments`, consumed by
`ledger`. One dead letter is redriven at the end. Events come out in time
order, generated lazily (memory is bounded by the messages in flight).

The trace follows the real engine's conventions (evtool/core/broker.py):
a queue publish is one `published` event; the first delivery is
`delivered`, later ones `redelivered` (attempt = delivery number); a retry
is `failed`, `retry_scheduled`, `nacked`, `delayed`, then `enqueued` (reason
delay_elapsed); a dead letter is `rejected` and `dead_lettered` at the
source channel (data.target), then `enqueued` at the target (reason
dead_letter); a redrive is `redriven` at the dead-letter channel (data.to),
then `enqueued` at the target (reason redrive); a message a handler sends
is `emitted` (data.causation_id) and `published`.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from evtool.core.events import TraceEvent
from evtool.store.model import RunHeader, RunResult, new_run_id, scenario_hash, utc_now_iso

MS = 1_000_000

SCENARIO_TEXT = """\
name: retries-and-dlq
seed: 7
channels:
  orders: {type: queue, dead_letter: orders.dlq, max_deliveries: 4}
  payments: {type: queue}
producers:
  checkout: {to: orders, rate: 200/s, key: customer}
consumers:
  billing: {from: orders, instances: 2, service: 4ms, retry: {backoff: exponential, base: 20ms}}
  ledger: {from: payments, service: 2ms}
expect:
  - no_message_lost
  - dead_letters: {at_most: 10}
"""


@dataclass
class _Channel:
    name: str
    consumer: str
    instances: int
    service_ns: int
    ready: deque[str] = field(default_factory=deque)
    free: list[int] = field(default_factory=list)


@dataclass
class _Msg:
    id: str
    key: str
    channel: str
    poison: bool
    attempt: int = 0


def synthetic_events(messages: int = 200, seed: int = 7, poison_every: int = 37, keys: int = 20,
                     redrive: bool = True) -> Iterator[TraceEvent]:
    """The trace of a synthetic run that publishes `messages` orders (plus follow-ups), in time order."""
    rng = random.Random(seed)
    channels = {
        "orders": _Channel("orders", "billing", 2, 4 * MS),
        "payments": _Channel("payments", "ledger", 1, 2 * MS),
    }
    for ch in channels.values():
        ch.free = list(range(1, ch.instances + 1))
    msgs: dict[str, _Msg] = {}
    published_at: dict[str, int] = {}
    service_ns: dict[str, int] = {}
    heap: list[tuple[int, int, Callable[[int], Iterable[TraceEvent]]]] = []
    counter = 0
    published = 0
    follow_ups = 0
    dead: list[str] = []

    def at(t: int, action: Callable[[int], Iterable[TraceEvent]]) -> None:
        nonlocal counter
        counter += 1
        heapq.heappush(heap, (t, counter, action))

    def dispatch(ch: _Channel, t: int) -> Iterator[TraceEvent]:
        while ch.ready and ch.free:
            m = msgs[ch.ready.popleft()]
            inst = ch.free.pop(0)
            m.attempt += 1
            yield TraceEvent(t, "delivered" if m.attempt == 1 else "redelivered", m.id, ch.name, ch.consumer, inst,
                             m.key, m.attempt, "poison" if m.poison else None)
            service = int(rng.expovariate(1 / ch.service_ns)) + MS // 10
            service_ns[m.id] = service
            at(t + service, lambda now, m=m, ch=ch, inst=inst: complete(m, ch, inst, now))

    def enqueue(m: _Msg, t: int, reason: str | None) -> Iterator[TraceEvent]:
        ch = channels[m.channel]
        ch.ready.append(m.id)
        if reason is not None:  # a producer's publish is the `published` event alone
            yield TraceEvent(t, "enqueued", m.id, ch.name, None, None, m.key, m.attempt,
                             "poison" if m.poison else None, {"reason": reason})
        yield from dispatch(ch, t)

    def publish(m: _Msg, t: int, producer: str, seq: int, cause: str | None) -> Iterator[TraceEvent]:
        msgs[m.id] = m
        if cause is not None:
            yield TraceEvent(t, "emitted", m.id, m.channel, producer, None, m.key, 0, None, {"causation_id": cause})
        yield TraceEvent(t, "published", m.id, m.channel, producer, None, m.key, 0, "poison" if m.poison else None,
                         {"seq": seq})
        yield from enqueue(m, t, None)

    def complete(m: _Msg, ch: _Channel, inst: int, t: int) -> Iterator[TraceEvent]:
        nonlocal follow_ups
        ch.free.append(inst)
        ch.free.sort()
        tag = "poison" if m.poison else None
        if m.poison:
            yield TraceEvent(t, "failed", m.id, ch.name, ch.consumer, inst, m.key, m.attempt, tag,
                             {"error": "ParseError", "retryable": True})
            if m.attempt < 4:
                delay = 20 * MS * 2 ** (m.attempt - 1)
                yield TraceEvent(t, "retry_scheduled", m.id, ch.name, ch.consumer, inst, m.key, m.attempt, tag,
                                 {"delay": delay, "mode": "redeliver", "attempt": m.attempt + 1})
                yield TraceEvent(t, "nacked", m.id, ch.name, ch.consumer, inst, m.key, m.attempt, tag,
                                 {"requeue": True, "delay": delay})
                yield TraceEvent(t, "delayed", m.id, ch.name, ch.consumer, inst, m.key, m.attempt, tag,
                                 {"delay": delay, "reason": "nack"})
                at(t + delay, lambda now, m=m: enqueue(m, now, "delay_elapsed"))
            else:
                yield TraceEvent(t, "rejected", m.id, ch.name, ch.consumer, inst, m.key, m.attempt, tag)
                yield TraceEvent(t, "dead_lettered", m.id, ch.name, ch.consumer, inst, m.key, m.attempt, tag,
                                 {"reason": "rejected", "target": "orders.dlq", "count": 1})
                yield TraceEvent(t, "enqueued", m.id, "orders.dlq", None, None, m.key, 0, tag,
                                 {"reason": "dead_letter"})
                dead.append(m.id)
        else:
            latency = t - published_at[m.id]
            yield TraceEvent(t, "handled", m.id, ch.name, ch.consumer, inst, m.key, m.attempt, None,
                             {"latency": latency, "processing": min(latency, service_ns[m.id])})
            yield TraceEvent(t, "acked", m.id, ch.name, ch.consumer, inst, m.key, m.attempt)
            if ch.name == "orders" and rng.random() < 0.3:
                follow_ups += 1
                f = _Msg(f"p-{follow_ups}", m.key, "payments", False)
                published_at[f.id] = t
                yield from publish(f, t, "billing", follow_ups, m.id)
        yield from dispatch(ch, t)

    def produce(t: int) -> Iterator[TraceEvent]:
        nonlocal published
        published += 1
        key = f"c-{rng.randrange(1, keys + 1)}"
        m = _Msg(f"m-{published}", key, "orders", poison_every > 0 and published % poison_every == 0)
        published_at[m.id] = t
        yield from publish(m, t, "checkout", published, None)
        if published < messages:
            # a burst in the middle third makes the queue build up, then drain
            mean = MS if messages // 3 < published < 2 * messages // 3 else 6 * MS
            at(t + int(rng.expovariate(1 / mean)) + 1, produce)

    if messages > 0:
        at(0, produce)
    t = 0
    redriven = False
    while heap:
        t, _, action = heapq.heappop(heap)
        yield from action(t)
        if not heap and redrive and dead and not redriven:
            redriven = True
            m = msgs[dead[0]]
            m.poison, m.attempt = False, 0
            t += 50 * MS
            yield TraceEvent(t, "redriven", m.id, "orders.dlq", None, None, m.key, 0, None, {"to": "orders"})
            yield from enqueue(m, t, "redrive")
            while heap:
                t, _, action = heapq.heappop(heap)
                yield from action(t)
    yield TraceEvent(t, "drain_ended")
    yield TraceEvent(t, "run_ended", data={"drain": "complete", "stopped": None})


def synthetic_header(seed: int = 7, record_mode: str = "full", scenario_path: str = "scenarios/retries.yaml",
                     run_id: str | None = None) -> RunHeader:
    """A header for a synthetic run."""
    return RunHeader(id=run_id or new_run_id(), scenario_id="retries-and-dlq", scenario_path=scenario_path,
                     scenario_text=SCENARIO_TEXT, scenario_hash=scenario_hash(SCENARIO_TEXT), seed=seed,
                     overrides={"consumers.billing.instances": 2}, evtool_version="0.1.0", profile="rabbitmq",
                     transport="local", lesson_title="Retries, backoff and the dead-letter queue",
                     record_mode=record_mode, started_at=utc_now_iso())


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None, "count": 0}
    s = sorted(values)

    def pick(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))], 3)

    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": round(s[-1], 3),
            "mean": round(sum(s) / len(s), 3), "count": len(s)}


def synthetic_result(events: Iterable[TraceEvent], outcome: str | None = None,
                     dead_letter_limit: int = 10) -> RunResult:
    """A result computed from a synthetic trace, shaped like the engine's (`Metrics.summary`).

    The outcome follows the checks.
    """
    kinds: Counter[str] = Counter()
    latency: dict[str, list[float]] = {}
    handled: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    channels: dict[str, Counter[str]] = {"orders": Counter(), "orders.dlq": Counter(), "payments": Counter()}
    dead_ids: list[str] = []
    last_t = 0
    n = 0
    for e in events:
        n += 1
        last_t = e.t
        kinds[e.kind] += 1
        if e.channel in channels and e.kind in ("published", "acked", "dead_lettered", "expired", "dropped"):
            channels[e.channel][e.kind] += 1
        if e.kind == "handled" and e.actor and e.data:
            handled[e.actor] += 1
            latency.setdefault(e.actor, []).append(e.data["latency"] / MS)
        elif e.kind == "failed" and e.actor:
            failed[e.actor] += 1
        elif e.kind == "dead_lettered" and e.msg:
            dead_ids.append(e.msg)
            channels["orders.dlq"]["ready"] += 1
        elif e.kind == "redriven":
            channels["orders.dlq"]["ready"] -= 1
    all_lat = [v for vs in latency.values() for v in vs]
    overall = _percentiles(all_lat)
    chans = {name: {"published": c["published"], "ready": c["ready"], "in_flight": 0, "delayed": 0,
                    "acked": c["acked"], "dead_lettered": c["dead_lettered"], "expired": c["expired"],
                    "dropped": c["dropped"], "kind": "queue"} for name, c in channels.items()}
    consumers = {name: {"handled": handled[name], "failed": failed[name], "instances": instances,
                        "latency_ms": _percentiles(latency.get(name, [])), "state": {"charged": handled[name]}}
                 for name, instances in (("billing", 2), ("ledger", 1))}
    p99 = overall["p99"] or 0.0
    checks: list[dict[str, Any]] = [
        {"name": "nothing-lost", "check": "no_loss", "status": "pass",
         "expected": "every message that entered orders is acked, dead-lettered or expired by policy",
         "observed": f"all {channels['orders']['published']} accounted for ({len(dead_ids)} dead-lettered)",
         "evidence": [], "because": None, "when": "end"},
        {"name": "few-dead-letters", "check": "dead_letters",
         "status": "pass" if len(dead_ids) <= dead_letter_limit else "fail",
         "expected": f"orders.dlq: at most {dead_letter_limit} dead letter(s)",
         "observed": f"{len(dead_ids)} dead letter(s)", "evidence": dead_ids[:20],
         "because": None if len(dead_ids) <= dead_letter_limit else "poison messages exhausted their retries",
         "when": "end"},
        {"name": "latency", "check": "expression", "status": "pass" if p99 < 250 else "fail",
         "expected": "p(99, latency.e2e{consumer=billing}) < 250ms", "observed": f"left = {p99}ms, right = 250ms",
         "evidence": [], "because": None, "when": "end"},
        {"name": "billing-busy", "check": "expression", "status": "unknown",
         "expected": "min(consumer.busy{consumer=billing}) > 0", "observed": "no samples (synthetic run)",
         "evidence": [], "because": "the synthetic model does not sample idleness", "when": "always"},
    ]
    if outcome is None:
        statuses = {c["status"] for c in checks}
        outcome = "failed" if "fail" in statuses else "unknown" if "unknown" in statuses else "passed"
    summary: dict[str, Any] = {
        "counts": dict(sorted(kinds.items())), "published": kinds["published"], "acked": kinds["acked"],
        "dead_lettered": kinds["dead_lettered"], "retries": kinds["retry_scheduled"],
        "redelivered": kinds["redelivered"], "duplicates_skipped": 0, "latency_ms": overall,
        "channels": chans, "consumers": consumers, "virtual_s": round(last_t / 1e9, 6), "drain": "complete",
    }
    return RunResult(outcome=outcome, ended_at=utc_now_iso(), virtual_ns=last_t, digest=f"{n:08x}" * 8,
                     events=n, messages=kinds["published"], summary=summary, checks=checks)
