"""A self-contained HTML report of one run: facts, checks, charts, channels, dead letters, the lesson.

No network: inline CSS, inline SVG, system fonts, no scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from evtool.core.events import TraceEvent
from evtool.report.fmt import FRAMEWORK_WORDS, fmt_duration, fmt_ms, fmt_override, fmt_t, headline
from evtool.report.svg import line_chart
from evtool.report.timeseries import Series
from evtool.store.model import RunHeader, RunResult

STATUS_LABEL = {"pass": "pass", "fail": "fail", "unknown": "unknown"}

CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1f2937;--dim:#6b7280;--line:#e5e7eb;--pass:#15803d;--pass-bg:#dcfce7;
--fail:#b91c1c;--fail-bg:#fee2e2;--unk:#92400e;--unk-bg:#fef3c7;--accent:#2563eb;--code:#f3f4f6}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#171a21;--ink:#e5e7eb;--dim:#9ca3af;--line:#2a2f3a;
--pass:#4ade80;--pass-bg:#14321f;--fail:#f87171;--fail-bg:#3b1616;--unk:#fbbf24;--unk-bg:#3a2c0a;--accent:#60a5fa;
--code:#222732}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:28px 24px 48px}
header.run{display:flex;align-items:flex-start;justify-content:space-between;gap:16px;margin-bottom:18px}
h1{font-size:26px;margin:0 0 4px;line-height:1.2}
h2{font-size:17px;margin:0 0 12px}
.sub{color:var(--dim);font-size:14px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
code{background:var(--code);padding:1px 5px;border-radius:4px}
.badge{display:inline-block;padding:6px 14px;border-radius:999px;font-weight:700;font-size:15px;
text-transform:uppercase;letter-spacing:.04em;white-space:nowrap}
.chip{display:inline-block;min-width:64px;text-align:center;padding:2px 10px;border-radius:999px;font-weight:600;
font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.pass{color:var(--pass);background:var(--pass-bg)}.fail{color:var(--fail);background:var(--fail-bg)}
.unknown{color:var(--unk);background:var(--unk-bg)}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin:0 0 18px;
box-shadow:0 1px 2px rgba(0,0,0,.04)}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px 20px;margin:0}
.facts div{min-width:0}.facts div.wide{grid-column:1/-1}.facts dt{color:var(--dim);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.facts dd{margin:2px 0 0;font-weight:600;overflow-wrap:anywhere}
.tally{display:flex;gap:10px;margin:0 0 12px;flex-wrap:wrap}
table{width:100%;border-collapse:collapse;font-size:14px}
th{text-align:left;color:var(--dim);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.04em;
border-bottom:1px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid var(--line);padding:8px;vertical-align:top}
tr:last-child td{border-bottom:none}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.because{color:var(--dim);font-size:13px;margin-top:2px}
.evidence code{margin:0 4px 4px 0;display:inline-block}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px}
.chart{width:100%;height:auto;background:var(--card)}
.chart .grid{stroke:var(--line);stroke-width:1}.chart .axis{stroke:var(--dim);stroke-width:1}
.chart text{fill:var(--dim);font-size:11px;font-family:inherit}
.chart .chart-title{fill:var(--ink);font-size:13px;font-weight:600}
.lesson{font-size:15px}.lesson p{margin:0 0 10px;max-width:820px}
.lesson h3{font-size:14px;margin:16px 0 6px;color:var(--dim);text-transform:uppercase;letter-spacing:.05em}
.lesson ul,.lesson ol{margin:0;padding-left:22px;max-width:860px}.lesson li{margin:0 0 8px}
.steps .when{color:var(--dim);font-size:13px}.ask{margin-top:4px}.ask p{margin:6px 0 0}
.concepts{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 6px}
.concept{background:var(--code);border-radius:999px;padding:2px 10px;font-size:12.5px}
.chip.level{color:var(--accent);background:var(--code);vertical-align:middle;margin-left:6px}
.headline{margin-top:6px;font-weight:600}
details summary{cursor:pointer;color:var(--accent);font-weight:600}
pre{background:var(--code);padding:12px;border-radius:8px;overflow:auto;font-size:12.5px}
footer{color:var(--dim);font-size:12px;text-align:center;margin-top:24px}
"""


def _e(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, (list, dict)):
        from evtool.store.codec import dumps

        return escape(dumps(value))
    return escape(str(value))


