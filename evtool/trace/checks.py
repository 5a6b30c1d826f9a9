"""Checks: the `expect` block judged against the trace.

Each expectation becomes a small incremental checker that folds trace
batches in and gives a verdict at the end (or at every sample tick, for
`when: always` and `when: eventually`). A verdict is `pass`, `fail` or
`unknown`: no data is unknown, never a silent pass. Each result says what
was expected, what was seen, and the ids of messages that show it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.scenario.expressions import compile_expression
from evtool.scenario.selectors import Aggregate, Number, parse_assertion
from evtool.scenario.units import format_duration
from evtool.trace.fates import (
    DEAD,
    DROPPED_AT_LIMIT,
    DROPPED_ON_EXHAUSTED,
    DUPLICATE_OF_HANDLED,
    EXPIRED,
    PARKED,
    FateLedger,
)
from evtool.trace.histogram import Histogram

if TYPE_CHECKING:
    from evtool.sim.engine import Engine

EVIDENCE = 10
"""Most message ids quoted as evidence for one result."""

LATENCY_METRICS = ("latency.e2e", "latency.processing")
GAUGE_METRICS = ("queue.depth", "in_flight", "consumer.lag", "throughput")


def _result(name: str, check: str, status: str, expected: str, observed: str, evidence: list[str] | None = None,
            because: str | None = None, when: str = "end") -> dict[str, Any]:
    return {"name": name, "check": check, "status": status, "expected": expected, "observed": observed,
            "evidence": list(evidence or [])[:EVIDENCE], "because": because, "when": when}


class Checker:
    """Base: an expectation folded over the trace.

    `result` judges what has been seen so far; `final` is the verdict, with the expectation's
    `when` applied: `always` fails at the first sample whose result failed, `eventually` passes at
    the first sample whose result passed (no later than `within`). A `within` the check cannot
    honour makes the verdict unknown rather than being ignored.
    """

    WITHIN_AT_END = False
    """True for checks that give `within` a meaning of their own (saga_terminates)."""

    def __init__(self, spec: Any, name: str) -> None:
        self.spec = spec
        self.name = name
        self.failed_at: tuple[int, str] | None = None
        self.held_at: tuple[int, str] | None = None

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        """Fold in a batch of events."""

    def tick(self, now: int) -> None:
        """Called at every metric sample: judge `always` / `eventually` checks at this instant."""
        when = getattr(self.spec, "when", "end")
        if when == "end" or (self.failed_at is not None and when == "always") or self.held_at is not None:
            return
        within = getattr(self.spec, "within", None)
        r = self.result(now, "pending")
        if when == "always" and r["status"] == "fail":
            self.failed_at = (now, r["observed"])
        elif when == "eventually" and r["status"] == "pass" and (within is None or now <= within):
            self.held_at = (now, r["observed"])

    def result(self, now: int, drain: str) -> dict[str, Any]:
        """The verdict on what was seen so far."""
        raise NotImplementedError

    def final(self, now: int, drain: str) -> dict[str, Any]:
        """The verdict at the end of the run, with `when` and `within` honoured."""
        r = self.result(now, drain)
        when = getattr(self.spec, "when", "end")
        within = getattr(self.spec, "within", None)
        if within is not None and when != "eventually" and not self.WITHIN_AT_END:
            return {**r, "status": "unknown",
                    "observed": f"`within` applies to `when: eventually`; it was not honoured here "
                                f"({r['observed']})"}
        if when == "always":
            if self.failed_at is not None:
                t, seen = self.failed_at
                return {**r, "status": "fail", "expected": f"{r['expected']}, at every sample",
                        "observed": f"false at {format_duration(t)}: {seen}"}
            return {**r, "expected": f"{r['expected']}, at every sample"}
        if when == "eventually":
            limit = f" within {format_duration(within)}" if within is not None else ""
            expected = f"{r['expected']}, eventually{limit}"
            if self.held_at is not None:
                t, seen = self.held_at
                return {**r, "status": "pass", "expected": expected, "observed": f"held at {format_duration(t)}: {seen}"}
            if r["status"] == "pass" and (within is None or now <= within):
                return {**r, "expected": expected}
            if r["status"] == "pass":
                return {**r, "status": "fail", "expected": expected,
                        "observed": f"held only after {format_duration(within)}: {r['observed']}"}
            return {**r, "expected": expected}
        return r

    def out(self, status: str, expected: str, observed: str, evidence: list[str] | None = None) -> dict[str, Any]:
        """A result dict carrying this checker's name, kind, because and when."""
        check = getattr(self.spec, "check", None) or "that"
        return _result(self.name, check, status, expected, observed, evidence, self.spec.because,
                       self.spec.when)


