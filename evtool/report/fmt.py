"""Small text formatters shared by the reports: virtual times, durations, one-line event descriptions,
and `safe`/`visible`, which every report uses on text that came from a scenario or a trace. The time,
duration and actor formats themselves are `report.presentation`'s (re-exported here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evtool.core.events import TraceEvent
from evtool.report.presentation import fmt_duration, fmt_ms, fmt_t, who

__all__ = ["fmt_duration", "fmt_ms", "fmt_t", "who"]  # used by the other reports through this module
from evtool.core.textsafe import visible  # re-exported: the one definition

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from rich.console import Console, ConsoleOptions
    from rich.text import Text


def safe(value: object, *, multiline: bool = False) -> str:
    """User text made safe inside a Rich markup string: control characters shown (`visible`), markup escaped."""
    from rich.markup import escape

    return escape(visible(value, multiline=multiline))


def text(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """User text as a Rich `Text` (never parsed as markup), control characters shown."""
    from rich.text import Text

    return Text(visible(value, multiline=multiline), style=style)


# Keys whose values are prose in a run report (kept on several lines); every other string is one line.
_PROSE_KEYS = frozenset({"because", "title", "observed", "expected", "summary", "description", "say", "explain"})


def visible_data(value: Any, *, _multiline: bool = False) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string, keys too, made `visible`."""
    if isinstance(value, str):
        return visible(value, multiline=_multiline)
    if isinstance(value, dict):
        return {visible(k) if isinstance(k, str) else k: visible_data(v, _multiline=k in _PROSE_KEYS)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_data(v, _multiline=_multiline) for v in value]
    return value


def _d(e: TraceEvent, name: str, default: Any = None) -> Any:
    return e.data.get(name, default) if e.data else default


def _group(e: TraceEvent) -> str:
    g = _d(e, "group")
    return f" (group {g})" if g and g != e.actor else ""


def _where_in_log(e: TraceEvent) -> str:
    p, off = _d(e, "partition"), _d(e, "offset")
    return f" at partition {p} offset {off}" if p is not None and off is not None else ""


ENQUEUED_REASON = {
    "delay_elapsed": "ready again on {ch} (its delay is over)",
    "dead_letter": "arrived on {ch} as a dead letter",
    "redrive": "back on {ch} (redriven)",
    "topic": "copy queued on {ch} for subscription {group}",
    "routed": "routed into {ch}",
}


