"""Checks of how a consumer handled messages: once per business key, once per message, in order per
key, fast enough."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.scenario.units import format_duration
from evtool.trace import measure
from evtool.trace.checks.base import Checker
from evtool.trace.histogram import Histogram


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


def _same(a: str | None, b: str | None) -> bool:
    """Two expressions written the same (up to surrounding blanks)."""
    return a is not None and b is not None and a.strip() == b.strip()


def business_key_of(scenario: m.Scenario | None, consumer: str, by: str | None) -> tuple[str, str | None]:
    """Which fact of `handled` answers `effectively_once.by`: `("id", "msg.id")`, `("bkey", expr)` (the
    consumer declares `business_key: expr` and records it as `bkey`), or `("missing", by)`.

    The trace carries what the scenario declares on the consumer, whatever checks exist; a check only
    reads it. `by` left out means the consumer's business key, or the message id.
    """
    spec = scenario.consumers.get(consumer) if scenario is not None else None
    declared = getattr(spec, "business_key", None)
    if by is None:
        return ("bkey", declared) if declared is not None else ("id", "msg.id")
    if _same(by, "msg.id"):
        return "id", "msg.id"
    if _same(by, declared):
        return "bkey", declared
    return "missing", by


def ordering_of(scenario: m.Scenario | None, consumer: str, key: str | None,
                seq: str | None) -> tuple[str, str, str]:
    """Which facts of `handled` answer `per_key_order.key` and `.seq`: `"message"` (the event's key and
    `seq`: msg.key and msg.seq), `"declared"` (the consumer declares `ordering: {key, seq}` and records
    them as `okey` and `oseq`), or `"missing"`; with the two expressions judged."""
    spec = scenario.consumers.get(consumer) if scenario is not None else None
    declared = getattr(spec, "ordering", None)
    if key is None and seq is None and declared is not None:
        return "declared", declared.key, declared.seq
    key = "msg.key" if key is None else key
    seq = "msg.seq" if seq is None else seq
    if _same(key, "msg.key") and _same(seq, "msg.seq"):
        return "message", "msg.key", "msg.seq"
    if declared is not None and _same(key, declared.key) and _same(seq, declared.seq):
        return "declared", declared.key, declared.seq
    return "missing", key, seq


class EffectivelyOnce(Checker):
    """Side effects applied once per business key.

    Judged from what was applied, not only from what succeeded: every successful handling
    (`handled`, not a duplicate the idempotency store skipped) applied the consumer's effects,
    and so did every attempt that failed after applying some of them (`effect_applied`, which
    the consumer reports just before its `failed`). The key is the message id, or the business
    key the consumer declares (`business_key:`, recorded in both events as `bkey`): the trace
    carries it because the scenario declares it, not because this check exists.
    """

    def __init__(self, spec: m.EffectivelyOnceCheck, name: str, scenario: m.Scenario | None = None) -> None:
        super().__init__(spec, name)
        self.source, self.by = business_key_of(scenario, spec.consumer, spec.by)
        self.handlings = 0
        self.partial = 0
        self.applications = _KeyTally()

    def consume(self, batch: Sequence[TraceEvent]) -> None:
        name = self.spec.consumer
        by_id = self.source == "id"
        tally = self.applications
        for ev in batch:
            kind = ev.kind
            if (kind != "handled" and kind != "effect_applied") or ev.actor != name:
                continue
            data = ev.data
            if data is not None and data.get("duplicate"):
                continue
            if kind == "handled":
                self.handlings += 1
            else:
                self.partial += 1
            if by_id:
                tally.add(ev.msg, ev.msg)
            elif data is not None and "bkey" in data:
                tally.add(data["bkey"], ev.msg)

    def result(self, now: int, drain: str) -> dict[str, Any]:
        expected = f"{self.spec.consumer} applies its effects once per {self.by}"
        if self.source == "missing":
            return self.out("unknown", expected,
                            f"the trace does not carry `{self.by}`: declare `business_key: {self.by}` on consumer "
                            f"{self.spec.consumer}")
        tally = self.applications
        if not tally.seen:
            return self.out("unknown", expected, "no message was handled")
        what = f"{self.handlings} successful handling(s)"
        if self.partial:
            what += f" and {self.partial} failed attempt(s) that applied effects"
        if tally.keys_twice:
            return self.out("fail", expected,
                            f"{tally.keys_twice} key(s) had effects applied more than once ({what})",
                            tally.violations)
        return self.out("pass", expected, f"{what}, {len(tally.counts)} keys, each once")


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

    def __init__(self, spec: m.PerKeyOrderCheck, name: str, scenario: m.Scenario | None = None) -> None:
        super().__init__(spec, name)
        self.source, self.key, self.seq = ordering_of(scenario, spec.consumer, spec.key, spec.seq)
        self.custom = self.source == "declared"
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
        if self.source == "missing":
            return self.out("unknown", expected,
                            f"the trace does not carry `{self.key}` and `{self.seq}`: declare `ordering: "
                            f"{{key: {self.key}, seq: {self.seq}}}` on consumer {self.spec.consumer}")
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
        shown, limit = measure.pair(value, s.below, durations=True)
        observed = f"p{s.percentile:g} {shown}, limit {limit}, over {self.hist.count} messages"
        return self.out("pass" if value < s.below else "fail", expected, observed)