class NoLoss(Checker):
    """Every message that entered ends with a fate: handled, dead-lettered, expired or dropped by policy.

    An ack is not a fate by itself, and a count of copies is not a count of messages: each copy
    of a message (one per channel, topic subscription and publish) is followed through the trace
    by `FateLedger` (evtool.trace.fates) to the event that ends its life. How each trace kind
    counts (docs/scenario-language.md, "Trace events"):

    ========================== =====================================================================
    kind                       what it does to a message's life in the checked channel
    ========================== =====================================================================
    published                  enters a queue or log (a topic's copies enter as `enqueued`); a
                               republished copy continues the message its hand-off ack left pending
    routed                     enters the queue a router forwarded it to
    enqueued                   enters a topic subscription, a dead-letter channel or (redrive) its
                               channel again; `reason: delay_elapsed` (and `routed`, which a
                               log reports after `routed`) is no new arrival
    publish_rejected           never entered (the producer was told); a refused republished copy
                               is LOST
    duplicate_dropped          a re-send that never entered (its first copy carries the fate); a
                               republished copy swallowed by the window is LOST unless a copy of
                               the message was handled
    unroutable                 LOST: no binding or subscription took it
    acked                      handled, when the ack follows `handled` (or precedes it, with
                               ack: auto), or comes from a pattern's inbox; not a fate when it
                               hands the message to a republished copy (`retry_scheduled` with
                               mode republish, same instant, same consumer); an ack on delivery
                               whose handler never finished is LOST
    handled                    with its ack: handled (`duplicate: true` too: an earlier copy was)
    dead_lettered, parked      dead-lettered (LOST with count_dead_letters_as_handled: false);
                               after `expired` at the same instant, the same copy
    expired                    expired by the channel's declared `ttl` (LOST with no ttl declared)
    dropped                    `retries_exhausted` (on_exhausted: drop, declared) and
                               `max_deliveries` on a channel that declares `max_deliveries` are
                               fates; every other reason (overflow, even a declared drop_head;
                               fault; broker_restart; subscription_deleted; dead_letter_cycle;
                               rejected with no dead-letter channel) is LOST
    max_deliveries_reached     LOST: the broker keeps it (JetStream: in the stream, with an
                               advisory) where no consumer of the group sees it again
    rejected                   on a queue, the next event (dead_lettered or dropped) decides; on a
                               log the record is skipped: LOST unless dead_lettered follows
    redriven                   leaves a dead-letter channel (judged again in its own channel)
    retry_scheduled            marks a republish hand-off (see acked); no fate
    delivered, redelivered,    no fate: the message is still in the broker's or the consumer's
    failed, nacked, returned,  hands
    lease_expired, delayed,
    claimed, committed,
    effect_applied,
    batch_handled
    emitted, outbox_relayed,   a new message, which enters by its own `published`
    request_sent
    dual_write_lost            a message that never entered a channel (the outbox expectations
                               judge it); dual_write_ghost, outbox_written likewise
    reply_received,            outcomes of a request (request_outcomes judges them), not of a
    request_timed_out,         message in a channel
    reply_orphaned,
    request_fell_back
    broker_restarted           its losses arrive as `dropped` (reason broker_restart)
    drain_timed_out            what is still pending stays without a fate: unknown
    instance_*, channel_closed no fate: unacked deliveries come back as `returned` (an ack: auto
                               delivery whose handler is lost shows as an ack never handled)
    rebalanced, partition_*,   not about one message's fate
    fault_*, user_intervention,
    saga_*, event_appended,
    concurrency_conflict,
    aggregate_loaded,
    snapshot_taken, upcast,
    projection_*, stale_read,
    lesson_step, alert_raised,
    load_ended, drain_ended,
    run_ended
    ========================== =====================================================================

    A copy with no fate when the drain completed makes the result unknown (the check cannot see
    what happened); one with no fate when the drain did not finish, too. Any loss fails.
    """

    def __init__(self, spec: m.NoLossCheck, name: str, scenario: m.Scenario) -> None:
        super().__init__(spec, name)
        if spec.channel is not None:
            channels = {spec.channel}
        else:
            channels = {n for n, c in scenario.channels.items()
                        if not isinstance(c, m.RouterChannel) and getattr(c, "role", "normal") == "normal"}
        self.channels = channels
        self.ledger = FateLedger(scenario, channels, group=spec.group,
                                 count_dead_letters_as_handled=spec.count_dead_letters_as_handled)

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        self.ledger.consume(batch)

    def result(self, now: int, drain: str) -> dict[str, Any]:
        where = ", ".join(sorted(self.channels))
        if self.spec.group is not None:
            where += f" (group {self.spec.group})"
        expected = (f"every message that entered {where} is handled, dead-lettered, expired by its TTL or "
                    "dropped by a declared policy")
        led = self.ledger
        final = drain == "complete"
        lost = led.lost(final=final)
        pending = [mid for mid in led.pending(final=final) if mid not in lost]
        if not led.entered and not lost:
            return self.out("unknown", expected, "no message entered the channel")
        if lost:
            reasons: dict[str, int] = {}
            for rs in lost.values():
                for r in dict.fromkeys(rs):
                    reasons[r] = reasons.get(r, 0) + 1
            why = "; ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
            more = f"; {len(pending)} more without a fate yet" if pending else ""
            return self.out("fail", expected, f"{len(lost)} of {led.entered} message(s) lost: {why}{more}",
                            sorted(lost) + pending)
        if pending:
            if final:
                return self.out("unknown", expected,
                                f"{len(pending)} message(s) have no fate in the trace although the drain "
                                f"completed", pending)
            return self.out("unknown", expected,
                            f"the drain did not finish: {len(pending)} message(s) still pending", pending)
        fates = led.fates
        dead = fates[DEAD] + fates[PARKED]
        parts = [f"{dead} dead-lettered"]
        for label in (EXPIRED, DROPPED_ON_EXHAUSTED, DROPPED_AT_LIMIT, DUPLICATE_OF_HANDLED):
            if fates[label]:
                parts.append(f"{fates[label]} {label}")
        if led.rejected:
            parts.append(f"{led.rejected} refused at publish")
        return self.out("pass", expected, f"all {led.entered} accounted for ({', '.join(parts)})")


