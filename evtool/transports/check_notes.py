"""Checks a real broker cannot judge as the core does: "not applicable on this broker".

Some checks measure a mechanism the broker lacks, so its verdict on the broker says nothing about the
scenario: RabbitMQ 3.10 has no per-queue consumer timeout (no lease of the channel's `ack_timeout` ever
expires there), a Redis stream cannot refuse a publish at its capacity (`XADD MAXLEN` trims the oldest
entries silently instead: evtool sees each trim right after it, and the depth it reports, unread entries,
stays within the capacity as Redis's does, so `queue.depth` is judged there), a partitioned log
has no partitions or rebalances on RabbitMQ, NATS and Redis, and `patterns:` are left out of a run on Kafka
and SQS (their checks, and checks of the consumers only they feed; on RabbitMQ, NATS and Redis they run).
`not_applicable` names each such check with the reason; a run on the broker keeps
it in ``outcome.extra["not_applicable"]`` and `--compare` prints "not applicable on BROKER" next to a verdict
that differs from the core's, instead of a silent difference (docs/transports.md).
"""

from __future__ import annotations

import re

from evtool.scenario import models as m
from evtool.scenario.loader import LoadedScenario
from evtool.transports.base import PATTERN_TRANSPORTS

_SELECTOR = re.compile(r"([A-Za-z_][\w.]*)\s*\{([^}]*)\}|([A-Za-z_][\w.]*)\s*\(\s*\)")

NO_CONSUMER_TIMEOUT = ("RabbitMQ 3.10 cannot time out a delivery per queue (x-consumer-timeout came in later "
                       "versions; the node-wide consumer_timeout is 30 min), so no lease of {ch}'s ack_timeout "
                       "expires on the broker")
NO_REFUSAL = ("a Redis stream cannot refuse a publish: {ch}'s capacity becomes XADD MAXLEN, which trims the "
              "oldest entries and tells nobody (evtool records an unread entry trimmed as dropped right after "
              "the trim), so where the core refuses a publish at the capacity Redis loses an older entry")
NO_PARTITIONS = ("{broker} has no partitions or consumer-group rebalances: the log {ch} runs as one {what} per "
                 "consumer group, shared by its instances, so partition ownership, rebalances and per-key order "
                 "across instances are not the broker's")
_NAMES = {"rabbitmq": "RabbitMQ", "nats": "NATS JetStream"}
_WHAT = {"rabbitmq": "queue (behind a fanout exchange)", "nats": "durable consumer", "redis": "stream group"}
_PARTITION_KINDS = ("rebalanced", "partition_assigned", "partition_revoked")
NO_REBALANCE_REDELIVERY = ("Redis has no rebalance: the entries a crashed member of {ch}'s group held stay "
                           "pending under its name (the core hands its partitions and their unacknowledged "
                           "records to the other members)")
NO_OFFSET_REPLAY = ("{broker} has no offsets: a member of {ch}'s group acks each record once it is handled, so a "
                    "crash returns only the records it held unacked (none when it was idle{later}), where the "
                    "core replays every record since the group's last commit ({commit})")
PATTERNS_LOCAL = ("patterns are left out of a run on {broker} (they run on the local engine and on "
                  "{brokers} only)")


def _mentions(text: str, names: tuple[str, ...], channel: str, group: str | None = None) -> bool:
    """Whether `text` (an assertion) reads one of `names` for `channel` (or `group`), or for every one."""
    for mt in _SELECTOR.finditer(text):
        name = mt.group(1) or mt.group(3)
        if name not in names:
            continue
        labels = mt.group(2) or ""
        chans = re.findall(r"channel\s*=\s*([\w.\-]+)", labels)
        groups = re.findall(r"group\s*=\s*([\w.\-]+)", labels)
        if (not chans and not groups) or (channel and channel in chans) or (group is not None and group in groups):
            return True
    return False


def _reads_pattern(text: str, patterns: list[str]) -> bool:
    """Whether an assertion reads what a pattern records: its events (``{pattern=P}``), its state
    (``state.P.x``) or its alerts (``alert=P.lag_budget``)."""
    for p in patterns:
        q = re.escape(p)
        if re.search(rf"pattern\s*=\s*{q}\b|\bstate\.{q}\.|alert\s*=\s*{q}\.", text):
            return True
    return False


def _targets(node: object) -> set[str]:
    """Every channel a pattern's definition sends to (``to:``, ``channel:`` and ``reply_channel:`` values, at
    any depth)."""
    out: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("to", "reply_channel", "channel") and isinstance(v, str):
                out.add(v)
            else:
                out |= _targets(v)
    elif isinstance(node, list):
        for v in node:
            out |= _targets(v)
    return out