def describe(e: TraceEvent, presets: dict[str, str] | None = None) -> str:
    """One line saying what an event means for its message, for lifecycles and lists.

    Follows the engine's trace conventions (evtool/core/broker.py): e.g.
    `dead_lettered` is emitted at the channel the message died in, with the
    dead-letter channel in data.target. `presets` (consumer -> retry preset,
    `retry_presets`) makes a framework consumer's retries read in its own words.
    """
    k = e.kind
    preset = presets.get(e.actor or "") if presets else None
    if preset is not None and k in ("retry_scheduled", "dead_lettered"):
        framework = _framework_describe(e, preset)
        if framework is not None:
            return framework
    if k == "published":
        parts = [f"published to {e.channel}" + (f" by {e.actor}" if e.actor else "") + _where_in_log(e)]
        if _d(e, "seq") is not None:
            parts.append(f"seq {_d(e, 'seq')}")
        return ", ".join(parts)
    if k == "emitted":
        cause = _d(e, "causation_id")
        return f"sent to {e.channel} by {e.actor}" + (f" while handling {cause}" if cause else "")
    if k == "enqueued":
        reason = _d(e, "reason")
        template = ENQUEUED_REASON.get(str(reason), "ready on {ch}" + (f" ({reason})" if reason else ""))
        return template.format(ch=e.channel, group=_d(e, "group", "?"))
    if k in ("delivered", "redelivered"):
        text = f"delivery {e.attempt} to {who(e)} from {e.channel}{_group(e)}{_where_in_log(e)}"
        count = _d(e, "count")
        if count is not None and count != e.attempt:
            text += f" (broker count {count})"
        return text
    if k == "failed":
        retry = _d(e, "retryable")
        note = "" if retry is None else (", retryable" if retry else ", not retryable")
        return f"failed in {who(e)}: {_d(e, 'error', 'error')}{note}"
    if k == "retry_scheduled":
        delay = _d(e, "delay")
        mode = _d(e, "mode")
        how = {"redeliver": "redelivery", "in_place": "retry in place", "republish": "republish"}.get(str(mode),
                                                                                                   str(mode or "retry"))
        nxt = _d(e, "attempt")
        return (f"{how} in {fmt_duration(delay) if delay is not None else '?'}"
                + (f" (attempt {nxt})" if nxt is not None else ""))
    if k == "nacked":
        delay = _d(e, "delay") or 0
        if _d(e, "requeue", True):
            return f"nacked by {who(e)}: back to {e.channel}" + (f" after {fmt_duration(delay)}" if delay else "")
        return f"nacked by {who(e)} without requeue"
    if k == "delayed":
        delay = _d(e, "delay")
        until = _d(e, "until")
        if delay is not None:
            return f"held back {fmt_duration(delay)} on {e.channel}"
        return f"held back on {e.channel}" + (f" until {fmt_t(until)}" if until is not None else "")
    if k == "rejected":
        return f"rejected by {who(e)}" + (" (skipped)" if _d(e, "skipped") else "")
    if k == "dead_lettered":
        target = _d(e, "target", "?")
        reason = _d(e, "reason", "?")
        by_app = _d(e, "by") == "application"
        text = f"dead-lettered from {e.channel} to {target}: {reason}"
        if _d(e, "error"):
            text += f" ({_d(e, 'error')})"
        if by_app:
            text += f", moved by {who(e) or 'the application'}"
        if e.attempt:
            text += f", after {e.attempt} {'delivery' if e.attempt == 1 else 'deliveries'}"
        count = _d(e, "count")
        if isinstance(count, int) and count > 1:
            text += f", dead-lettered {count} times so far"
        return text
    if k == "redriven":
        return f"redriven from {e.channel} back to {_d(e, 'to', '?')}"
    if k == "handled":
        if _d(e, "duplicate"):
            return f"skipped by {who(e)}: a duplicate (idempotency)"
        text = f"handled by {who(e)}"
        if _d(e, "processing") is not None:
            text += f" in {fmt_duration(_d(e, 'processing'))}"
        if _d(e, "latency") is not None:
            text += f" ({fmt_duration(_d(e, 'latency'))} after publish)"
        return text
    if k == "acked":
        return f"acked by {who(e)}{_group(e)}"
    if k == "returned":
        return f"returned to {e.channel} ({_d(e, 'reason', '?')})"
    if k == "lease_expired":
        return f"lease of {who(e)} expired: the broker takes it back"
    if k == "publish_rejected":
        return f"publish to {e.channel} refused ({_d(e, 'reason', '?')})"
    if k in ("expired", "dropped"):
        reason = _d(e, "reason")
        return f"{k} on {e.channel}" + (f" ({reason})" if reason else "")
    text = k.replace("_", " ")
    where = " ".join(x for x in (e.channel and f"on {e.channel}", who(e) and f"by {who(e)}") if x)
    extra = ", ".join(f"{a}={b}" for a, b in (e.data or {}).items())
    return " ".join(x for x in (text, where, f"({extra})" if extra else "") if x)


def _framework_describe(e: TraceEvent, preset: str) -> str | None:
    """`retry_scheduled` and `dead_lettered` of a consumer under a retry preset, in the framework's words
    (None when the scenario overrode the preset's in-process retry: then the generic words are right)."""
    w = FRAMEWORK_WORDS[preset]
    if e.kind == "retry_scheduled":
        if _d(e, "mode") != "in_place":
            return None
        delay = _d(e, "delay")
        nxt = _d(e, "attempt")
        wait = fmt_duration(delay) if delay is not None else "?"
        if preset == "camel-dead-letter-channel":
            which = f"redelivery {nxt - 1}" if isinstance(nxt, int) else "redelivery"
        else:
            which = f"attempt {nxt}" if nxt is not None else "attempt"
        return f"{w['framework']}: {which} in {wait}, by {w['retrier']}"
    text = f"dead-lettered from {e.channel} to {w['target']} {_d(e, 'target', '?')}: {_d(e, 'reason', '?')}"
    if _d(e, "error"):
        text += f" ({_d(e, 'error')})"
    if e.attempt:
        text += f", after {e.attempt} {'delivery' if e.attempt == 1 else 'deliveries'}"
    return text