class DeadLetters(Checker):
    """What ended up in a dead-letter channel: count, tags, attempts, reason."""

    def __init__(self, spec: m.DeadLettersCheck, name: str) -> None:
        super().__init__(spec, name)
        self.deliveries: dict[str, int] = {}
        self.letters: list[tuple[str, str | None, str | None, int]] = []
        # (t, consumer) of a republish retry per message: the ack at that instant hands the message to
        # a copy with the same id, so its deliveries go on counting (it is not done).
        self.handoff: dict[str, tuple[int, str | None]] = {}
        self.acked_now: tuple[int, dict[str, int]] = (-1, {})

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        target = self.spec.channel
        deliveries = self.deliveries
        handoff = self.handoff
        for ev in batch:
            kind = ev.kind
            if kind in ("delivered", "redelivered") and ev.msg is not None and ev.channel != target:
                deliveries[ev.msg] = deliveries.get(ev.msg, 0) + 1
            elif kind == "retry_scheduled" and ev.msg is not None and ev.data is not None \
                    and ev.data.get("mode") == "republish":
                handoff[ev.msg] = (ev.t, ev.actor)
            elif kind == "acked" and ev.msg is not None and ev.channel != target:
                if handoff.pop(ev.msg, None) == (ev.t, ev.actor):
                    continue
                n = deliveries.pop(ev.msg, 0)
                # a consumer that dead-letters by itself acks first, then reports the dead letter
                if self.acked_now[0] != ev.t:
                    self.acked_now = (ev.t, {})
                self.acked_now[1][ev.msg] = n
            elif kind in ("dead_lettered", "parked") and ev.msg is not None and ev.data is not None \
                    and ev.data.get("target") == target:
                reason = ev.data.get("reason")
                n = deliveries.pop(ev.msg, 0)
                if ev.data.get("by") == "application" and self.acked_now[0] == ev.t:
                    n += self.acked_now[1].pop(ev.msg, 0)
                self.letters.append((ev.msg, ev.tag, reason, n))

    def result(self, now: int, drain: str) -> dict[str, Any]:
        s = self.spec
        parts = []
        if s.count is not None:
            parts.append(f"{s.count} dead letter(s)")
        if s.only_tags is not None:
            parts.append(f"only tagged {', '.join(s.only_tags)}")
        if s.attempts is not None:
            parts.append(f"each after {s.attempts} attempt(s)")
        if s.reason is not None:
            parts.append(f"reason {s.reason}")
        expected = f"{s.channel}: " + ("; ".join(parts) or "dead letters recorded")
        letters = self.letters
        seen = f"{len(letters)} dead letter(s)"
        if s.count is not None and len(letters) != s.count:
            return self.out("fail", expected, seen, [x[0] for x in letters])
        bad_tags = [x[0] for x in letters if s.only_tags is not None and x[1] not in s.only_tags]
        if bad_tags:
            return self.out("fail", expected, f"{seen}; {len(bad_tags)} without the expected tags", bad_tags)
        if s.attempts is not None:
            wrong = [x for x in letters if x[3] != s.attempts]
            if wrong:
                detail = ", ".join(f"{x[0]} after {x[3]}" for x in wrong[:5])
                return self.out("fail", expected, f"{seen}; attempts differ: {detail}", [x[0] for x in wrong])
        if s.reason is not None:
            wrong = [x[0] for x in letters if x[2] != s.reason]
            if wrong:
                return self.out("fail", expected, f"{seen}; other reasons", wrong)
        if s.count is None and not letters and s.attempts is not None:
            return self.out("unknown", expected, "no dead letters to judge")
        detail = ""
        if letters and s.attempts is not None:
            detail = f", each after {s.attempts} attempts"
        return self.out("pass", expected, seen + detail, [x[0] for x in letters])


class _KeyTally:
    """How often each business key was seen, with the first message of each and the repeats."""

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}
        self.first: dict[Any, str] = {}
        self.violations: list[str] = []
        self.seen = 0
        self.keys_twice = 0

    def add(self, key: Any, msg: str | None) -> None:
        self.seen += 1
        n = self.counts.get(key, 0) + 1
        self.counts[key] = n
        if n == 1:
            self.first[key] = msg or ""
        elif n == 2:
            self.keys_twice += 1
            self.violations.extend([self.first.get(key, ""), msg or ""])