def _pattern_fed_consumers(sc: m.Scenario) -> set[str]:
    """Consumers that read a channel only patterns send to (a saga's command channels): with the patterns
    left out of a run on a broker, they receive nothing."""
    fed = set().union(*(_targets(p.model_dump(warnings=False)) for p in sc.patterns.values())) if sc.patterns else set()
    fed -= {p.to for p in sc.producers.values()}
    return {name for name, c in sc.consumers.items() if c.from_ in fed}


def not_applicable(loaded: LoadedScenario | m.Scenario, transport: str) -> dict[str, str]:
    """Check name -> why `transport` cannot give the core's verdict for it (see the module's docstring)."""
    sc = loaded.model if isinstance(loaded, LoadedScenario) else loaded
    # (channel, group or None, event kinds read, check kind too or "", reason)
    rules: list[tuple[str, str | None, tuple[str, ...], str, str]] = []
    partitioned: dict[str, str] = {}      # consumer reading a partitioned log -> reason
    for name, spec in sc.channels.items():
        if isinstance(spec, m.LogChannel) and spec.partitions > 1 and transport in _WHAT:
            why = NO_PARTITIONS.format(broker=transport, ch=name, what=_WHAT[transport])
            for cname, c in sc.consumers.items():
                if c.from_ == name:
                    partitioned[cname] = why
                    rules.append((name, c.group or cname, _PARTITION_KINDS, "exclusive_ownership", why))
                    if transport == "redis":
                        rules.append((name, c.group or cname, ("redelivered",), "",
                                      NO_REBALANCE_REDELIVERY.format(ch=name)))
        if isinstance(spec, m.LogChannel) and transport in ("rabbitmq", "nats"):
            for cname, c in sc.consumers.items():
                if c.from_ == name and c.commit.mode != "per_message":
                    commit = (f"every {c.commit.interval / 1e9:g} s" if c.commit.mode == "periodic"
                              else "after each batch")
                    rules.append((name, c.group or cname, ("redelivered",), "",
                                  NO_OFFSET_REPLAY.format(broker=_NAMES[transport], ch=name, commit=commit,
                                                          later="; and only after AckWait" if transport == "nats"
                                                          else "")))
        if not isinstance(spec, m.DeliveryChannel):
            continue
        if transport == "rabbitmq" and spec.ack_timeout is not None:
            rules.append((name, None, ("lease_expired",), "", NO_CONSUMER_TIMEOUT.format(ch=name)))
        if transport == "redis" and spec.capacity is not None:
            # not queue.depth: the unread entries stay within MAXLEN on Redis and in the depth evtool reports
            # (an entry a group has read leaves it when Redis shows the read, tests/transports/
            # test_redis_read_in_flight.py), as the core's ready messages stay within the capacity
            rules.append((name, None, ("publish_rejected", "dropped"), "no_loss", NO_REFUSAL.format(ch=name)))
    pattern_fed = _pattern_fed_consumers(sc)
    # patterns run on RabbitMQ, NATS and Redis; elsewhere they are left out of the run
    patterns_left_out = bool(sc.patterns) and transport not in PATTERN_TRANSPORTS
    out: dict[str, str] = {}
    for e in sc.expect:
        if e.name is None:
            continue
        kind = getattr(e, "check", None)
        consumer = getattr(e, "consumer", None)
        if patterns_left_out and (
                isinstance(e, m.PatternCheck) and kind != "exclusive_ownership" or consumer in pattern_fed
                or isinstance(e, m.Assertion) and (_reads_pattern(e.that, list(sc.patterns)) or any(
                    c in pattern_fed or c not in sc.consumers    # a pattern's own responder
                    for c in re.findall(r"consumer\s*=\s*([\w.\-]+)", e.that)))):
            out[e.name] = PATTERNS_LOCAL.format(broker=transport, brokers=", ".join(PATTERN_TRANSPORTS))
            continue
        if kind == "per_key_order" and consumer in partitioned and sc.consumers[consumer].instances > 1:
            out[e.name] = partitioned[consumer]    # instances share one queue: no per-partition dispatch
            continue
        for channel, group, kinds, check_kind, reason in rules:
            if isinstance(e, m.Assertion) and _mentions(e.that, kinds, channel, group):
                out[e.name] = reason
            elif check_kind and kind == check_kind and getattr(e, "channel", None) in (None, channel):
                out[e.name] = reason
    return out


def applies(reason: str, core_counts: dict[str, int] | None) -> bool:
    """Whether a not-applicable `reason` explains a difference, given the core run's counts: Redis's missing
    refusal does only when the core (under any profile) refused or dropped a publish at a capacity
    (else a difference in, say, `no_loss` is a difference to look into, not the broker's)."""
    if core_counts is not None and reason.startswith(NO_REFUSAL.split("{", 1)[0]):
        return core_counts.get("publish_rejected", 0) > 0 or core_counts.get("dropped", 0) > 0
    return True
