"""Cross-reference checks: every name one part of a scenario uses for another.

Runs after the models validate. A consumer that reads a channel that does
not exist names the channels that do; a selector with an unknown event kind
suggests the closest kind; an expression that does not parse points at the
column inside the expression. Also a few lints (warnings) for settings that
are legal but almost always a mistake.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from evtool.scenario import models as m
from evtool.scenario.errors import Problem, did_you_mean, known_list
from evtool.scenario.vocabulary import KINDS
from evtool.scenario.yamlsource import Locations, Path_, dotted

EXPRESSION_NAMES = frozenset({"msg", "state", "key", "attempt", "now", "params", "tag"})
STATE_PATH_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(.*)\])?\s*$")
"""An effect's target: a state field, optionally indexed (`stock[msg.payload.sku]`)."""
TOPIC_REPLAY_PROFILES = ("nats-jetstream", "redis-streams")
"""Profiles whose topics are streams a new subscription can read from the start (decision 2)."""
TARGET_KINDS = ("consumer", "channel", "producer", "pattern", "broker")
AMQP_SHORTSTR_MAX = 255
"""Routing and binding keys are AMQP 0-9-1 short strings: at most 255 bytes (UTF-8). A longer key is
refused by the client (aio-pika: "Routing key too long (max 255 bytes)"), never truncated, so a
scenario with one is rejected before it runs."""
_TEMPLATE_SEGMENT = re.compile(r"\{\{(.*?)\}\}", re.S)
PROFILES_SENDING_DEDUP_IDS = frozenset({"sqs-fifo"})
"""Profiles whose `producer_dedup_id` is `message_id` (this layer cannot import evtool.core; a test keeps
the two equal)."""
PROFILES_WITHOUT_EXPIRY = frozenset({"redis-streams"})
"""Profiles whose `message_expiry` is `none`: no message expires there, so a `ttl` has no effect (a test keeps
the two equal)."""