class EffectivelyOnce(Checker):
    """Side effects applied once per business key.

    Judged from what was applied, not from what succeeded: when the trace has `effect_applied`
    events of the consumer (one per handling attempt that applied effects, with `bkeys` like
    `handled`; also for an attempt that failed after applying some of them), those are counted.
    A trace without them only shows successful handlings (`handled`), which is all a consumer
    without effects does; effects applied by an attempt that then failed are invisible there.
    """

    def __init__(self, spec: m.EffectivelyOnceCheck, name: str, engine: Engine) -> None:
        super().__init__(spec, name)
        consumer = engine.consumers[spec.consumer]
        self.index = len(consumer.business_keys)
        consumer.business_keys.append(compile_expression(spec.by))
        self.handlings = _KeyTally()
        self.applications = _KeyTally()

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        name = self.spec.consumer
        for ev in batch:
            kind = ev.kind
            if (kind != "handled" and kind != "effect_applied") or ev.actor != name or ev.data is None:
                continue
            keys = ev.data.get("bkeys")
            if keys is None or ev.data.get("duplicate") or len(keys) <= self.index:
                continue
            (self.handlings if kind == "handled" else self.applications).add(keys[self.index], ev.msg)

    def result(self, now: int, drain: str) -> dict[str, Any]:
        expected = f"{self.spec.consumer} applies its effects once per {self.spec.by}"
        applied = self.applications.seen > 0
        tally = self.applications if applied else self.handlings
        what = "applications of effects" if applied else "successful handlings"
        if not tally.seen:
            return self.out("unknown", expected, "no message was handled")
        if tally.keys_twice:
            return self.out("fail", expected,
                            f"{tally.keys_twice} key(s) had effects applied more than once "
                            f"({tally.seen} {what})", tally.violations)
        return self.out("pass", expected, f"{tally.seen} {what}, {len(tally.counts)} keys, each once")


class NoDuplicates(Checker):
    """No message handled twice."""

    def __init__(self, spec: m.NoDuplicatesCheck, name: str) -> None:
        super().__init__(spec, name)
        self.seen: set[str] = set()
        self.dups: list[str] = []

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        for ev in batch:
            if ev.kind == "handled" and ev.actor == self.spec.consumer and ev.msg is not None:
                if ev.data is not None and ev.data.get("duplicate"):
                    continue
                if ev.msg in self.seen:
                    self.dups.append(ev.msg)
                else:
                    self.seen.add(ev.msg)

    def result(self, now: int, drain: str) -> dict[str, Any]:
        expected = f"{self.spec.consumer} handles each message once"
        if not self.seen:
            return self.out("unknown", expected, "no message was handled")
        if self.dups:
            return self.out("fail", expected, f"{len(self.dups)} message(s) handled more than once", self.dups)
        return self.out("pass", expected, f"{len(self.seen)} messages, each handled once")


class PerKeyOrder(Checker):
    """Per key, each new sequence number is processed right after the previous one."""

    def __init__(self, spec: m.PerKeyOrderCheck, name: str, engine: Engine) -> None:
        super().__init__(spec, name)
        self.custom = not (spec.key == "msg.key" and spec.seq == "msg.seq")
        if self.custom:
            engine.consumers[spec.consumer].order_keys = (compile_expression(spec.key),
                                                          compile_expression(spec.seq))
        self.last: dict[Any, int] = {}
        self.violations: list[str] = []
        self.details: list[str] = []
        self.count = 0
        self.replays = 0

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        name = self.spec.consumer
        last = self.last
        for ev in batch:
            if ev.kind != "handled" or ev.actor != name or ev.data is None or ev.data.get("duplicate"):
                continue
            if self.custom:
                key, seq = ev.data.get("okey"), ev.data.get("oseq")
            else:
                key, seq = ev.key, ev.data.get("seq")
            if seq is None:
                continue
            try:
                seq = int(seq)
            except (TypeError, ValueError):
                continue
            self.count += 1
            prev = last.get(key)
            if prev is None:
                last[key] = seq
                continue
            if seq == prev + 1:
                last[key] = seq
            elif seq <= prev:
                self.replays += 1
                if not self.spec.allow_redelivery:
                    self.violations.append(ev.msg or "")
                    self.details.append(f"{key}: seq {seq} after {prev}")
            else:
                self.violations.append(ev.msg or "")
                self.details.append(f"{key}: seq {seq} processed while {prev + 1} was not yet")
                last[key] = seq

    def result(self, now: int, drain: str) -> dict[str, Any]:
        expected = f"{self.spec.consumer} processes each key's messages in sequence order"
        if not self.count:
            return self.out("unknown", expected, "no sequenced message was handled")
        if self.violations:
            return self.out("fail", expected,
                            f"{len(self.violations)} order violation(s), e.g. {'; '.join(self.details[:3])}",
                            self.violations)
        extra = f", {self.replays} replays" if self.replays else ""
        return self.out("pass", expected, f"{self.count} handled over {len(self.last)} keys in order{extra}")


class Latency(Checker):
    """A latency percentile stays under a bound."""

    def __init__(self, spec: m.LatencyCheck, name: str) -> None:
        super().__init__(spec, name)
        self.hist = Histogram()

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        for ev in batch:
            if ev.kind == "handled" and ev.data is not None and not ev.data.get("duplicate"):
                if self.spec.consumer is None or ev.actor == self.spec.consumer:
                    lat = ev.data.get("latency")
                    if lat is not None:
                        self.hist.add(lat)

    def result(self, now: int, drain: str) -> dict[str, Any]:
        s = self.spec
        expected = f"p{s.percentile:g} latency below {format_duration(s.below)}"
        value = self.hist.percentile(s.percentile)
        if value is None:
            return self.out("unknown", expected, "no message was handled")
        observed = f"p{s.percentile:g} = {format_duration(int(value))} over {self.hist.count} messages"
        return self.out("pass" if value < s.below else "fail", expected, observed)