def outcome_class(outcome: str) -> str:
    """The CSS class for an outcome badge."""
    return {"passed": "pass", "failed": "fail"}.get(outcome, "unknown")


def _facts(header: RunHeader, result: RunResult | None) -> str:
    items = [
        ("run", f"<code>{_e(header.id)}</code>"),
        ("scenario", _e(header.scenario_id)),
        ("file", f"<span class=mono>{_e(header.scenario_path)}</span>"),
        ("seed", _e(header.seed)),
        ("profile", _e(header.profile or "—")),
        ("transport", _e(header.transport)),
        ("started", _e(header.started_at[:19].replace("T", " ")) + " UTC"),
    ]
    if result is not None:
        items += [
            ("virtual time", _e(fmt_duration(result.virtual_ns))),
            ("messages", f"{result.messages:,}"),
            ("events", f"{result.events:,}"),
            ("drain", _e(result.summary.get("drain", "—"))),
            ("trace digest", f"<code>{_e(result.digest[:16])}</code>"),
        ]
    items.append(("evtool", _e(header.evtool_version)))
    if header.overrides:
        items.append(("overrides", " ".join(f"<code>--set {_e(fmt_override(k, v))}</code>"
                                               for k, v in header.overrides.items())))
    return "<dl class=facts>" + "".join(
        f"<div{' class=wide' if k == 'overrides' else ''}><dt>{k}</dt><dd>{v}</dd></div>" for k, v in items) + "</dl>"