class _Checker:
    def __init__(self, sc: m.Scenario, data: dict[str, Any], loc: Locations,
                 also_known: dict[str, set[str]] | None = None) -> None:
        self.sc = sc
        self.data = data
        self.loc = loc
        self.problems: list[Problem] = []
        self.channels = set(sc.channels)
        self.consumers = set(sc.consumers)
        self.producers = set(sc.producers)
        self.patterns = set(sc.patterns)
        self.fault_names = {f.name for f in sc.faults if f.name}
        self.actors = self.consumers | self.producers | self.patterns
        for p in sc.patterns.values():
            if isinstance(p, m.RequestReplyPattern):
                self.actors |= {p.requester.name, p.responder.name}
        self.groups = {c.group or name for name, c in sc.consumers.items()}
        # Names whose definition did not validate (reported already): references to them are not errors.
        extra = also_known or {}
        self.channels |= extra.get("channels", set())
        self.consumers |= extra.get("consumers", set())
        self.producers |= extra.get("producers", set())
        self.patterns |= extra.get("patterns", set())
        self.actors |= self.consumers | self.producers | self.patterns
        self.groups |= extra.get("consumers", set())
        self.fault_names |= extra.get("faults", set())
        self.expect_names_unchecked = extra.get("expect", set())

    # -- reporting

    def add(self, path: Path_, message: str, hint: str | None = None, *, offset: int | None = None,
            severity: str = "error") -> None:
        line, col = self.loc.find(path)
        if offset is not None and path in self.loc.values:
            col += offset + (1 if path in self.loc.quoted else 0)
        self.problems.append(Problem(self.loc.file, line, col, dotted(path), message, hint,
                                     severity))  # type: ignore[arg-type]

    def ref(self, path: Path_, name: str | None, known: Iterable[str], what: str) -> None:
        if name is None:
            return
        known = set(known)
        if name not in known:
            if known:
                hint = did_you_mean(name, known) or f"the {what}s defined are: {known_list(known)}"
            else:
                hint = f"no {what} is defined in this scenario"
            self.add(path, f"no {what} named `{name}`", hint)

    # -- the checks

    def run(self) -> list[Problem]:
        self.check_channels()
        self.check_producers()
        self.check_dedup()
        self.check_ttl()
        self.check_consumers()
        self.check_patterns()
        self.check_faults()
        self.check_expect()
        self.check_lesson()
        self.check_names()
        return self.problems

    def check_channels(self) -> None:
        for name, ch in self.sc.channels.items():
            base = ("channels", name)
            if isinstance(ch, m.RouterChannel):
                for i, b in enumerate(ch.bindings):
                    self.ref((*base, "bindings", i, "to"), b.to, self.channels - {name}, "channel")
                    self.key_length((*base, "bindings", i, "pattern"), b.pattern, "binding key")
                    if ch.type == "fanout" and b.pattern:
                        self.add((*base, "bindings", i, "pattern"), "a fanout router ignores patterns",
                                 "remove `pattern`, or use `type: topic`", severity="warning")
                    if ch.type == "topic":
                        words = b.pattern.split(".") if b.pattern else []
                        for w in words:
                            if ("*" in w or "#" in w) and w not in ("*", "#"):
                                self.add((*base, "bindings", i, "pattern"),
                                         f"`{w}`: `*` and `#` must be whole words",
                                         "e.g. `orders.*.eu` or `orders.#`")
                                break
            elif isinstance(ch, m.DeliveryChannel):
                self.ref((*base, "dead_letter"), ch.dead_letter, self.channels - {name}, "channel")
                if ch.overflow == "dead_letter" and ch.dead_letter is None:
                    self.add((*base, "overflow"), "`overflow: dead_letter` needs a `dead_letter` channel",
                             "add `dead_letter: NAME` to this channel")

    def check_producers(self) -> None:
        for name, p in self.sc.producers.items():
            base = ("producers", name)
            self.ref((*base, "to"), p.to, self.channels, "channel")
            target = self.sc.channels.get(p.to)
            if isinstance(target, m.RouterChannel):
                if p.routing_key is not None:
                    # the text outside `{{ … }}` is a lower bound on every rendered key's length
                    self.key_length((*base, "routing_key"), _TEMPLATE_SEGMENT.sub("", p.routing_key),
                                    "routing key")
                else:
                    for i, inj in enumerate(p.inject):
                        self.key_length((*base, "inject", i, "key"), inj.key, "routing key")
            if isinstance(target, m.RouterChannel) and target.type != "fanout" and p.routing_key is None:
                self.add((*base, "routing_key"), f"`{p.to}` is a {target.type} router: give a `routing_key`",
                         "e.g. `routing_key: orders.created.eu`", severity="warning")
            if p.sequence == "per_key" and p.key is None:
                self.add((*base, "sequence"), "`sequence: per_key` needs a `key` distribution",
                         "e.g. `key: {dist: zipf, space: 50}`")
            if p.retry is not None:
                self.check_retry((*base, "retry"), p.retry, {"drop", "dead_letter", "error"})
            self.check_templates((*base, "payload"), p.payload)

    def key_length(self, path: Path_, key: str | None, what: str) -> None:
        """An AMQP routing or binding key longer than 255 bytes is an error (see AMQP_SHORTSTR_MAX)."""
        if key is None:
            return
        n = len(key.encode("utf-8"))
        if n > AMQP_SHORTSTR_MAX:
            self.add(path, f"this {what} is {n} bytes; AMQP allows at most {AMQP_SHORTSTR_MAX}",
                     "RabbitMQ refuses it (it is never truncated): shorten it")

    def check_consumers(self) -> None:
        for name, c in self.sc.consumers.items():
            base = ("consumers", name)
            self.ref((*base, "from"), c.from_, self.channels, "channel")
            src = self.sc.channels.get(c.from_)
            if isinstance(src, m.RouterChannel):
                self.add((*base, "from"), f"`{c.from_}` is a router; consumers read queues, topics and logs",
                         "bind a queue to the router and read that queue")
            self.ref((*base, "dead_letter"), c.dead_letter, self.channels, "channel")
            self.check_start(base, c)
            for i, rule in enumerate(c.fail_if):
                self.expr((*base, "fail_if", i, "when"), rule.when)
            if c.idempotency is not None:
                self.expr((*base, "idempotency", "key"), c.idempotency.key)
            self.expr((*base, "business_key"), c.business_key)
            if c.ordering is not None:
                self.expr((*base, "ordering", "key"), c.ordering.key)
                self.expr((*base, "ordering", "seq"), c.ordering.seq)
            self.check_handler(base, c.effects, c.emit)
            for mtype, h in c.handles.items():
                hb = (*base, "handles", mtype)
                for i, rule in enumerate(h.fail_if):
                    self.expr((*hb, "fail_if", i, "when"), rule.when)
                self.check_handler(hb, h.effects, h.emit)
            if c.retry is not None:
                self.check_retry((*base, "retry"), c.retry, {"dead_letter", "drop", "park", "requeue"})
                if c.retry.on_exhausted == "dead_letter":
                    ch = self.sc.channels.get(c.from_)
                    has_dlq = c.dead_letter or (isinstance(ch, m.DeliveryChannel) and ch.dead_letter)
                    if ch is not None and not has_dlq:
                        self.add((*base, "retry", "on_exhausted"),
                                 "`on_exhausted: dead_letter`, but neither the consumer nor its channel names a "
                                 "dead-letter channel: the message will be dropped", "add `dead_letter: NAME`",
                                 severity="warning")
            if isinstance(src, m.LogChannel) and c.ack == "auto" and c.commit.mode == "periodic":
                pass
            if not isinstance(src, m.LogChannel) and (c.dispatch != "per_partition" and "dispatch" in
                                                       self.data.get("consumers", {}).get(name, {})):
                self.add((*base, "dispatch"), "`dispatch` applies to consumers of a `log` channel",
                         severity="warning")

    def check_dedup(self) -> None:
        """Warn about a dedup window that can drop nothing: no producer of the channel sends a dedup id.

        Brokers compare only a dedup id the publisher sends (NATS Nats-Msg-Id, SQS
        MessageDeduplicationId), or SQS FIFO's content hash; a producer's default comes from the
        profile's `producer_dedup_id` (or its `broker.settings` override).
        """
        default = self.sc.broker.settings.get("producer_dedup_id") or (
            "message_id" if self.sc.broker.profile in PROFILES_SENDING_DEDUP_IDS else "none")
        for name, ch in self.sc.channels.items():
            if not isinstance(ch, m.DeliveryChannel) or not ch.dedup_window or ch.content_based_dedup:
                continue
            producers = [p for p in self.sc.producers.values() if p.to == name]
            if producers and not any((p.dedup_id or default) == "message_id" for p in producers):
                self.add(("channels", name, "dedup_window"),
                         f"no producer of `{name}` sends a dedup id, so the window drops nothing",
                         "a broker compares only the id a publisher sends (Nats-Msg-Id, "
                         "MessageDeduplicationId): give its producers `dedup_id: message_id`, or set "
                         "`content_based_dedup: true`", severity="warning")

    def check_ttl(self) -> None:
        """Warn about a `ttl` the profile makes void: a Redis stream has no message TTL (docs/profiles.md,
        `message_expiry: none`), so under `redis-streams` no message expires, as on Redis itself."""
        profile = self.sc.broker.profile
        if profile not in PROFILES_WITHOUT_EXPIRY:
            return
        why = f"under `{profile}`: a Redis stream has no message TTL"
        hint = "cap the stream with `capacity` (XADD MAXLEN), or use a profile with expiry (nats-jetstream)"
        for name, ch in self.sc.channels.items():
            if getattr(ch, "ttl", None) is not None:
                self.add(("channels", name, "ttl"), f"`ttl` of channel `{name}` has no effect {why}", hint,
                         severity="warning")
        for name, p in self.sc.producers.items():
            if p.ttl is not None:
                self.add(("producers", name, "ttl"), f"`ttl` of producer `{name}` has no effect {why}", hint,
                         severity="warning")
            for i, inj in enumerate(p.inject):
                if inj.ttl is not None:
                    self.add(("producers", name, "inject", i, "ttl"), f"`ttl` of an injected message of `{name}` "
                             f"has no effect {why}", hint, severity="warning")

    def check_start(self, base: Path_, c: m.Consumer) -> None:
        """A late consumer (`start:`) that starts when the load is over, or reads from where it cannot."""
        duration = self.sc.run.duration
        if c.start and c.start >= duration:
            self.add((*base, "start"), f"`start: {c.start / 1e9:g}s` is at or after `run.duration` "
                     f"({duration / 1e9:g}s): the consumer starts after every producer has stopped, if the "
                     "drain is still running then", f"start it before {duration / 1e9:g}s, or lengthen "
                     "run.duration", severity="warning")
        src = self.sc.channels.get(c.from_)
        if (isinstance(src, m.TopicChannel) and c.start_from == "earliest"
                and self.sc.broker.profile not in TOPIC_REPLAY_PROFILES):
            self.add((*base, "start_from"), f"a `{self.sc.broker.profile}` topic keeps no history: a new "
                     "subscription cannot start from the earliest message",
                     "use `start_from: latest` (or a `log` channel, or profile "
                     f"{' / '.join(TOPIC_REPLAY_PROFILES)}, whose topics are streams)")

    def check_handler(self, base: Path_, effects: list[m.Effect], emits: list[m.Emit]) -> None:
        self.check_effects((*base, "effects"), effects)
        for i, em in enumerate(emits):
            self.ref((*base, "emit", i, "to"), em.to, self.channels, "channel")
            self.expr((*base, "emit", i, "when"), em.when)
            self.check_templates((*base, "emit", i, "payload"), em.payload)

    def check_effects(self, base: Path_, effects: list[m.Effect]) -> None:
        for i, e in enumerate(effects):
            op = next(k for k in ("set", "inc", "dec", "add", "remove", "append") if getattr(e, k) is not None)
            target = getattr(e, op)
            match = STATE_PATH_RE.match(target)
            if not match:
                self.add((*base, i, op), f"`{target}` is not a state field",
                         "write `name` or `name[expression]`, e.g. `stock[msg.payload.sku]`")
            elif match.group(2) is not None:
                self.expr((*base, i, op), match.group(2), offset=match.start(2))
            for field in ("by", "value"):
                v = getattr(e, field)
                if isinstance(v, str):
                    self.expr((*base, i, field), v)

    def check_retry(self, path: Path_, r: m.RetryPolicy, allowed: set[str]) -> None:
        if r.on_exhausted not in allowed:
            self.add((*path, "on_exhausted"), f"`on_exhausted: {r.on_exhausted}` does not apply here",
                     f"use one of: {', '.join(sorted(allowed))}")
        if r.max_attempts == "forever":
            self.add((*path, "max_attempts"), "`max_attempts: forever` retries a poison message forever",
                     "set a limit and an `on_exhausted` fallback", severity="warning")
        if r.on_exhausted == "requeue":
            self.add((*path, "on_exhausted"), "`on_exhausted: requeue` loops a poison message forever",
                     "prefer dead_letter or park", severity="warning")
        if r.mode == "in_place" and r.backoff.type == "none" and r.max_attempts != 1:
            pass

    def check_patterns(self) -> None:
        for name, p in self.sc.patterns.items():
            base = ("patterns", name)
            if isinstance(p, m.RequestReplyPattern):
                self.ref((*base, "channel"), p.channel, self.channels, "channel")
                if p.requester.retry is not None:
                    self.check_retry((*base, "requester", "retry"), p.requester.retry, {"fallback", "error"})
                if p.responder.idempotency is not None:
                    self.expr((*base, "responder", "idempotency", "key"), p.responder.idempotency.key)
                for i, rule in enumerate(p.responder.fail_if):
                    self.expr((*base, "responder", "fail_if", i, "when"), rule.when)
            elif isinstance(p, m.SagaPattern):
                self.ref((*base, "trigger", "from"), p.trigger.from_, self.channels, "channel")
                self.ref((*base, "reply_channel"), p.reply_channel, self.channels, "channel")
                self.expr((*base, "correlation"), p.correlation)
                names: set[str] = set()
                for i, step in enumerate(p.steps):
                    self.ref((*base, "steps", i, "send", "to"), step.send.to, self.channels, "channel")
                    if step.compensate is not None:
                        self.ref((*base, "steps", i, "compensate", "to"), step.compensate.to, self.channels,
                                 "channel")
                    if step.name in names:
                        self.add((*base, "steps", i, "name"), f"two steps are named `{step.name}`")
                    names.add(step.name)
                    if step.retry is not None:
                        self.check_retry((*base, "steps", i, "retry"), step.retry,
                                         {"compensate", "dead_letter"})
            elif isinstance(p, m.EventSourcedAggregatePattern):
                self.ref((*base, "commands", "from"), p.commands.from_, self.channels, "channel")
                for event_type, effects in p.apply.items():
                    self.check_effects((*base, "apply", event_type), effects)
                for i, inv in enumerate(p.invariants):
                    self.expr((*base, "invariants", i), inv)
            elif isinstance(p, m.ProjectionPattern):
                sources = {n for n, q in self.sc.patterns.items() if isinstance(q, m.EventSourcedAggregatePattern)}
                self.ref((*base, "source"), p.source, sources, "event_sourced_aggregate pattern")
            elif isinstance(p, m.OutboxPattern):
                self.ref((*base, "service"), p.service, self.consumers, "consumer")
                self.ref((*base, "relay", "to"), p.relay.to, self.channels, "channel")

    def check_faults(self) -> None:
        names: set[str] = set()
        for i, f in enumerate(self.sc.faults):
            base = ("faults", i)
            if f.name:
                if f.name in names:
                    self.add((*base, "name"), f"two faults are named `{f.name}`")
                names.add(f.name)
            self.target((*base, "target"), f.target, f.action)
            if f.action == "redrive" and not f.target.startswith("channel:"):
                self.add((*base, "target"), "a redrive targets a dead-letter channel",
                         "e.g. `target: channel:orders.dlq`")
            elif f.action == "redrive":
                # the broker moves ready dead letters out of a queue; a topic or log holds none to move
                spec = self.sc.channels.get(f.target.partition(":")[2].partition("#")[0])
                if spec is not None and spec.kind not in ("queue", "grouped_queue"):
                    self.add((*base, "target"), f"a redrive moves dead letters out of a queue; "
                             f"`{f.target}` is a {spec.kind}", "target the dead-letter queue, e.g. "
                             "`target: channel:orders.dlq`")
            if f.action == "poison" and not f.target.startswith("channel:"):
                self.add((*base, "target"), "a poison fault targets a channel", "e.g. `target: channel:orders`")

    def target(self, path: Path_, text: str, action: str) -> None:
        if text == "broker":
            if action not in ("broker_restart",):
                self.add(path, f"`{action}` cannot target the broker", "target a consumer or a channel")
            return
        kind, sep, rest = text.partition(":")
        if not sep or kind not in TARGET_KINDS:
            self.add(path, f"`{text}` is not a target",
                     "write consumer:NAME, consumer:NAME#N, channel:NAME, producer:NAME, pattern:NAME or broker")
            return
        name, _, inst = rest.partition("#")
        known = {"consumer": self.consumers, "channel": self.channels, "producer": self.producers,
                 "pattern": self.patterns}.get(kind, set())
        if kind == "consumer":
            known = known | {p.responder.name for p in self.sc.patterns.values()
                             if isinstance(p, m.RequestReplyPattern)}
        self.ref(path, name, known, kind)
        if inst:
            if not inst.isdigit():
                self.add(path, f"`#{inst}` is not an instance number", "instances count from 0: billing#0")
            elif kind == "consumer" and name in self.sc.consumers and int(inst) >= self.sc.consumers[name].instances:
                self.add(path, f"`{name}` has {self.sc.consumers[name].instances} instance(s); #{inst} is not one",
                         "instances count from 0")
        if action in ("crash", "restart", "pause", "slow", "scale") and kind != "consumer":
            self.add(path, f"`{action}` targets a consumer", "e.g. `target: consumer:billing#0`")

    def check_expect(self) -> None:
        names: set[str] = set()
        for i, e in enumerate(self.sc.expect):
            base = ("expect", i)
            if e.name:
                if e.name in names:
                    self.add((*base, "name"), f"two expectations are named `{e.name}`")
                names.add(e.name)
            if isinstance(e, m.NoLossCheck):
                self.ref((*base, "channel"), e.channel, self.channels, "channel")
                self.ref((*base, "group"), e.group, self.groups, "consumer group")
            elif isinstance(e, m.DeadLettersCheck):
                self.ref((*base, "channel"), e.channel, self.channels, "channel")
            elif isinstance(e, m.EffectivelyOnceCheck | m.NoDuplicatesCheck):
                self.ref((*base, "consumer"), e.consumer, self.consumers, "consumer")
                if isinstance(e, m.EffectivelyOnceCheck):
                    self.expr((*base, "by"), e.by)
                    self.recorded_business_key(base, e)
            elif isinstance(e, m.PerKeyOrderCheck):
                self.ref((*base, "consumer"), e.consumer, self.consumers, "consumer")
                self.expr((*base, "key"), e.key)
                self.expr((*base, "seq"), e.seq)
                self.recorded_ordering(base, e)
            elif isinstance(e, m.LatencyCheck):
                self.ref((*base, "consumer"), e.consumer, self.consumers, "consumer")
            elif isinstance(e, m.PatternCheck):
                self.ref((*base, "pattern"), e.pattern, self.patterns, "pattern")
                self.ref((*base, "group"), e.group, self.groups, "consumer group")
            elif isinstance(e, m.Assertion):
                self.assertion((*base, "that"), e.that)
                if isinstance(e.during, str):
                    self.ref((*base, "during"), e.during.removeprefix("fault:"), self.fault_names, "fault")
        for i, a in enumerate(self.sc.alerts):
            self.assertion(("alerts", i, "that"), a.that)
        if self.sc.run.stop_when:
            self.assertion(("run", "stop_when"), self.sc.run.stop_when)

    # A check reads the trace only: the facts it judges by are those the consumer declares (and records
    # whatever checks exist), so a check never changes what it watches.

    def recorded_business_key(self, base: Path_, e: m.EffectivelyOnceCheck) -> None:
        c = self.sc.consumers.get(e.consumer)
        if c is None or e.by is None or e.by.strip() == "msg.id":
            return
        if c.business_key is None or c.business_key.strip() != e.by.strip():
            now = f"it declares `business_key: {c.business_key}`" if c.business_key else "it declares none"
            self.add((*base, "by"), f"`{e.by}` is not the business key consumer `{e.consumer}` records ({now})",
                     f"declare `business_key: {e.by}` on consumer {e.consumer} (the trace carries what the "
                     "consumer declares), or judge by msg.id")

    def recorded_ordering(self, base: Path_, e: m.PerKeyOrderCheck) -> None:
        c = self.sc.consumers.get(e.consumer)
        if c is None or (e.key is None and e.seq is None):
            return
        key = (e.key or "msg.key").strip()
        seq = (e.seq or "msg.seq").strip()
        if (key, seq) == ("msg.key", "msg.seq"):
            return
        if c.ordering is not None and (c.ordering.key.strip(), c.ordering.seq.strip()) == (key, seq):
            return
        at = "key" if key != "msg.key" else "seq"
        self.add((*base, at), f"consumer `{e.consumer}` does not record `{key}` and `{seq}` with its handlings",
                 f"declare `ordering: {{key: {key}, seq: {seq}}}` on consumer {e.consumer} (the trace carries "
                 "what the consumer declares), or judge by msg.key and msg.seq")

    def check_lesson(self) -> None:
        lesson = self.sc.lesson
        if lesson is None:
            return
        expect_names = {e.name for e in self.sc.expect if e.name} | self.expect_names_unchecked
        for i, step in enumerate(lesson.steps):
            base = ("lesson", "steps", i)
            if step.event is not None:
                self.selector((*base, "event"), step.event)
            for j, f in enumerate(step.focus):
                kind, sep, rest = f.partition(":")
                if kind == "message":
                    continue
                if sep and kind in TARGET_KINDS:
                    self.target((*base, "focus", j), f, "focus")
                else:
                    self.add((*base, "focus", j), f"`{f}` is not something to focus on",
                             "write channel:NAME, consumer:NAME, producer:NAME, pattern:NAME or message:ID")
        for i, v in enumerate(lesson.try_next):
            if isinstance(v, m.Variation):
                for j, name in enumerate(v.fails):
                    self.ref(("lesson", "try_next", i, "fails", j), name, expect_names, "expectation")
                for j, name in enumerate(v.unknown):
                    self.ref(("lesson", "try_next", i, "unknown", j), name, expect_names, "expectation")

    def check_names(self) -> None:
        seen: dict[str, str] = {}
        for kind, names in (("producer", self.producers), ("consumer", self.consumers), ("pattern", self.patterns)):
            for n in sorted(names):
                if n in seen and seen[n] != kind:
                    self.add((f"{kind}s", n), f"`{n}` is both a {seen[n]} and a {kind}",
                             "give each component its own name: the trace tells them apart by name")
                seen.setdefault(n, kind)

    # -- the small languages

    def expr(self, path: Path_, text: str | None, *, offset: int = 0) -> None:
        if text is None:
            return
        from evtool.scenario.expressions import ExpressionError, compile_expression

        try:
            compile_expression(text, names=EXPRESSION_NAMES)
        except ExpressionError as exc:
            self.add(path, f"in `{text}`: {exc.message}", exc.hint, offset=offset + exc.column)

    def selector(self, path: Path_, text: str) -> None:
        from evtool.scenario.selectors import SelectorError, parse_selector

        try:
            sel = parse_selector(text)
        except SelectorError as exc:
            self.add(path, f"in `{text}`: {exc.message}", exc.hint, offset=exc.column)
            return
        self.check_selector_name(path, sel.name, allow_metrics=False)
        self.check_labels(path, sel)
        if sel.name == "delivered":
            for f in sel.filters:
                if f.label == "attempt" and f.op == "=" and str(f.value).isdigit() and int(f.value) > 1:
                    self.add(path, f"`delivered` is only the first delivery, so attempt={f.value} never matches",
                             "later deliveries are `redelivered`, e.g. redelivered{attempt=2}", severity="warning")

    def assertion(self, path: Path_, text: str) -> None:
        from evtool.scenario.selectors import METRICS, SelectorError, parse_assertion

        try:
            a = parse_assertion(text)
        except SelectorError as exc:
            self.add(path, f"in `{text}`: {exc.message}", exc.hint, offset=exc.column)
            return
        for sel in a.selectors():
            if sel.name.startswith("state."):
                owner = sel.name.split(".")[1] if sel.name.count(".") >= 1 else ""
                self.ref(path, owner, self.consumers | self.patterns, "consumer")
                continue
            if sel.name not in METRICS:
                self.check_selector_name(path, sel.name, allow_metrics=True)
            self.check_labels(path, sel)

    def check_labels(self, path: Path_, sel: Any) -> None:
        """A label the metric or event kind does not have, or a name that is not in the scenario."""
        from evtool.scenario.selectors import label_problems

        for f, message, hint in label_problems(sel):
            self.add(path, message, hint, offset=f.column)
        names = {"consumer": (self.consumers | self.patterns | self.actors, "consumer"),
                 "producer": (self.producers, "producer"), "channel": (self.channels, "channel"),
                 "group": (self.groups | self.actors, "consumer group")}
        for f in sel.filters:
            known, what = names.get(f.label, (None, ""))
            if known is None or f.quoted or "*" in f.value or f.value in known:
                continue
            hint = did_you_mean(f.value, known) or f"the {what}s defined are: {known_list(known)}"
            self.add(path, f"no {what} named `{f.value}` (in `{f}`)", hint, offset=f.column)

    def check_selector_name(self, path: Path_, name: str, *, allow_metrics: bool) -> None:
        from evtool.scenario.selectors import METRICS

        if name in KINDS:
            return
        options = set(KINDS) | (set(METRICS) if allow_metrics else set())
        hint = did_you_mean(name, options) or ("event kinds are listed in docs/scenario-language.md"
                                               " (section Trace events)")
        self.add(path, f"`{name}` is not an event kind" + (" or metric" if allow_metrics else ""), hint)

    def check_templates(self, path: Path_, payload: dict[str, Any]) -> None:
        from evtool.scenario.templates import TemplateError, compile_template

        for k, v in payload.items():
            if isinstance(v, str) and "{{" in v:
                try:
                    compile_template(v)
                except TemplateError as exc:
                    self.add((*path, k), f"in `{v}`: {exc.message}", exc.hint, offset=exc.column)
            elif isinstance(v, dict):
                self.check_templates((*path, k), v)