class ExclusiveOwnership(Checker):
    """No partition is owned by two live members at once."""

    def __init__(self, spec: m.PatternCheck, name: str) -> None:
        super().__init__(spec, name)
        self.owner: dict[tuple[Any, Any], Any] = {}
        self.assignments = 0
        self.violations: list[str] = []

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        for ev in batch:
            if ev.kind not in ("partition_assigned", "partition_revoked") or ev.data is None:
                continue
            group = ev.data.get("group")
            if self.spec.group is not None and group != self.spec.group:
                continue
            key = (group, ev.data.get("partition"))
            member = (ev.actor, ev.instance)
            if ev.kind == "partition_assigned":
                self.assignments += 1
                cur = self.owner.get(key)
                if cur is not None and cur != member:
                    self.violations.append(f"partition {key[1]} given to {member[0]}#{member[1]} while "
                                           f"{cur[0]}#{cur[1]} owned it")
                self.owner[key] = member
            elif self.owner.get(key) == member:
                del self.owner[key]

    def result(self, now: int, drain: str) -> dict[str, Any]:
        expected = "no partition is owned by two members at once"
        if not self.assignments:
            return self.out("unknown", expected, "no partition was assigned")
        if self.violations:
            return self.out("fail", expected, "; ".join(self.violations[:3]))
        return self.out("pass", expected, f"{self.assignments} assignments, never shared")


class PatternEvents(Checker):
    """Checks of patterns, judged from their trace events (request-response, sagas, projections)."""

    STARTS = {"request_outcomes": "request_sent", "saga_terminates": "saga_started",
              "saga_compensation": "saga_compensating", "projection_consistent": "projection_updated",
              "correlation": "reply_received"}

    def __init__(self, spec: m.PatternCheck, name: str, engine: Engine | None = None) -> None:
        super().__init__(spec, name)
        self.WITHIN_AT_END = spec.check == "saga_terminates"
        self.engine = engine
        self.started: dict[str, int] = {}
        self.ended: dict[str, str] = {}
        self.bad: list[str] = []
        self.count = 0
        self.last_lag: int | None = None

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        check = self.spec.check
        pattern = self.spec.pattern
        for ev in batch:
            if pattern is not None and ev.actor != pattern:
                continue
            kind = ev.kind
            data = ev.data or {}
            if check == "request_outcomes":
                rid = str(data.get("request_id", ev.msg))
                if kind == "request_sent" and data.get("attempt", 1) == 1:
                    self.count += 1
                    self.started[rid] = ev.t
                elif kind in ("reply_received", "request_fell_back"):  # an error outcome is a fell_back
                    if rid in self.ended:
                        self.bad.append(rid)
                    self.ended[rid] = kind
            elif check == "correlation":
                if kind == "reply_received":
                    self.count += 1
                    if data.get("mismatch"):
                        self.bad.append(ev.msg or "")
            elif check == "saga_terminates":
                sid = ev.msg or ""
                if kind == "saga_started":
                    self.count += 1
                    self.started[sid] = ev.t
                elif kind in ("saga_completed", "saga_compensated", "saga_stuck"):
                    within = self.spec.within
                    if within is not None and sid in self.started and ev.t - self.started[sid] > within:
                        self.bad.append(sid)
                    self.ended[sid] = kind
            elif check == "saga_compensation":
                if kind == "saga_compensated":
                    self.count += 1
                    if data.get("order_ok") is False or data.get("repeated"):
                        self.bad.append(ev.msg or "")
            elif check == "projection_consistent":
                if kind == "projection_updated":
                    self.count += 1
                    self.last_lag = data.get("lag")

    def result(self, now: int, drain: str) -> dict[str, Any]:
        check = self.spec.check
        if check == "exclusive_ownership":  # handled by ExclusiveOwnership
            raise AssertionError
        expected = {
            "request_outcomes": "every request ends in exactly one outcome (reply, fallback or error)",
            "correlation": "every reply reaches the request it answers",
            "saga_terminates": "every saga ends completed, compensated or stuck"
                               + (f" within {format_duration(self.spec.within)}" if self.spec.within else ""),
            "saga_compensation": "compensations run in reverse order, only for completed or uncertain steps, once",
            "projection_consistent": "the projection catches up with its source, and its read model equals "
                                     "the aggregates' state",
        }[check]
        if not self.count:
            return self.out("unknown", expected, f"no `{self.STARTS[check]}` events were recorded")
        if check in ("request_outcomes", "saga_terminates"):
            open_ = [k for k in self.started if k not in self.ended]
            if self.bad or open_:
                return self.out("fail", expected,
                                f"{len(open_)} without an outcome, {len(self.bad)} wrong or late", open_ + self.bad)
            return self.out("pass", expected, f"{self.count} started, all ended")
        if check == "projection_consistent":
            if self.last_lag not in (0, None):
                return self.out("fail", expected, f"still {self.last_lag} event(s) behind at the end")
            differ = self._read_model_differs()
            if differ:
                return self.out("fail", expected, f"caught up, but the read model differs from the aggregates for "
                                                  f"{len(differ)} id(s)", differ)
            return self.out("pass", expected, f"{self.count} updates, caught up, read model equals the aggregates")
        if self.bad:
            return self.out("fail", expected, f"{len(self.bad)} violation(s)", self.bad)
        return self.out("pass", expected, f"{self.count} checked")


    def _read_model_differs(self) -> list[str]:
        """Aggregate ids whose read model is not the write side's state (empty when not comparable)."""
        if self.engine is None:
            return []
        for pat in self.engine.patterns:
            if self.spec.pattern is not None and getattr(pat, "name", None) != self.spec.pattern:
                continue
            model = getattr(pat, "read_model", None)
            source = getattr(pat, "source", None)
            truth = getattr(source, "aggregates", None)
            if model is None or truth is None:
                continue
            return sorted(str(k) for k in set(model) | set(truth) if model.get(k) != truth.get(k))
        return []