def fmt_override(path: str, value: Any) -> str:
    """A `--set` override as the user would type it: `consumers.billing.idempotency=off`, `faults[0].enabled=true`."""
    if isinstance(value, str):
        return f"{path}={value}"
    import json

    return f"{path}={json.dumps(value, ensure_ascii=False, separators=(',', ':'))}"


def headline(summary: dict[str, Any]) -> str:
    """One line of a run's main numbers from the engine's summary (empty when there is none)."""
    if not summary:
        return ""
    parts = [f"{summary.get('published', 0):,} published", f"{summary.get('acked', 0):,} acked"]
    for key, label in (("dead_lettered", "dead-lettered"), ("retries", retries_label(summary)),
                       ("duplicates_skipped", "duplicates skipped")):
        if summary.get(key):
            parts.append(f"{summary[key]:,} {label}")
    lat = summary.get("latency_ms") or {}
    if isinstance(lat, dict) and lat.get("p50") is not None:
        parts.append(f"latency p50 {fmt_ms(lat.get('p50'))}, p99 {fmt_ms(lat.get('p99'))}")
    return " · ".join(parts)


# --------------------------------------------------------------------------- --set values a user can copy


def flow_value(value: Any) -> str:
    """A value as YAML flow text that `--set` reads back to the same value: `[a, b]`, `{at: 10s, action: crash}`.

    Scalars stay plain when they read back unchanged, else they are double-quoted, so the whole
    `--set path=value` needs only single quotes in a shell.
    """
    import json

    from evtool.scenario.loader import parse_value

    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(flow_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow_key(str(k))}: {flow_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    try:
        plain_ok = (parse_value(f"[{text}]") == [value] and parse_value(f"{{k: {text}}}") == {"k": value}
                    and parse_value(text) == value)  # plain in a list, in a map and alone
    except Exception:  # noqa: BLE001 - any parse failure means: quote it
        plain_ok = False
    return text if plain_ok and text.strip() == text and text else json.dumps(text, ensure_ascii=False)


def _flow_key(key: str) -> str:
    """A map key that reads back as the same string (`n`, `on`, `1` are quoted: YAML reads them otherwise)."""
    import json

    from evtool.scenario.loader import parse_value

    text = flow_value(key)
    try:
        return text if parse_value(f"{{{text}: 0}}") == {key: 0} else json.dumps(key, ensure_ascii=False)
    except Exception:  # noqa: BLE001 - any parse failure means: quote it
        return json.dumps(key, ensure_ascii=False)


def set_argument(path: str, value: Any) -> str:
    """`--set path=value` as one shell word a user can copy (single-quoted only when it must be)."""
    import shlex

    return "--set " + shlex.quote(f"{path}={flow_value(value)}")


# --------------------------------------------------------------------------- a framework's own retry words

FRAMEWORK_WORDS: dict[str, dict[str, str]] = {
    # Spring Cloud Stream, consumer property maxAttempts: "the number of attempts to process the message
    # (including the first)"; the binder retries with a RetryTemplate, in-process, then its DLQ takes over.
    "spring-cloud-stream": {
        "framework": "Spring Cloud Stream", "unit": "attempt", "units": "attempts", "limit": "maxAttempts",
        "counts": "counts the first delivery", "retrier": "the binder's RetryTemplate, in-process",
        "target": "the binder's DLQ", "target_short": "binder DLQ",
    },
    # Apache Camel's Dead Letter Channel: maximumRedeliveries counts REdeliveries ("Setting the
    # maximumRedeliveries to 0 will disable any redelivery attempt"), in the route; then the dead letter channel.
    "camel-dead-letter-channel": {
        "framework": "Apache Camel", "unit": "redelivery", "units": "redeliveries", "limit": "maximumRedeliveries",
        "counts": "excludes the first attempt", "retrier": "the RedeliveryPolicy, in-process",
        "target": "the Dead Letter Channel", "target_short": "dead letter channel",
    },
}
"""Per retry preset: how the framework names a try, its limit, who retries and where a message ends."""


def retry_presets(scenario: Any) -> dict[str, str]:
    """consumer -> retry preset, for the scenario's consumers whose retry names a preset."""
    out: dict[str, str] = {}
    for name, spec in (getattr(scenario, "consumers", None) or {}).items():
        r = getattr(spec, "retry", None)
        if r is not None and getattr(r, "preset", None) in FRAMEWORK_WORDS:
            out[name] = r.preset
    return out


def preset_limit(preset: str, max_attempts: int | str) -> str:
    """The retry limit in the framework's count: `maxAttempts 3` (attempts) or `maximumRedeliveries 2`."""
    w = FRAMEWORK_WORDS[preset]
    if preset == "camel-dead-letter-channel":
        n = -1 if max_attempts == "forever" else int(max_attempts) - 1   # Camel: -1 redelivers forever
        return f"{w['limit']} {n}"
    return f"{w['limit']} {'forever' if max_attempts == 'forever' else max_attempts}"


def preset_sentence(consumer: str, preset: str, max_attempts: int | str, on_exhausted: str,
                    dead_letter: str | None = None, mode: str = "in_place") -> str:
    """One consumer's retry in its framework's words, for the run report, Markdown and HTML.

    `ledger: Spring Cloud Stream, maxAttempts 3 (counts the first delivery): retried by the binder's
    RetryTemplate, in-process (the broker delivers once), then the binder's DLQ payments.dlq`.
    """
    w = FRAMEWORK_WORDS[preset]
    end = {"dead_letter": f"then {w['target']}" + (f" {dead_letter}" if dead_letter else ""),
           "drop": "then dropped", "requeue": "then handed back to the broker"}.get(on_exhausted,
                                                                                   f"then {on_exhausted}")
    by = (f"retried by {w['retrier']} (the broker delivers once)" if mode == "in_place"
          else f"retried by the broker instead (mode {mode} overrides the preset's in-process retry)")
    return f"{consumer}: {w['framework']}, {preset_limit(preset, max_attempts)} ({w['counts']}): {by}, {end}"


def preset_summary(scenario: Any) -> dict[str, Any]:
    """What the report needs to speak each framework's words: consumer -> preset, and one sentence each.

    Kept in the run's summary (`retry_presets`), so a stored run renders the same words later.
    """
    presets = retry_presets(scenario)
    if not presets:
        return {}
    others = [n for n, c in scenario.consumers.items() if getattr(c, "retry", None) is not None and n not in presets]
    lines = []
    channels = getattr(scenario, "channels", None) or {}
    for name, preset in presets.items():
        spec = scenario.consumers[name]
        r = spec.retry
        dlq = getattr(r, "dead_letter", None) or getattr(spec, "dead_letter", None)
        src = getattr(spec, "from_", None)
        if dlq is None and isinstance(src, str) and src in channels:
            dlq = getattr(channels[src], "dead_letter", None)
        lines.append(preset_sentence(name, preset, r.max_attempts, r.on_exhausted, dlq, r.mode))
    return {"consumers": presets, "lines": lines, "mixed": bool(others)}


def retries_label(summary: dict[str, Any]) -> str:
    """What the summary's `retries` count is called: a framework's word when every preset consumer uses one."""
    info = summary.get("retry_presets") or {}
    presets = set((info.get("consumers") or {}).values())
    if len(presets) == 1 and not info.get("mixed"):
        return {"spring-cloud-stream": "further attempts (RetryTemplate)",
                "camel-dead-letter-channel": "redeliveries (RedeliveryPolicy)"}.get(next(iter(presets)), "retries")
    return "retries"


class Packed:
    """Items on as few lines as the width allows, each one whole: a line breaks between two items, never
    inside one (at 80 columns the live view's `order breaks 0` or `1.7s`, or the summary's run id, no longer
    wraps onto a line of its own or breaks in two)."""

    def __init__(self, items: Sequence[Text], sep: str = "  ", style: str = "") -> None:
        self.items, self.sep, self.style = items, sep, style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        from rich.text import Text

        line = Text(style=self.style)
        for item in self.items:
            if line.cell_len and line.cell_len + len(self.sep) + item.cell_len > options.max_width:
                yield line
                line = Text(style=self.style)
            if line.cell_len:
                line.append(self.sep)
            line.append_text(item)
        yield line
