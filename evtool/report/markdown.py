"""A Markdown report of one run, for a README or an issue: facts, checks, channels, latency, dead letters.

Every value from a scenario or a trace is input: `plain` escapes it (HTML
as entities, Markdown punctuation with a backslash, control characters
shown), `code` puts it in a code span whose fence no backtick in the value
can close. Both return `Md`, text that is already Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.report.fmt import FRAMEWORK_WORDS, fmt_duration, fmt_ms, fmt_override, fmt_t, headline, visible
from evtool.store.codec import dumps
from evtool.store.model import RunHeader, RunResult

STATUS_MARK = {"pass": "✅ pass", "fail": "❌ fail", "unknown": "❔ unknown"}

_MD_PUNCT = re.compile(r"([\\`*_\[\]|~])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BACKTICKS = re.compile("`+")


class Md(str):
    """Text that is already Markdown (made by `plain` or `code`): `cell` does not escape it again."""


def plain(value: Any) -> Md:
    """Text shown as itself in Markdown: HTML as entities, Markdown punctuation escaped, controls shown."""
    text = visible(value if isinstance(value, str) else str(value), multiline=True)
    text = "".join(_HTML.get(ch, ch) for ch in text)
    return Md(_MD_PUNCT.sub(r"\\\1", text).replace("\n", "<br>"))


def code(value: Any) -> Md:
    r"""A code span holding `value` exactly: its fence is longer than any run of backticks in it.

    `|` is written `\|`: GFM splits a table row on `|` before it parses code
    spans, and turns `\|` back into `|` inside them.
    """
    text = visible(value if isinstance(value, str) else str(value))
    if not text:
        return Md("")
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ") and text.strip()):
        text = f" {text} "  # CommonMark strips one space from each end of a span that has both
    return Md(f"{fence}{text}{fence}".replace("|", "\\|"))


def cell(value: Any) -> str:
    """A value made safe for one Markdown table cell (`Md` values are already safe)."""
    if value is None:
        return "—"
    if isinstance(value, Md):
        return value or "—"
    text = value if isinstance(value, str) else dumps(value) if isinstance(value, (list, dict)) else str(value)
    return plain(text) or "—"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> list[str]:
    """A GitHub-flavoured Markdown table (columns in `right` are right-aligned)."""
    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def to_markdown(header: RunHeader, result: RunResult | None, dead_letters: Sequence[TraceEvent] = (),
                dead_letter_total: int | None = None) -> str:
    """The report as Markdown text."""
    outcome = result.outcome if result is not None else "incomplete"
    title = header.lesson_title or header.scenario_id
    lines = [f"# {plain(title)}: {outcome}", ""]
    summary = result.summary if result is not None else {}
    if headline(summary):
        lines += [f"**{headline(summary)}**", ""]
    facts: list[tuple[str, Any]] = [("scenario", header.scenario_id), ("file", code(header.scenario_path)),
                                    ("seed", header.seed), ("profile", header.profile),
                                    ("transport", header.transport), ("started", header.started_at[:19] + " UTC")]
    if header.overrides:
        facts.append(("overrides", Md(" ".join(code(f"--set {fmt_override(k, v)}")
                                               for k, v in header.overrides.items()))))
    if result is not None:
        facts += [("virtual time", fmt_duration(result.virtual_ns)), ("messages", f"{result.messages:,}"),
                  ("events", f"{result.events:,}"), ("drain", summary.get("drain")),
                  ("trace digest", code(result.digest[:16]))]
    else:
        facts.append(("result", "none: the run is still open, or its process was killed"))
    lines += table(["run", code(header.id)], facts) + [""]
    retry_lines = (summary.get("retry_presets") or {}).get("lines") or []
    if retry_lines:  # a framework's retry preset, in the framework's own words
        lines += ["## Retry, in the framework's words", ""] + [f"- {plain(line)}" for line in retry_lines] + [""]
    checks = result.checks if result is not None else []
    lines += ["## Checks", ""]
    if checks:
        rows = [(STATUS_MARK.get(c.get("status", ""), c.get("status")), Md(f"**{plain(c.get('name'))}**"),
                 c.get("expected"),
                 c.get("observed"), c.get("because"),
                 _evidence(c.get("evidence") or [])) for c in checks]
        lines += table(["status", "check", "expected", "observed", "because", "evidence"], rows) + [""]
    else:
        lines += ["No expectations." if result is not None else "The run has not finished.", ""]
    channels = summary.get("channels") or {}
    if channels:
        cols = ["published", "acked", "dead_lettered", "expired", "dropped", "ready", "in_flight", "delayed"]
        lines += ["## Channels", "", "Counts at the end of the run.", ""]
        lines += table(["channel", "kind", *[c.replace("_", " ") for c in cols]],
                       [[n, v.get("kind"), *(v.get(c, 0) for c in cols)] for n, v in channels.items()],
                       right=range(2, len(cols) + 2)) + [""]
    consumers = summary.get("consumers") or {}
    if consumers:
        lines += ["## Consumers", ""]
        rows = []
        for name, c in consumers.items():
            lat = c.get("latency_ms") or {}
            state = c.get("state") or {}
            rows.append([name, c.get("instances"), c.get("handled"), c.get("failed"), fmt_ms(lat.get("p50")),
                         fmt_ms(lat.get("p99")), fmt_ms(lat.get("max")),
                         ", ".join(f"{k}={dumps(v) if not isinstance(v, str) else v}" for k, v in state.items())
                         or None])
        lines += table(["consumer", "instances", "handled", "failed", "p50", "p99", "max", "state"], rows,
                       right=(1, 2, 3, 4, 5, 6)) + [""]
    latency = summary.get("latency_ms") or {}
    if isinstance(latency, dict) and latency.get("count"):
        lines += ["## Latency, publish to handled", ""]
        lines += table(["p50", "p90", "p99", "max", "mean", "messages"],
                       [[fmt_ms(latency.get("p50")), fmt_ms(latency.get("p90")), fmt_ms(latency.get("p99")),
                         fmt_ms(latency.get("max")), fmt_ms(latency.get("mean")), f"{latency.get('count', 0):,}"]],
                       right=range(6)) + [""]
    if dead_letters:
        presets = (summary.get("retry_presets") or {}).get("consumers") or {}
        lines += ["## Dead letters", ""]
        lines += table(["t", "message", "key", "from → to", "reason", "deliveries"],
                       [[fmt_t(e.t), code(e.msg), e.key, f"{e.channel} → {(e.data or {}).get('target', '?')}",
                         _reason(e, presets), e.attempt or None] for e in dead_letters], right=(0, 5))
        if dead_letter_total and dead_letter_total > len(dead_letters):
            lines += ["", f"Showing {len(dead_letters)} of {dead_letter_total}."]
        lines.append("")
    lines += [f"<sub>evtool {plain(header.evtool_version)} · run {code(header.id)} · scenario sha256 "
              f"{code(header.scenario_hash[:12])}</sub>", ""]
    return "\n".join(lines)


def _evidence(items: Sequence[Any], limit: int = 10) -> str | None:
    unique = [m for m in dict.fromkeys(map(str, items))]
    if not unique:
        return None
    more = f" +{len(unique) - limit} more" if len(unique) > limit else ""
    return Md(" ".join(code(m) for m in unique[:limit]) + more)


def _reason(e: TraceEvent, presets: dict[str, str] | None = None) -> str:
    data = e.data or {}
    reason = str(data.get("reason", "?"))
    if data.get("error"):
        reason += f" ({data['error']})"
    if data.get("by") == "application":
        reason += ", by the application"
    preset = (presets or {}).get(e.actor or "")
    if preset is not None:
        reason += f", to {FRAMEWORK_WORDS[preset]['target']}"
    return reason
