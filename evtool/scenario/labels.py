"""The labels a selector may filter on: per metric, and per event kind.

A label a metric or an event kind does not have would match nothing (or be
silently ignored), so validation refuses it with the labels that exist. The
tables are the truth of what the engine records:

- METRIC_LABELS: the labels evtool.trace.checks reads for each metric (the
  latency histograms from `handled` events, the gauges from the samples);
- KIND_DATA_LABELS: the `data` keys each event kind carries (every key a
  lesson run emits is in it: tests/scenario/test_selector_labels.py runs the
  lessons and checks).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from evtool.scenario.vocabulary import KINDS

# Labels read from a TraceEvent's own fields (several names for `actor`).
FIELD_LABELS: dict[str, str] = {
    "channel": "channel",
    "consumer": "actor",
    "producer": "actor",
    "pattern": "actor",
    "actor": "actor",
    "name": "actor",
    "instance": "instance",
    "key": "key",
    "attempt": "attempt",
    "tag": "tag",
    "msg": "msg",
    "message": "msg",
}

# Labels read from TraceEvent.data (any kind; KIND_DATA_LABELS says which kind has which).
DATA_LABELS: frozenset[str] = frozenset(
    {
        "group",
        "reason",
        "error",
        "retryable",
        "delay",
        "mode",
        "requeue",
        "position",
        "partition",
        "offset",
        "count",
        "duplicate",
        "assignment",
        "step",
        "failed_step",
        "correlation_id",
        "request_id",
        "version",
        "replayed",
        "from_snapshot",
        "from",
        "to",
        "lag",
        "size",
        "lost",
        "action",
        "alert",
        "index",
        "type",
    }
)

EVENT_LABELS: frozenset[str] = frozenset(FIELD_LABELS) | DATA_LABELS
"""Every label name a selector may use."""

METRICS: dict[str, str] = {
    "latency.e2e": "publish to ack, per message (ns); labels: channel, consumer, instance, tag, key",
    "latency.processing": "handler start to handler end, per delivery (ns); labels: channel, consumer, instance, tag, key",
    "queue.depth": "ready messages on a channel, sampled (gauge; `max` takes the most between samples); labels: channel",
    "in_flight": "unacknowledged deliveries, sampled (gauge); labels: channel",
    "consumer.lag": "messages behind the log end, per consumer group, sampled (gauge); labels: group (or consumer)",
    "request.latency": "request sent to reply received (ns); labels: pattern (or consumer), channel",
    "throughput": "handled messages per second, sampled (gauge); labels: consumer",
}
"""Metric name -> what it measures. Events are selected by their kind instead."""

# aggregate -> (number of selectors, takes a leading quantile, meaning)
AGGREGATES: dict[str, tuple[int, bool, str]] = {
    "count": (1, False, "number of matching events (or samples)"),
    "sum": (1, False, "sum of the values"),
    "avg": (1, False, "mean of the values"),
    "min": (1, False, "smallest value"),
    "max": (1, False, "largest value"),
    "p": (1, True, "percentile: p(99, latency.e2e{...})"),
    "per_sec": (1, False, "matching events per second of the window"),
    "ratio": (2, False, "count(a) / count(b)"),
    "last": (1, False, "the last value"),
    "len": (1, False, "number of entries of a state value"),
}


METRIC_LABELS: dict[str, tuple[str, ...]] = {
    "latency.e2e": ("channel", "consumer", "instance", "tag", "key"),
    "latency.processing": ("channel", "consumer", "instance", "tag", "key"),
    "request.latency": ("pattern", "consumer", "channel"),
    "queue.depth": ("channel",),
    "in_flight": ("channel",),
    "consumer.lag": ("group", "consumer"),
    "throughput": ("consumer",),
}
"""Metric name -> the labels it is recorded with (evtool.trace.checks reads exactly these)."""

GAUGES = frozenset({"queue.depth", "in_flight", "consumer.lag", "throughput"})
"""Sampled metrics: a filter on one is an exact `label=value` (no `!=`, no wildcard)."""

# The fields every event has (FIELD_LABELS) apply to every kind; these are the `data` keys.
KIND_DATA_LABELS: dict[str, frozenset[str]] = {
    "acked": frozenset({'group', 'offset', 'partition'}),
    "aggregate_loaded": frozenset({'attempt', 'cost', 'from_snapshot', 'replayed', 'snapshot_version', 'version'}),
    "alert_raised": frozenset({'alert', 'budget', 'lag_ns', 'that', 'threshold', 'value'}),
    "batch_handled": frozenset({'failed', 'processing', 'size'}),
    "broker_restarted": frozenset({'closed_subscriptions', 'lost'}),
    "committed": frozenset({'group', 'offset', 'partition'}),
    "concurrency_conflict": frozenset({'actual', 'attempt', 'expected'}),
    "dead_lettered": frozenset({'count', 'reason', 'target'}),
    "delayed": frozenset({'delay', 'reason'}),
    "delivered": frozenset({'group', 'offset', 'partition'}),
    "drain_ended": frozenset(),
    "drain_timed_out": frozenset({'pending'}),
    "dropped": frozenset({'fault', 'reason'}),
    "dual_write_ghost": frozenset({'causation_id'}),
    "dual_write_lost": frozenset({'causation_id'}),
    "duplicate_dropped": frozenset({'dedup_id', 'window_ends'}),
    "emitted": frozenset({'causation_id'}),
    "enqueued": frozenset({'group', 'offset', 'partition', 'reason'}),
    "event_appended": frozenset({'causation_id', 'position', 'schema_version', 'type', 'version'}),
    "expired": frozenset({'group'}),
    "failed": frozenset({'detail', 'error', 'retryable'}),
    "fault_ended": frozenset({'action', 'redriven'}),
    "fault_started": frozenset({'action', 'target'}),
    "handled": frozenset({'attempts', 'bkey', 'duplicate', 'latency', 'okey', 'oseq', 'processing', 'seq'}),
    "instance_crashed": frozenset({'reason'}),
    "instance_paused": frozenset(),
    "instance_restarted": frozenset(),
    "instance_resumed": frozenset(),
    "instance_started": frozenset(),
    "lease_expired": frozenset({'deadline'}),
    "load_ended": frozenset(),
    "max_deliveries_reached": frozenset({'count', 'limit'}),
    "nacked": frozenset({'delay', 'requeue'}),
    "outbox_relayed": frozenset({'attempt', 'waited'}),
    "outbox_written": frozenset({'causation_id', 'pending'}),
    "partition_assigned": frozenset({'group', 'member', 'partition'}),
    "partition_revoked": frozenset({'group', 'member', 'partition'}),
    "projection_rebuilt": frozenset({'dropped_position', 'head'}),
    "projection_updated": frozenset({'lag', 'lag_ns', 'position'}),
    "publish_rejected": frozenset({'capacity', 'reason'}),
    "published": frozenset({'offset', 'partition'}),
    "rebalanced": frozenset({'assignment', 'group', 'reason', 'strategy'}),
    "redelivered": frozenset({'count', 'group', 'offset', 'partition'}),
    "redriven": frozenset({'to'}),
    "rejected": frozenset(),
    "reply_orphaned": frozenset({'correlation_id', 'reason', 'request_id'}),
    "reply_received": frozenset({'attempt', 'correlation_id', 'error', 'latency', 'mismatch', 'ok', 'request_id'}),
    "request_fell_back": frozenset({'attempt', 'latency', 'outcome', 'reason', 'request_id'}),
    "request_sent": frozenset({'attempt', 'correlation_id', 'reply_to', 'request_id'}),
    "request_timed_out": frozenset({'attempt', 'correlation_id', 'phase', 'request_id', 'step', 'waited'}),
    "retry_scheduled": frozenset({'attempt', 'delay', 'error', 'mode', 'phase', 'request_id', 'step'}),
    "returned": frozenset({'count', 'position', 'reason'}),
    "routed": frozenset({'router'}),
    "run_ended": frozenset({'drain', 'stopped'}),
    "saga_compensated": frozenset({'compensated', 'duration', 'failed_step', 'order_ok', 'reason', 'repeated'}),
    "saga_compensating": frozenset({'failed_step', 'reason', 'steps'}),
    "saga_completed": frozenset({'duration'}),
    "saga_started": frozenset({'style', 'trigger'}),
    "saga_step_completed": frozenset({'attempt', 'step'}),
    "saga_step_failed": frozenset({'attempt', 'error', 'reason', 'step'}),
    "snapshot_taken": frozenset({'version'}),
    "stale_read": frozenset({'behind', 'current_version', 'lag', 'read_version'}),
    "upcast": frozenset({'count', 'from', 'to', 'type'}),
}


def _mentioned(kind: str) -> set[str]:
    """`data.X` names in the KINDS description (for kinds no lesson emits yet)."""
    return set(re.findall(r"data\.([a-z_]+)", KINDS.get(kind, "")))


def labels_of(name: str) -> tuple[str, ...] | None:
    """The labels a selector named `name` may filter on; None when anything goes (state, unknown names)."""
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    if name not in KINDS:
        return None
    data = KIND_DATA_LABELS.get(name)
    extra = sorted(_mentioned(name) | (set(data) if data is not None else set(DATA_LABELS)))
    # `group` reads data.group and falls back to the actor, so every kind has it
    return (*FIELD_LABELS, "group", *(x for x in extra if x not in FIELD_LABELS and x != "group"))


def label_problems(selector: Any) -> list[tuple[Any, str, str]]:
    """(filter, message, hint) for each filter of `selector` that can never work.

    A label the metric or event kind does not have, or a `!=`/wildcard filter on a
    sampled gauge (gauges are looked up by exact label value).
    """
    allowed = labels_of(selector.name)
    out: list[tuple[Any, str, str]] = []
    if allowed is None:
        return out
    what = "metric" if selector.name in METRIC_LABELS else "event kind"
    for f in selector.filters:
        if f.label not in allowed:
            shown = ", ".join(allowed) if len(allowed) <= 24 else ", ".join(allowed[:24]) + ", …"
            out.append((f, f"`{selector.name}` has no label `{f.label}`",
                        f"labels of the {what} `{selector.name}`: {shown}"))
        elif selector.name in GAUGES and (f.op != "=" or ("*" in f.value and not f.quoted)):
            out.append((f, f"`{selector.name}` is sampled per {f.label}: only `{f.label}=NAME` selects it",
                        f"write `{selector.name}{{{f.label}=NAME}}` (no `!=`, no `*`), or leave the filter out"))
    return out


# --- matching a label value ----------------------------------------------------------------------

_NUMERIC_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def glob_matcher(pattern: str) -> Callable[[str], bool]:
    """A test of whole texts against `pattern`, where `*` matches any run of characters (none included).

    Linear in the text: the pieces between stars are found left to right, each as early as it
    can be, and the last one is anchored at the end. A regular expression with one `.*` per star
    backtracks, so `*a*a*a*a*a*b` took seconds per event against a long label value.
    """
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return lambda text: text == pattern
    head, middle, tail = pieces[0], [p for p in pieces[1:-1] if p], pieces[-1]
    least = len(head) + len(tail) + sum(map(len, middle))

    def match(text: str) -> bool:
        if len(text) < least or not text.startswith(head) or not text.endswith(tail):
            return False
        pos = len(head)
        end = len(text) - len(tail)
        for piece in middle:
            # The earliest match of each piece leaves the most room for the rest: greedy is exact here.
            found = text.find(piece, pos, end)
            if found < 0:
                return False
            pos = found + len(piece)
        return True

    return match


def value_test(value: str, quoted: bool) -> Callable[[Any], bool]:
    """A predicate: does a label value equal the filter's written value?"""
    number: float | None = float(value) if _NUMERIC_RE.match(value) else None
    lowered = value.lower()
    boolean: bool | None = True if lowered == "true" else False if lowered == "false" else None
    pattern: Callable[[str], bool] | None = None
    if not quoted and "*" in value:
        pattern = glob_matcher(value)

    def test(actual: Any) -> bool:
        if actual is None:
            return value == "" and quoted
        if actual is True or actual is False:
            if boolean is not None:
                return actual is boolean
            return str(actual).lower() == lowered
        if number is not None and isinstance(actual, int | float):
            return bool(actual == number)
        text = actual if isinstance(actual, str) else str(actual)
        if pattern is not None:
            return pattern(text)
        return text == value

    return test