def check_references(sc: m.Scenario, data: dict[str, Any], loc: Locations,
                     also_known: dict[str, set[str]] | None = None) -> list[Problem]:
    """Every cross-reference and lint problem of a validated scenario.

    `also_known` names entries that exist in the file but did not validate (the loader checks the
    rest of a broken file this way, so schema and reference problems come in one round).
    """
    return _Checker(sc, data, loc, also_known).run()


def check_raw_channel_references(data: dict[str, Any], loc: Locations) -> list[Problem]:
    """Dangling channel names in a scenario that did not validate (read from the raw data).

    Covers producers' `to`, consumers' `from` and `dead_letter`, channels' `dead_letter`
    and router bindings' `to`; anything of an unexpected shape is skipped, because the
    model errors already report it.
    """
    channels = data.get("channels")
    if not isinstance(channels, dict) or not channels:
        return []
    known = {k for k in channels if isinstance(k, str)}
    problems: list[Problem] = []

    def ref(path: Path_, name: Any, exclude: str | None = None) -> None:
        if not isinstance(name, str) or name in known:
            return
        options = known - {exclude} if exclude else known
        hint = did_you_mean(name, options) or f"the channels defined are: {known_list(options)}"
        line, col = loc.find(path)
        problems.append(Problem(loc.file, line, col, dotted(path), f"no channel named `{name}`", hint))

    for name, ch in channels.items():
        if isinstance(ch, dict):
            ref(("channels", name, "dead_letter"), ch.get("dead_letter"), name)
            bindings = ch.get("bindings")
            if isinstance(bindings, list):
                for i, b in enumerate(bindings):
                    if isinstance(b, dict):
                        ref(("channels", name, "bindings", i, "to"), b.get("to"), name)
    for section, field in (("producers", "to"), ("consumers", "from"), ("consumers", "dead_letter")):
        items = data.get(section)
        if isinstance(items, dict):
            for name, spec in items.items():
                if isinstance(spec, dict):
                    ref((section, name, field), spec.get(field))
    return problems
