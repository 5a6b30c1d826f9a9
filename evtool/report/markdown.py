"""A Markdown report of one run, for a README or an issue: facts, checks, channels, latency, dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evtool.core.events import TraceEvent
from evtool.report.fmt import fmt_duration, fmt_t
from evtool.store.codec import dumps
from evtool.store.model import RunHeader, RunResult

STATUS_MARK = {"pass": "✅ pass", "fail": "❌ fail", "unknown": "❔ unknown"}


def cell(value: Any) -> str:
    """A value made safe for one Markdown table cell."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>") or "—"


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
    lines = [f"# {title}: {outcome}", ""]
    facts: list[tuple[str, Any]] = [("run", f"`{header.id}`"), ("scenario", header.scenario_id),
                                    ("file", f"`{header.scenario_path}`"), ("seed", header.seed),
                                    ("profile", header.profile), ("transport", header.transport),
                                    ("started", header.started_at)]
    if result is not None:
        facts += [("virtual time", fmt_duration(result.virtual_ns)), ("messages", f"{result.messages:,}"),
                  ("events", f"{result.events:,}"), ("trace digest", f"`{result.digest[:16]}`")]
    if header.overrides:
        facts.append(("overrides", ", ".join(f"`{k}={v}`" for k, v in header.overrides.items())))
    lines += table(["run", header.id], facts[1:]) + [""]
    checks = result.checks if result is not None else []
    lines += ["## Checks", ""]
    if checks:
        rows = [(STATUS_MARK.get(c.get("status", ""), c.get("status")), c.get("name"), c.get("expected"),
                 c.get("observed"), c.get("because"),
                 " ".join(f"`{m}`" for m in (c.get("evidence") or [])[:10])) for c in checks]
        lines += table(["status", "check", "expected", "observed", "because", "evidence"], rows) + [""]
    else:
        lines += ["No expectations." if result is not None else "The run has not finished.", ""]
    summary = result.summary if result is not None else {}
    channels = summary.get("channels") or {}
    if channels:
        cols = ["published", "acked", "dead_lettered", "expired", "dropped", "ready", "in_flight", "delayed"]
        lines += ["## Channels", ""]
        lines += table(["channel", *cols], [[n, *(v.get(c, 0) for c in cols)] for n, v in channels.items()],
                       right=range(1, len(cols) + 1)) + [""]
    latency = summary.get("latency_ms") or {}
    if latency:
        if all(not isinstance(v, dict) for v in latency.values()):
            latency = {"overall": latency}
        lines += ["## Latency (ms)", ""]
        lines += table(["consumer", "p50", "p90", "p99", "max"],
                       [[w, v.get("p50"), v.get("p90"), v.get("p99"), v.get("max")]
                        for w, v in latency.items() if isinstance(v, dict)], right=(1, 2, 3, 4)) + [""]
    if dead_letters:
        lines += ["## Dead letters", ""]
        lines += table(["t", "message", "key", "reason", "from", "deliveries"],
                       [[fmt_t(e.t), f"`{e.msg}`", e.key, (e.data or {}).get("reason"), (e.data or {}).get("from"),
                         (e.data or {}).get("count", e.attempt)] for e in dead_letters], right=(0, 5))
        if dead_letter_total and dead_letter_total > len(dead_letters):
            lines += ["", f"Showing {len(dead_letters)} of {dead_letter_total}."]
        lines.append("")
    lines += [f"<sub>evtool {header.evtool_version} · scenario sha256 `{header.scenario_hash[:12]}`</sub>", ""]
    return "\n".join(lines)
