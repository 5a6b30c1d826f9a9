"""Sequence diagrams of one message (with what it caused), a request and its reply, or a saga instance.

`sequence_rows(events)` turns trace events into rows: an arrow between two
lifelines (publish, deliver, ack, nack, reject, dead-letter, redrive, emit,
request, reply, orphan reply) or a note on one lifeline (a failure, a retry
wait, a timeout, a saga step). `render_sequence(rows, width)` draws them:
one lifeline per producer, channel and consumer instance, in order of first
appearance, time offsets on the left. Every name from the scenario or the
trace is shown as text with control characters escaped. No Textual import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text

from evtool.core.events import TraceEvent
from evtool.core.textsafe import visible
from evtool.tui import format as fmt

TIME_W = 9
"""Columns of the time offset on the left (``+12.345s``)."""
MIN_COL = 9
"""The narrowest a lifeline's column gets; beyond that the rightmost lifelines are cut off."""


@dataclass(frozen=True)
class Row:
    """One row of the diagram: an arrow from `src` to `dst`, or a note on `src` when `dst` is None."""

    t: int
    src: str
    dst: str | None
    label: str
    style: str
    short: str = ""
    """A shorter label for a narrow arrow."""


def _who(ev: TraceEvent) -> str:
    return fmt.actor_label(ev) or (ev.actor or "?")


def _delay(ev: TraceEvent) -> str:
    d = (ev.data or {}).get("delay")
    return f" {fmt.duration(int(d))}" if d else ""


def row_for(ev: TraceEvent) -> Row | None:  # noqa: PLR0911, PLR0912 - one case per kind, flat on purpose
    """The row an event draws as, or None for events the diagram leaves out (they repeat another row)."""
    d = ev.data or {}
    ch = ev.channel or "?"
    k = ev.kind
    if k == "published":
        return Row(ev.t, ev.actor or "producer", ch, "publish", "blue")
    if k == "request_sent":
        return Row(ev.t, _who(ev), ch, f"request #{d.get('attempt', 1)}", "blue", "req")
    if k in ("delivered", "redelivered"):
        word = "deliver" if k == "delivered" else "redeliver"
        return Row(ev.t, ch, _who(ev), f"{word} #{ev.attempt}", "yellow" if k == "delivered" else "bold yellow",
                   f"#{ev.attempt}")
    if k == "acked":
        return Row(ev.t, _who(ev), ch, "ack", "green")
    if k == "nacked":
        return Row(ev.t, _who(ev), ch, "nack" + (" requeue" if d.get("requeue") else ""), "magenta", "nack")
    if k == "rejected":
        return Row(ev.t, _who(ev), ch, "reject", "red")
    if k == "failed":
        return Row(ev.t, _who(ev), None, f"✗ {d.get('error', 'failed')}", "bold red")
    if k == "retry_scheduled":
        return Row(ev.t, ch, None, f"↻ retry wait{_delay(ev)}", "magenta")
    if k == "dead_lettered":
        return Row(ev.t, ch, str(d.get("target", "dlq")), "dead-letter", "bold red", "DLQ")
    if k == "redriven":
        return Row(ev.t, ch, str(d.get("to") or d.get("target") or "?"), "redrive", "bold cyan")
    if k == "expired":
        return Row(ev.t, ch, None, "⊘ expired", "dim")
    if k == "dropped":
        return Row(ev.t, ch, None, "∅ dropped", "dim")
    if k == "lease_expired":
        return Row(ev.t, _who(ev), None, "⏱ lease expired", "yellow")
    if k == "emitted":
        return Row(ev.t, _who(ev), str(d.get("to") or ch), "emit", "cyan")
    if k == "reply_received":
        return Row(ev.t, ch, _who(ev), "reply", "green")
    if k == "reply_orphaned":
        return Row(ev.t, ch, _who(ev), "orphan reply", "bold red", "orphan")
    if k == "request_timed_out":
        return Row(ev.t, _who(ev), None, f"⏱ timeout{' ' + str(d['step']) if 'step' in d else ''}", "bold red")
    if k == "request_fell_back":
        return Row(ev.t, _who(ev), None, "fallback", "yellow")
    if k == "saga_started":
        return Row(ev.t, _who(ev), None, "▶ saga started", "bold")
    if k == "saga_step_completed":
        return Row(ev.t, _who(ev), None, f"✓ {d.get('step', 'step')}", "green")
    if k == "saga_step_failed":
        return Row(ev.t, _who(ev), None, f"✗ {d.get('step', 'step')}: {d.get('error') or d.get('reason')}",
                   "bold red")
    if k == "saga_compensating":
        return Row(ev.t, _who(ev), None, f"↺ compensating {d.get('steps', '')}".rstrip(), "magenta")
    if k == "saga_compensated":
        return Row(ev.t, _who(ev), None, f"↺ compensated {d.get('compensated', '')}".rstrip(), "magenta")
    if k == "saga_completed":
        return Row(ev.t, _who(ev), None, "✓ saga completed", "bold green")
    if k == "saga_stuck":
        return Row(ev.t, _who(ev), None, "✗ saga stuck", "bold red")
    return None