def _checks(checks: Sequence[dict[str, Any]]) -> str:
    if not checks:
        return "<p class=sub>This scenario has no expectations.</p>"
    tally: dict[str, int] = {}
    for c in checks:
        tally[c.get("status", "unknown")] = tally.get(c.get("status", "unknown"), 0) + 1
    chips = "".join(f'<span class="chip {s}">{n} {STATUS_LABEL.get(s, s)}</span>'
                    for s, n in sorted(tally.items(), key=lambda kv: ("fail", "unknown", "pass").index(kv[0])
                                       if kv[0] in ("fail", "unknown", "pass") else 9))
    rows = []
    for c in checks:
        status = c.get("status", "unknown")
        evidence = list(dict.fromkeys(map(str, c.get("evidence") or [])))
        ev_html = "".join(f"<code>{_e(m)}</code>" for m in evidence[:12])
        if len(evidence) > 12:
            ev_html += f'<span class=sub>+{len(evidence) - 12} more</span>'
        because = f'<div class=because>{_e(c["because"])}</div>' if c.get("because") else ""
        rows.append(
            f'<tr><td><span class="chip {status if status in STATUS_LABEL else "unknown"}">{_e(status)}</span></td>'
            f'<td><strong>{_e(c.get("name"))}</strong>{because}<div class=sub>{_e(c.get("check"))} · '
            f'{_e(c.get("when", "end"))}</div></td><td>{_e(c.get("expected"))}</td><td>{_e(c.get("observed"))}</td>'
            f'<td class=evidence>{ev_html or "<span class=sub>—</span>"}</td></tr>')
    return (f"<div class=tally>{chips}</div><table><thead><tr><th>status</th><th>check</th><th>expected</th>"
            f"<th>observed</th><th>evidence</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _charts(series: Series | None) -> str:
    if series is None or len(series.t_ns) < 2:
        return "<p class=sub>No trace was recorded for this run (record mode summary), so there are no charts.</p>"
    x = [t / 1e9 for t in series.t_ns]
    depth = line_chart(x, dict(series.depth) or {"(none)": [0] * len(x)}, title="Depth over time",
                       unit="messages", area=True)
    rate = line_chart(x, {"published": series.published_per_s, "acked": series.acked_per_s,
                          "failed": series.failed_per_s}, title="Throughput", unit="per second")
    lat = line_chart(x, {"p50": series.latency_ms["p50"], "p99": series.latency_ms["p99"]},
                     title="Latency, publish to handled", unit="ms")
    return f"<div class=charts>{depth}{rate}{lat}</div>"


def _channels(summary: dict[str, Any]) -> str:
    channels = summary.get("channels") or {}
    if not channels:
        return ""
    cols = ["published", "acked", "dead_lettered", "expired", "dropped", "ready", "in_flight", "delayed"]
    head = "".join(f"<th class=num>{c.replace('_', ' ')}</th>" for c in cols)
    body = "".join(
        f"<tr><td><strong>{_e(name)}</strong> <span class=sub>{_e(v.get('kind', ''))}</span></td>"
        + "".join(f"<td class=num>{_e(v.get(c, 0))}</td>" for c in cols) + "</tr>"
        for name, v in channels.items())
    return (f"<section class=card><h2>Channels</h2><p class=sub>Counts at the end of the run.</p><table><thead><tr>"
            f"<th>channel</th>{head}</tr></thead><tbody>{body}</tbody></table></section>")


def _consumers(summary: dict[str, Any]) -> str:
    consumers = summary.get("consumers") or {}
    lat = summary.get("latency_ms") or {}
    if not consumers and not lat:
        return ""
    rows = []
    if isinstance(lat, dict) and lat.get("count") and len(consumers) != 1:
        rows.append("<tr><td><strong>all consumers</strong></td><td class=num>—</td>"
                    f"<td class=num>{_e(lat.get('count'))}</td><td class=num>—</td>"
                    + "".join(f"<td class=num>{_e(fmt_ms(lat.get(p)))}</td>" for p in ("p50", "p90", "p99", "max"))
                    + "<td></td></tr>")
    for name, c in consumers.items():
        cl = c.get("latency_ms") or {}
        state = c.get("state") or {}
        state_html = " ".join(f"<code>{_e(k)}={_e(v)}</code>" for k, v in state.items()) or "<span class=sub>—</span>"
        rows.append(f"<tr><td><strong>{_e(name)}</strong></td><td class=num>{_e(c.get('instances'))}</td>"
                    f"<td class=num>{_e(c.get('handled'))}</td><td class=num>{_e(c.get('failed'))}</td>"
                    + "".join(f"<td class=num>{_e(fmt_ms(cl.get(p)))}</td>" for p in ("p50", "p90", "p99", "max"))
                    + f"<td>{state_html}</td></tr>")
    head = ("<th>consumer</th><th class=num>instances</th><th class=num>handled</th><th class=num>failed</th>"
            "<th class=num>p50</th><th class=num>p90</th><th class=num>p99</th><th class=num>max</th><th>state</th>")
    return (f"<section class=card><h2>Consumers</h2><p class=sub>Latency is publish to handled.</p><table><thead>"
            f"<tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>")


def _retry_words(summary: dict[str, Any]) -> str:
    """Consumers under a framework's retry preset, in the framework's words (report/fmt.py FRAMEWORK_WORDS)."""
    lines = (summary.get("retry_presets") or {}).get("lines") or []
    if not lines:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f"<section class=card><h2>Retry, in the framework's words</h2><ul>{items}</ul></section>"


def _dead_letters(dead: Sequence[TraceEvent], total: int | None, presets: dict[str, str] | None = None) -> str:
    if not dead:
        return ""
    rows = []
    for e in dead:
        data = e.data or {}
        reason = _e(data.get("reason"))
        if data.get("error"):
            reason += f" <span class=sub>({_e(data['error'])})</span>"
        if data.get("by") == "application":
            reason += " <span class=sub>by the application</span>"
        preset = (presets or {}).get(e.actor or "")
        if preset is not None:
            reason += f" <span class=sub>to {_e(FRAMEWORK_WORDS[preset]['target'])}</span>"
        rows.append(f"<tr><td class=num>{fmt_t(e.t)}</td><td><code>{_e(e.msg)}</code></td><td>{_e(e.key)}</td>"
                    f"<td>{_e(e.channel)} → {_e(data.get('target', '?'))}</td><td>{reason}</td>"
                    f"<td class=num>{_e(e.attempt or None)}</td></tr>")
    more = f"<p class=sub>Showing {len(dead)} of {total}.</p>" if total and total > len(dead) else ""
    return (f"<section class=card><h2>Dead letters</h2><table><thead><tr><th class=num>t</th><th>message</th>"
            f"<th>key</th><th>from → to</th><th>reason</th><th class=num>deliveries</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{more}</section>")


def _prose(text: Any) -> str:
    """Escaped text with `inline code` kept as code."""
    parts = str(text).split("`")
    return "".join(f"<code>{escape(p)}</code>" if i % 2 else escape(p) for i, p in enumerate(parts))


def _lesson(lesson: dict[str, Any] | None) -> str:
    """The lesson block of the scenario: summary, concepts, goals, steps with their questions, what to try next."""
    if not lesson:
        return ""
    out = [f"<section class='card lesson'><h2>Lesson: {_e(lesson.get('title') or '')}"]
    if lesson.get("level"):
        out.append(f" <span class='chip level'>{_e(lesson['level'])}</span>")
    out.append("</h2>")
    if lesson.get("summary"):
        out.append(f"<p>{_prose(str(lesson['summary']).strip())}</p>")
    concepts = lesson.get("concepts") or []
    if concepts:
        out.append("<div class=concepts>" + "".join(f"<span class=concept>{_e(c)}</span>" for c in concepts)
                   + "</div>")
    goals = lesson.get("goals") or []
    if goals:
        out.append("<h3>You will be able to</h3><ul>" + "".join(f"<li>{_prose(g)}</li>" for g in goals) + "</ul>")
    steps = [st for st in lesson.get("steps") or [] if isinstance(st, dict)]
    if steps:
        out.append("<h3>Walk-through</h3><ol class=steps>")
        for st in steps:
            when = (f"at {_e(st['at'])}" if "at" in st else f"when <code>{_e(st['event'])}</code>"
                    if "event" in st else "")
            item = f"<li><div class=when>{when}</div><div>{_prose(st.get('say', ''))}</div>"
            ask = st.get("ask")
            if isinstance(ask, dict) and ask.get("question"):
                item += (f"<details class=ask><summary>{_prose(ask['question'])}</summary>"
                         f"<p><strong>{_prose(ask.get('answer', ''))}</strong>"
                         + (f" — {_prose(ask['explain'])}" if ask.get("explain") else "") + "</p></details>")
            out.append(item + "</li>")
        out.append("</ol>")
    tries = lesson.get("try_next") or []
    if tries:
        out.append("<h3>Try next</h3><ul class=try>")
        for t in tries:
            if isinstance(t, str):
                out.append(f"<li>{_prose(t)}</li>")
                continue
            if not isinstance(t, dict):
                continue
            item = f"<li>{_prose(t.get('say', ''))}"
            sets = t.get("set") or {}
            if isinstance(sets, dict) and sets:
                item += "<div>" + " ".join(f"<code>--set {_e(fmt_override(k, v))}</code>" for k, v in sets.items())
                item += "</div>"
            fails = t.get("fails") or []
            if fails:
                item += f"<div class=sub>expect these checks to fail: {_e(', '.join(map(str, fails)))}</div>"
            out.append(item + "</li>")
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def to_html(header: RunHeader, result: RunResult | None, *, series: Series | None = None,
            dead_letters: Sequence[TraceEvent] = (), dead_letter_total: int | None = None,
            lesson: dict[str, Any] | None = None) -> str:
    """The whole report as one HTML document (no external resources)."""
    outcome = result.outcome if result is not None else "incomplete"
    title = header.lesson_title or header.scenario_id
    checks = result.checks if result is not None else []
    summary = result.summary if result is not None else {}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>evtool run {_e(header.id)}: {_e(title)} ({_e(outcome)})</title><style>{CSS}</style></head><body><main>",
        f"<header class=run><div><h1>{_e(title)}</h1><div class=sub>evtool run <code>{_e(header.id)}</code> · "
        f"scenario <strong>{_e(header.scenario_id)}</strong> · seed {_e(header.seed)}</div>"
        + (f"<div class=headline>{_e(headline(summary))}</div>" if headline(summary) else "")
        + f"</div><span class='badge {outcome_class(outcome)}'>{_e(outcome)}</span></header>",
        f"<section class=card>{_facts(header, result)}</section>",
        f"<section class=card><h2>Checks</h2>{_checks(checks)}</section>",
        f"<section class=card><h2>Over time</h2>{_charts(series)}</section>",
        _retry_words(summary), _consumers(summary), _channels(summary),
        _dead_letters(dead_letters, dead_letter_total, (summary.get("retry_presets") or {}).get("consumers")),
        _lesson(lesson),
        f"<section class=card><details><summary>Scenario file ({_e(header.scenario_path)})</summary>"
        f"<pre>{_e(header.scenario_text)}</pre><p class=sub>sha256 <code>{_e(header.scenario_hash)}</code></p>"
        "</details></section>",
        f"<footer>Generated by evtool {_e(header.evtool_version)} from run {_e(header.id)}.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)