class AssertionChecker(Checker):
    """A metric assertion (`that:`), evaluated at the end, always, or eventually."""

    def __init__(self, spec: m.Assertion, name: str, engine: Engine) -> None:
        super().__init__(spec, name)
        self.engine = engine
        self.assertion = parse_assertion(spec.that)
        self.counters: dict[int, int] = {}
        self.hists: dict[int, Histogram] = {}
        self.aggs = self.assertion.aggregates()
        self.by_kind: dict[str, list[tuple[int, Any]]] = {}
        self.latency_sels: list[tuple[int, Any]] = []
        self.request_sels: list[tuple[int, Any]] = []
        for i, agg in enumerate(self.aggs):
            for j, sel in enumerate(agg.selectors):
                slot = i * 4 + j
                if sel.name in LATENCY_METRICS:
                    self.latency_sels.append((slot, sel))
                    self.hists[slot] = Histogram()
                elif sel.name == "request.latency":
                    self.request_sels.append((slot, sel))
                    self.hists[slot] = Histogram()
                elif sel.name in GAUGE_METRICS or sel.name.startswith("state."):
                    continue
                else:
                    self.by_kind.setdefault(sel.name, []).append((slot, sel))
                    self.counters[slot] = 0
        # The window the metrics come from, as [start, end] spans of virtual time (end None = still
        # open): `during: [from, to]`, or every span in which the named fault was active. Every
        # aggregate honours it: counted events by their time, sampled gauges by their sample time,
        # state by its value at the last sample inside the window.
        self.windowed = spec.during is not None
        self.spans: list[list[int | None]] = []
        self.fault_window: str | None = None
        if isinstance(spec.during, list):
            self.spans.append([spec.during[0], spec.during[1]])
        elif isinstance(spec.during, str):
            self.fault_window = spec.during.removeprefix("fault:")
        self.state_slots = [i for i, agg in enumerate(self.aggs) if agg.selector.name.startswith("state.")]
        self.state_seen: dict[int, float | None] | None = None
        self.violation: tuple[int, float | None, float | None] | None = None
        self.duration_valued = any(getattr(n, "unit_kind", None) == "duration" for n in _numbers(self.assertion)) \
            or any(a.selector.name in (*LATENCY_METRICS, "request.latency") and a.func != "count" for a in self.aggs)
        self.ever_true = False
        self.last_eval: tuple[bool | None, float | None, float | None] = (None, None, None)

    def in_window(self, t: int) -> bool:
        """True when virtual time `t` lies in the window (always, without one)."""
        if not self.windowed:
            return True
        for start, end in self.spans:
            if start <= t and (end is None or t <= end):  # type: ignore[operator]
                return True
        return False

    def _in_window(self, ev: TraceEvent) -> bool:
        return self.in_window(ev.t)

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        by_kind = self.by_kind
        counters = self.counters
        fw = self.fault_window
        for ev in batch:
            kind = ev.kind
            if fw is not None and ev.actor == fw:
                spans = self.spans
                if kind == "fault_started" and not (spans and spans[-1][1] is None):
                    spans.append([ev.t, None])
                elif kind == "fault_ended" and spans and spans[-1][1] is None:
                    spans[-1][1] = ev.t
            sels = by_kind.get(kind)
            if sels is not None and self._in_window(ev):
                for slot, sel in sels:
                    if sel.matches(ev):
                        counters[slot] += 1
            if kind == "handled" and self.latency_sels and ev.data is not None and not ev.data.get("duplicate") \
                    and self._in_window(ev):
                labels = {"consumer": ev.actor, "channel": ev.channel, "tag": ev.tag, "key": ev.key,
                          "instance": ev.instance}
                for slot, sel in self.latency_sels:
                    if sel.matches_labels(labels):
                        v = ev.data.get("latency" if sel.name == "latency.e2e" else "processing")
                        if v is not None:
                            self.hists[slot].add(v)
            elif kind == "reply_received" and self.request_sels and ev.data is not None and self._in_window(ev):
                labels = {"pattern": ev.actor, "consumer": ev.actor, "channel": ev.channel}
                for slot, sel in self.request_sels:
                    if sel.matches_labels(labels) and "latency" in ev.data:
                        self.hists[slot].add(ev.data["latency"])

    def _state_values(self, sel: Any) -> list[Any] | Any:
        parts = sel.name.split(".")[1:]
        if not parts:
            return None
        owner = self.engine.consumers.get(parts[0])
        node: Any = owner.state if owner is not None else None
        if node is None:
            for pat in self.engine.patterns:
                if getattr(pat, "name", None) == parts[0]:
                    node = getattr(pat, "state", None)
        for p in parts[1:]:
            if isinstance(node, dict):
                node = node.get(p)
            else:
                return None
        return node

    def resolve(self, agg: Aggregate) -> float | None:
        """The current value of one aggregate (None = no data)."""
        i = self.aggs.index(agg)
        if agg.selector.name.startswith("state.") and self.windowed:
            # state has no history: its value at the last sample taken inside the window
            return None if self.state_seen is None else self.state_seen.get(i)
        return self._resolve_now(agg, i)

    def _resolve_now(self, agg: Aggregate, i: int) -> float | None:
        func = agg.func
        sel = agg.selector
        slot = i * 4
        name = sel.name
        if name.startswith("state."):
            value = self._state_values(sel)
            if value is None:
                return None
            if func == "len":
                return float(len(value)) if hasattr(value, "__len__") else None
            items = list(value.values()) if isinstance(value, dict) else (value if isinstance(value, list)
                                                                            else [value])
            nums = [float(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
            if func == "sum":
                return float(sum(nums))
            if not nums:
                return None
            return {"max": max, "min": min, "last": lambda xs: xs[-1],
                    "avg": lambda xs: sum(xs) / len(xs)}.get(func, lambda xs: None)(nums)
        if name in GAUGE_METRICS:
            labels = {f.label: f.value for f in sel.filters if f.op == "="}
            values = self.engine.metrics.gauge(name, labels, self.in_window if self.windowed else None)
            if not values:
                return None
            if func == "max":
                return max(values)
            if func == "min":
                return min(values)
            if func == "avg":
                return sum(values) / len(values)
            if func == "last":
                return values[-1]
            if func == "p":
                h = Histogram()
                for v in values:
                    h.add(v)
                return h.percentile(agg.q or 50)
            return None
        if slot in self.hists:
            h = self.hists[slot]
            if func == "count":
                return float(h.count)
            if h.count == 0:
                return None
            if func == "p":
                return h.percentile(agg.q or 50)
            return {"max": h.max, "min": h.min, "avg": h.mean(), "last": h.last, "sum": h.total}.get(func)
        if func == "count":
            return float(self.counters.get(slot, 0))
        if func == "per_sec":
            span = self._span()
            return self.counters.get(slot, 0) / span if span else None
        if func == "ratio":
            a = self.counters.get(slot, 0)
            b = self.counters.get(slot + 1, 0)
            return a / b if b else None
        return None

    def _span(self) -> float:
        """Seconds of the window elapsed so far (of the run, without one)."""
        now = self.engine.now
        if not self.windowed:
            return now / 1e9
        total = 0
        for start, end in self.spans:
            stop = now if end is None else min(now, end)  # type: ignore[type-var]
            total += max(0, stop - start)  # type: ignore[operator]
        return total / 1e9

    def _see_state(self, now: int) -> None:
        """Remember the state aggregates at a sample inside the window."""
        if self.state_slots and self.windowed and self.in_window(now):
            self.state_seen = {i: self._resolve_now(self.aggs[i], i) for i in self.state_slots}

    def _fmt(self, v: float | None) -> str:
        if v is not None and self.duration_valued:
            return format_duration(int(v))
        return _num(v)

    def _shown(self, left: float | None, right: float | None) -> str:
        """What was observed, as a sentence with units: `p99 924 ms, limit 5 s`, `count 112, must be > 0`."""
        cmp = self.assertion.compare
        lname = _side_name(cmp.left)
        lv, rv = self._fmt(left), self._fmt(right)
        if isinstance(cmp.right, Number):
            bound = {"<": "limit", "<=": "limit", ">": "must be >", ">=": "must be ≥", "==": "expected",
                     "!=": "must differ from"}.get(cmp.op, cmp.op)
            return f"{lname} {lv}, {bound} {rv}"
        return f"{lname} {lv}, {_side_name(cmp.right)} {rv} (needs {cmp.op})"

    def evaluate(self) -> tuple[bool | None, float | None, float | None]:
        """Evaluate the assertion now."""
        self.last_eval = self.assertion.evaluate(self.resolve)
        return self.last_eval

    def final(self, now: int, drain: str) -> dict[str, Any]:
        """An assertion applies `when` and `within` itself (in `tick` and `result`)."""
        return self.result(now, drain)

    def tick(self, now: int) -> None:
        self._see_state(now)
        when = self.spec.when
        if when == "end":
            return
        if not self.in_window(now):
            return  # a sample outside the window is not judged
        passed, left, right = self.evaluate()
        if when == "always" and passed is False and self.violation is None:
            self.violation = (now, left, right)
        if when == "eventually" and passed and (self.spec.within is None or now <= self.spec.within):
            self.ever_true = True

    def result(self, now: int, drain: str) -> dict[str, Any]:
        text = self.spec.that
        self._see_state(now)
        passed, left, right = self.evaluate()
        shown = self._shown(left, right)
        when = self.spec.when
        if when == "always":
            if self.violation is not None:
                t, lv, rv = self.violation
                return self.out("fail", f"{text} at every sample",
                                f"false at {format_duration(t)}: {self._shown(lv, rv)}")
            if passed is None:
                return self.out("fail" if not self.spec.allow_unknown else "unknown", f"{text} at every sample",
                                "no data to judge" if not self.spec.allow_unknown else "no data")
            return self.out("pass", f"{text} at every sample", f"held throughout; at the end {shown}")
        if self.spec.within is not None and when != "eventually":
            return self.out("unknown", text, f"`within` applies to `when: eventually`; it was not honoured "
                                             f"here ({shown})")
        if when == "eventually":
            within = self.spec.within
            if self.ever_true or (passed and (within is None or now <= within)):
                return self.out("pass", f"{text} eventually", f"held; at the end {shown}")
            if passed and within is not None:
                return self.out("fail", f"{text} eventually within {format_duration(within)}",
                                f"held only after {format_duration(within)}; at the end {shown}")
            if passed is None:
                return self.out("unknown", f"{text} eventually", "no data to judge")
            return self.out("fail", f"{text} eventually", f"never held; at the end {shown}")
        if passed is None:
            return self.out("unknown", text, f"no data to judge ({shown})")
        return self.out("pass" if passed else "fail", text, shown)


def _side_name(node: Any) -> str:
    """How a side of an assertion reads in a sentence: `p99`, `count`, `max`, or `value` for arithmetic."""
    if isinstance(node, Aggregate):
        return f"p{node.q:g}" if node.func == "p" and node.q is not None else node.func
    return "value"


def _numbers(assertion: Any) -> list[Any]:
    out = []
    stack = [assertion.compare.left, assertion.compare.right]
    while stack:
        n = stack.pop()
        if hasattr(n, "unit_kind"):
            out.append(n)
        for attr in ("left", "right", "operand"):
            if hasattr(n, attr):
                stack.append(getattr(n, attr))
    return out


def _num(v: float | None) -> str:
    if v is None:
        return "no data"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.6g}"


class CheckSuite:
    """Every expectation of a scenario as checkers over one run's trace."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.checkers: list[Checker] = []
        self.abort_reason: str | None = None
        for i, spec in enumerate(engine.scenario.expect):
            name = spec.name or f"expect[{i}]"
            self.checkers.append(self._make(spec, name, engine))
        # Monitoring alerts are assertions watched at every sample; they raise events, not verdicts.
        self.alerts: list[tuple[Any, AssertionChecker]] = [
            (a, AssertionChecker(m.Assertion(that=a.that, name=a.name), a.name, engine))
            for a in engine.scenario.alerts
        ]
        self.alert_active: dict[str, bool] = {}

    @staticmethod
    def _make(spec: Any, name: str, engine: Engine) -> Checker:
        if isinstance(spec, m.NoLossCheck):
            return NoLoss(spec, name, engine.scenario)
        if isinstance(spec, m.DeadLettersCheck):
            return DeadLetters(spec, name)
        if isinstance(spec, m.EffectivelyOnceCheck):
            return EffectivelyOnce(spec, name, engine)
        if isinstance(spec, m.NoDuplicatesCheck):
            return NoDuplicates(spec, name)
        if isinstance(spec, m.PerKeyOrderCheck):
            return PerKeyOrder(spec, name, engine)
        if isinstance(spec, m.LatencyCheck):
            return Latency(spec, name)
        if isinstance(spec, m.PatternCheck):
            if spec.check == "exclusive_ownership":
                return ExclusiveOwnership(spec, name)
            return PatternEvents(spec, name, engine)
        if isinstance(spec, m.Assertion):
            return AssertionChecker(spec, name, engine)
        raise TypeError(f"unknown expectation {spec!r}")

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        """Fold a batch into every checker (and every alert)."""
        for c in self.checkers:
            c.consume(batch)
        for _, a in self.alerts:
            a.consume(batch)

    def tick_alerts(self, now: int) -> list[TraceEvent]:
        """`alert_raised` for each alert whose condition became true since the last sample."""
        raised = []
        for spec, checker in self.alerts:
            passed, left, right = checker.evaluate()
            was = self.alert_active.get(spec.name, False)
            if passed and not was:
                raised.append(TraceEvent(now, "alert_raised", None, None, spec.name, data={
                    "alert": spec.name, "that": spec.that, "value": left, "threshold": right}))
            self.alert_active[spec.name] = bool(passed)
        return raised

    def tick(self, now: int) -> None:
        """Evaluate the `always` and `eventually` checks at a sample."""
        for c in self.checkers:
            c.tick(now)
            if isinstance(c, AssertionChecker) and c.spec.abort and c.violation is not None and not self.abort_reason:
                self.abort_reason = c.name

    def live(self, now: int) -> list[dict[str, Any]]:
        """Provisional results while the run goes on (for the live view and dashboard).

        A check judged at the end is `pending` until then (with what it has seen so far); an
        `always` check fails as soon as it is violated; an `eventually` check passes once it held.
        """
        out = []
        for c in self.checkers:
            try:
                r = c.result(now, "pending")
                when = getattr(c.spec, "when", "end")
                if when == "end" or (when == "eventually" and r["status"] != "pass") or (
                        when == "always" and r["status"] == "unknown"):
                    r = {**r, "status": "pending"}
                out.append(r)
            except Exception as exc:  # noqa: BLE001 - a live preview must never stop the run
                out.append(_result(c.name, "?", "unknown", "", f"not yet: {exc}"))
        return out

    def finish(self, now: int, drain: str) -> list[dict[str, Any]]:
        """The final verdicts."""
        return [c.final(now, drain) for c in self.checkers]
