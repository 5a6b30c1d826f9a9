"""A Mermaid sequence diagram of a bounded sample of message flows.

Participants are producers, channels and consumers; each chosen message
contributes its publish, deliveries, failures, retries, dead-lettering,
redrive and ack as arrows, under a note naming the message. The sample is
chosen by `pick_flows`: some dead-lettered messages, then some normal ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from evtool.core.events import TraceEvent
from evtool.report.fmt import fmt_duration, visible

MAX_FLOWS = 12


def pick_flows(dead_lettered: Sequence[str], others: Sequence[str], limit: int = 6,
               dead_share: int = 3, retried: Sequence[str] = (), retried_share: int = 2) -> list[str]:
    """Message ids to draw, `limit` in all: up to `dead_share` dead-lettered ones, up to
    `retried_share` that were redelivered (and not dead-lettered), then normal ones."""
    limit = min(limit, MAX_FLOWS)
    chosen = list(dict.fromkeys(dead_lettered))[:min(dead_share, limit)]
    extra = [m for m in dict.fromkeys(retried) if m not in chosen][:retried_share]
    chosen += extra[:max(0, limit - len(chosen))]
    for m in others:
        if len(chosen) >= limit:
            break
        if m not in chosen:
            chosen.append(m)
    return chosen[:limit]


def _ident(name: str) -> str:
    """A Mermaid-safe participant id."""
    return "p_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


_ENTITY = {"<": "#60;", ">": "#62;", "&": "#38;"}


def _label(text: str) -> str:
    """Message text safe inside a Mermaid label: no `;`, `#`, newlines or `:` surprises, control characters
    shown, and `<`, `>`, `&` as Mermaid entity codes (Mermaid renders labels as HTML)."""
    text = visible(re.sub(r"[;#\n\r]", " ", text).replace(":", " "))
    return "".join(_ENTITY.get(ch, ch) for ch in text)


def to_mermaid(flows: Mapping[str, Iterable[TraceEvent]], title: str | None = None) -> str:
    """A `sequenceDiagram` of the given flows (message id -> its events, in order)."""
    participants: dict[str, str] = {}  # name -> kind, in order of first appearance
    body: list[str] = []

    def part(name: str | None, kind: str) -> str:
        name = name or "(unknown)"
        participants.setdefault(name, kind)
        return _ident(name)

    for msg, events in flows.items():
        evs = list(events)
        if not evs:
            continue
        first = evs[0].t
        body.append("    rect rgba(127,127,127,0.08)")
        if evs[0].kind == "published" and evs[0].actor:
            part(evs[0].actor, "producer")  # producers first, left of their channels
        anchor = part(evs[0].channel, "queue")
        body.append(f"    Note over {anchor}: {_label(msg)} (key {_label(evs[0].key or '-')})")
        published = 0
        for e in evs:
            at = f" +{fmt_duration(e.t - first)}" if e.t > first else ""
            data = e.data or {}
            if e.kind == "published":
                verb = "publish" if not published else "publish again (duplicate)"
                published += 1
                body.append(f"    {part(e.actor, 'producer')}->>{part(e.channel, 'queue')}: "
                            f"{verb} {_label(msg)}{at}")
            elif e.kind in ("delivered", "redelivered"):
                body.append(f"    {part(e.channel, 'queue')}->>{part(e.actor, 'consumer')}: "
                            f"delivery {e.attempt}{at}")
            elif e.kind == "failed":
                body.append(f"    {part(e.actor, 'consumer')}--x{part(e.channel, 'queue')}: "
                            f"failed {_label(str(data.get('error', '')))}{at}")
            elif e.kind == "retry_scheduled":
                delay = data.get("delay")
                body.append(f"    Note over {part(e.channel, 'queue')}: retry in "
                            f"{fmt_duration(delay) if delay is not None else '?'}")
            elif e.kind == "acked":
                body.append(f"    {part(e.actor, 'consumer')}-->>{part(e.channel, 'queue')}: ack{at}")
            elif e.kind == "dead_lettered":
                # emitted at the channel the message died in; data.target is the dead-letter channel
                target = data.get("target")
                reason = _label(str(data.get("reason", "?")))
                if target:
                    body.append(f"    {part(e.channel, 'queue')}-x{part(str(target), 'queue')}: dead-lettered "
                                f"({reason}){at}")
                else:
                    body.append(f"    Note over {part(e.channel, 'queue')}: dead-lettered ({reason}){at}")
            elif e.kind == "redriven":
                # emitted at the dead-letter channel; data.to is where the message goes back to
                to = data.get("to")
                if to:
                    body.append(f"    {part(e.channel, 'queue')}->>{part(str(to), 'queue')}: redriven{at}")
                else:
                    body.append(f"    Note over {part(e.channel, 'queue')}: redriven{at}")
            elif e.kind == "handled" and data.get("duplicate"):
                body.append(f"    Note over {part(e.actor, 'consumer')}: duplicate skipped{at}")
            elif e.kind in ("expired", "dropped"):
                body.append(f"    Note over {part(e.channel, 'queue')}: {e.kind}{at}")
        body.append("    end")
    lines = ["sequenceDiagram"]
    if title:
        # a comment, not `title`: older Mermaid releases reject `title` in sequence diagrams
        lines.append(f"    %% {_label(title)}")
    for name, kind in participants.items():
        keyword = "actor" if kind == "producer" else "participant"
        lines.append(f"    {keyword} {_ident(name)} as {_label(name)}")
    return "\n".join(lines + body) + "\n"
