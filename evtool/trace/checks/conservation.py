"""Conservation checks: every message that entered ends with a fate (`no_loss`), and what reached a
dead-letter channel (`dead_letters`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.trace.checks.base import Checker
from evtool.trace.fates import (
    DEAD,
    DROPPED_AT_LIMIT,
    DROPPED_ON_EXHAUSTED,
    DUPLICATE_OF_HANDLED,
    EXPIRED,
    PARKED,
    FateLedger,
)


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