def sequence_rows(events: Iterable[TraceEvent]) -> list[Row]:
    """The rows of these events, in time order (events at the same instant keep their trace order).

    An actor seen both without an instance (it publishes a reply, a saga notes a step) and as exactly
    one instance (`payment#0` receives) is drawn as that one instance's lifeline.
    """
    rows = [r for ev in sorted(events, key=lambda e: e.t) if (r := row_for(ev)) is not None]
    names = {n for r in rows for n in (r.src, r.dst) if n is not None}
    instances: dict[str, list[str]] = {}
    for n in names:
        base, sep, _ = n.rpartition("#")
        if sep:
            instances.setdefault(base, []).append(n)
    alias = {base: found[0] for base, found in instances.items() if len(found) == 1 and base in names}
    if not alias:
        return rows
    return [Row(r.t, alias.get(r.src, r.src), None if r.dst is None else alias.get(r.dst, r.dst), r.label,
                r.style, r.short) for r in rows]


def lifelines(rows: Sequence[Row]) -> list[str]:
    """The lifelines, in order of first appearance."""
    seen: dict[str, None] = {}
    for r in rows:
        seen.setdefault(r.src, None)
        if r.dst is not None:
            seen.setdefault(r.dst, None)
    return list(seen)


def _put(line: list[tuple[str, str]], at: int, text: str, style: str) -> None:
    for i, ch in enumerate(text):
        if 0 <= at + i < len(line):
            line[at + i] = (ch, style)


def _to_text(line: list[tuple[str, str]]) -> Text:
    out = Text(no_wrap=True, overflow="crop")
    for ch, style in line:
        out.append(ch, style=style)
    return out


def render_sequence(rows: Sequence[Row], width: int) -> list[Text]:
    """The diagram as lines of at most `width` columns: a header of lifeline names, then one line per row."""
    names = lifelines(rows)
    if not rows:
        return [Text("(no events of this message in the host's window yet)", style="dim")]
    width = max(TIME_W + MIN_COL, width)
    col = max(MIN_COL, (width - TIME_W) // max(1, len(names)))
    centre = {n: TIME_W + i * col + col // 2 for i, n in enumerate(names)}
    lines: list[Text] = []
    # Lifeline names: on one header line when they fit their columns, else on two lines, alternating,
    # each name then getting nearly two columns.
    labels = [visible(n) for n in names]
    two = any(len(x) > col - 1 for x in labels)
    heads: list[list[tuple[str, str]]] = [[(" ", "")] * width for _ in range(2 if two else 1)]
    room = 2 * col - 1 if two else col - 1
    ends = [-1, -1]
    for i, (n, label) in enumerate(zip(names, labels, strict=True)):
        row = i % 2 if two else 0
        if len(label) > room:
            label = label[: room - 1] + "…"
        at = max(ends[row] + 2, min(centre[n] - len(label) // 2, width - len(label)))
        if at + len(label) > width:  # no room left on this line: cut the name
            label = label[: max(0, width - at - 1)] + "…" if width - at > 1 else ""
        _put(heads[row], at, label, "bold")
        ends[row] = at + len(label) - 1
    lines.extend(_to_text(h) for h in heads)
    t0 = rows[0].t
    for r in rows:
        line: list[tuple[str, str]] = [(" ", "")] * width
        _put(line, 0, f"+{fmt.duration(r.t - t0)}".rjust(TIME_W - 1), "dim")
        for n in names:
            if centre[n] < width:
                _put(line, centre[n], "│", "dim")
        a = centre[r.src]
        label = visible(r.label)
        if r.dst is None or r.dst == r.src:
            _put(line, a, "●", r.style)
            if a + 2 + len(label) > width and a - 2 - len(label) >= TIME_W:  # no room on the right: the left
                _put(line, a - 1 - len(label), label + " ", r.style)
            else:
                _put(line, a + 1, " " + label, r.style)
        else:
            b = centre[r.dst]
            lo, hi = min(a, b), max(a, b)
            inner = hi - lo - 2  # the cells between the two ends, less the arrow head
            text = ""
            for candidate in (label, visible(r.short)):
                if candidate and inner >= len(candidate) + 2:
                    text = f" {candidate} "
                    break
                if candidate and inner >= len(candidate):
                    text = candidate
                    break
            pad = max(0, inner - len(text))
            body = "─" * (pad // 2) + text + "─" * (pad - pad // 2)
            if b > a:
                _put(line, a, "├", r.style)
                _put(line, lo + 1, body + "▶", r.style)
            else:
                _put(line, a, "┤", r.style)
                _put(line, lo + 1, "◀" + body, r.style)
        lines.append(_to_text(line))
    return lines
