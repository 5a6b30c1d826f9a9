"""`evtool inspect`: one message's lifecycle, one key's order, a filtered list of events.

The analyses take plain iterables of `TraceEvent` (from the run store or a
list) and return frozen dataclasses; `render_*` turn those into rich
renderables. `inspect_run` wires them to a `SyncRunStore` for the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evtool.core.events import TraceEvent
from evtool.report.fmt import describe, fmt_duration, fmt_t, text, visible, who
from evtool.report.presentation import KIND_STYLE
from evtool.store.runstore import SyncRunStore

# Kinds after which a message is done for a channel; shown as the outcome.
TERMINAL = ("acked", "dead_lettered", "rejected", "expired", "dropped", "parked", "max_deliveries_reached")


@dataclass(frozen=True)
class Lifecycle:
    """Everything that happened to one message, and what it caused."""

    msg: str
    events: tuple[TraceEvent, ...]
    caused: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        """Whether the trace mentions the message at all."""
        return bool(self.events)

    @property
    def attempts(self) -> tuple[TraceEvent, ...]:
        """Every delivery of the message, in order."""
        return tuple(e for e in self.events if e.kind in ("delivered", "redelivered"))

    @property
    def failures(self) -> tuple[TraceEvent, ...]:
        """Every failure of a handler on the message."""
        return tuple(e for e in self.events if e.kind == "failed")

    @property
    def outcome(self) -> str:
        """The last terminal kind (acked, dead_lettered, ...), or `pending`."""
        for e in reversed(self.events):
            if e.kind in TERMINAL:
                return e.kind
        return "pending"

    @property
    def published(self) -> TraceEvent | None:
        """The first `published` event, if the trace has it."""
        return next((e for e in self.events if e.kind == "published"), None)

    @property
    def copies(self) -> int:
        """How many times the message was published (more than 1: duplicates)."""
        return sum(e.kind == "published" for e in self.events)

    @property
    def now_in(self) -> str | None:
        """The channel a dead-lettered message waits in (the last dead letter's target), if it is still there."""
        where = None
        for e in self.events:
            if e.kind == "dead_lettered" and e.data:
                where = e.data.get("target")
            elif e.kind in ("redriven", "acked"):
                where = None
        return str(where) if where else None


@dataclass(frozen=True)
class Attempt:
    """One delivery of a message and what came of it."""

    number: int
    t: int
    channel: str | None
    consumer: str
    instance: int | None
    result: str = "pending"   # handled, failed: ERROR, lease expired, returned, ...
    next: str = ""            # retry in 1.2s, dead-lettered to orders.dlq, acked, ...
    ok: bool | None = None


def attempts(events: Iterable[TraceEvent], presets: dict[str, str] | None = None) -> list[Attempt]:
    """Every delivery of one message with its result, matching follow-up events by consumer, instance and attempt.

    `presets` (consumer -> retry preset) words a framework consumer's retries in its framework's terms."""
    out: list[dict[str, object]] = []

    def find(e: TraceEvent) -> dict[str, object] | None:
        for a in reversed(out):
            if a["number"] == e.attempt and a["consumer"] == e.actor and (
                    e.instance is None or a["instance"] == e.instance):
                return a
        return None

    for e in events:
        data = e.data or {}
        if e.kind in ("delivered", "redelivered"):
            out.append({"number": e.attempt, "t": e.t, "channel": e.channel, "consumer": e.actor or "?",
                        "instance": e.instance, "result": "pending", "next": "", "ok": None})
            continue
        a = find(e) if e.actor is not None else None
        if a is None:
            continue
        if e.kind == "handled":
            a["result"] = "skipped: duplicate" if data.get("duplicate") else (
                f"handled in {fmt_duration(data['processing'])}" if data.get("processing") is not None else "handled")
            a["ok"] = True
        elif e.kind == "failed":
            a["result"] = f"failed: {data.get('error', 'error')}"
            a["ok"] = False
        elif e.kind in ("lease_expired", "returned"):
            a["result"] = describe(e)
            a["ok"] = False
        elif e.kind == "acked":
            a["next"] = "acked"
        elif e.kind in ("retry_scheduled", "dead_lettered") and presets and e.actor in presets:
            a["next"] = describe(e, presets)  # the framework's own words (Spring attempt, Camel redelivery)
        elif e.kind == "retry_scheduled":
            delay = data.get("delay")
            a["next"] = f"retry in {fmt_duration(delay)}" if isinstance(delay, int | float) else "retry"
        elif e.kind == "dead_lettered":
            a["next"] = f"dead-lettered to {data.get('target', '?')}"
        elif e.kind == "rejected" and not a["next"]:
            a["next"] = "rejected"
    return [Attempt(**a) for a in out]  # type: ignore[arg-type]


def message_lifecycle(events: Iterable[TraceEvent], msg_id: str, caused: Iterable[str] | None = None) -> Lifecycle:
    """The lifecycle of `msg_id`; `caused` are ids of messages it caused (found by causation id if None)."""
    mine: list[TraceEvent] = []
    found_caused: list[str] = []
    for e in events:
        if e.msg == msg_id:
            mine.append(e)
        elif caused is None and e.kind == "emitted" and e.data and e.data.get("causation_id") == msg_id and e.msg:
            found_caused.append(e.msg)
    return Lifecycle(msg_id, tuple(mine), tuple(caused) if caused is not None else tuple(dict.fromkeys(found_caused)))


def render_lifecycle(lc: Lifecycle, presets: dict[str, str] | None = None) -> RenderableType:
    """A rich view of a lifecycle: a heading, its attempts, one row per event, what it caused.

    `presets` (consumer -> retry preset, from the run's summary) words retries as the framework does."""
    if not lc.found:
        return Text(f"message {visible(lc.msg)} does not appear in this run's trace "
                    "(ids are case-sensitive; `--kind published` lists some)", style="yellow")
    first = lc.events[0].t
    outcome_style = "green" if lc.outcome == "acked" else "red" if lc.outcome != "pending" else "yellow"
    n = len(lc.attempts)
    head = Text.assemble((f"message {visible(lc.msg)}", "bold"), "  ", (lc.outcome.replace("_", "-"), outcome_style),
                         f"  {n} {'delivery' if n == 1 else 'deliveries'}, {len(lc.failures)} "
                         f"{'failure' if len(lc.failures) == 1 else 'failures'}, "
                         f"{fmt_duration(lc.events[-1].t - first)} from first to last event")
    pub = lc.published
    if pub is not None and pub.key is not None:
        head.append(f"  key {visible(pub.key)}")
    if pub is not None and pub.tag:
        head.append(f"  tag {visible(pub.tag)}")
    parts: list[RenderableType] = [head]
    if lc.now_in:
        parts.append(Text(f"waiting in {visible(lc.now_in)}; redrive it to try again", style="red"))
    if lc.copies > 1:
        parts.append(Text(f"published {lc.copies} times: duplicates of one message (each was delivered)",
                          style="yellow"))
    tries = attempts(lc.events, presets)
    if n > 1 or lc.failures:
        table = Table(title="attempts", title_justify="left", title_style="bold", box=None, pad_edge=False,
                      header_style="bold dim")
        for col in ("#", "t", "consumer", "result", "then"):
            table.add_column(col, justify="right" if col in ("#", "t") else "left")
        for a in tries:
            style = "green" if a.ok else "red" if a.ok is False else "yellow"
            table.add_row(str(a.number), fmt_t(a.t), text(f"{a.consumer}#{a.instance}" if a.instance is not None
                          else a.consumer), text(a.result, style), text(a.next))
        parts += [Text(""), table]
    table = Table(title="events", title_justify="left", title_style="bold", box=None, pad_edge=False,
                  header_style="bold dim")
    table.add_column("t", justify="right")
    table.add_column("+", justify="right", style="dim")
    table.add_column("event")
    table.add_column("detail")
    seen_publish = False
    for e in lc.events:
        detail = describe(e, presets)
        if e.kind == "published":
            if seen_publish:
                detail = "published again: a duplicate copy of " + lc.msg + " (" + detail + ")"
            seen_publish = True
        table.add_row(fmt_t(e.t), "+" + fmt_duration(e.t - first) if e.t > first else "",
                      text(e.kind, KIND_STYLE.get(e.kind, "")), text(detail))
    parts += [Text(""), table]
    if lc.caused:
        parts.append(Text(f"caused: {visible(', '.join(lc.caused))}", style="cyan"))
    return Group(*parts)


@dataclass(frozen=True)
class Processing:
    """One message of a key being processed, with its place in the publish order."""

    t: int
    msg: str
    consumer: str
    instance: int | None
    rank: int  # 1-based position in the key's publish order (0 if its publish is not in the trace)
    inverted: bool  # processed after a message of the same key published later (by this consumer)


@dataclass(frozen=True)
class KeyOrder:
    """The order a key's messages were published in and processed in."""

    key: str
    published: tuple[TraceEvent, ...]
    processed: tuple[Processing, ...] = field(default_factory=tuple)

    @property
    def inversions(self) -> int:
        """How many processings came after a later-published message of the same key."""
        return sum(p.inverted for p in self.processed)


def key_order(events: Iterable[TraceEvent], key: str, processed_kind: str = "handled") -> KeyOrder:
    """Publish order and processing order of `key`'s messages, marking inversions per consumer.

    A processing is an event of `processed_kind` (by default `handled`; when
    the trace has none for the key, `acked` is used). It is an inversion when
    the same consumer already processed a message of this key that was
    published after it.
    """
    published: list[TraceEvent] = []
    rank: dict[str, int] = {}
    done: list[TraceEvent] = []
    acked: list[TraceEvent] = []
    for e in events:
        if e.key != key or e.msg is None:
            continue
        if e.kind == "published" and e.msg not in rank:
            rank[e.msg] = len(rank) + 1
            published.append(e)
        elif e.kind == processed_kind:
            done.append(e)
        elif e.kind == "acked":
            acked.append(e)
    high: dict[str, int] = {}
    processed = []
    for e in done or acked:
        consumer = e.actor or "?"
        r = rank.get(e.msg or "", 0)
        inverted = 0 < r < high.get(consumer, 0)
        high[consumer] = max(high.get(consumer, 0), r)
        processed.append(Processing(e.t, e.msg or "", consumer, e.instance, r, inverted))
    return KeyOrder(key, tuple(published), tuple(processed))


def render_key_order(ko: KeyOrder) -> RenderableType:
    """Two tables: the publish order and the processing order, inversions marked ⚠."""
    if not ko.published and not ko.processed:
        return Text(f"key {visible(ko.key)} does not appear in this run's trace", style="yellow")
    pub = Table(title=Text(f"key {visible(ko.key)}: published ({len(ko.published)})"), title_justify="left", box=None,
                header_style="bold dim")
    for col in ("#", "t", "message", "seq", "by"):
        pub.add_column(col, justify="right" if col in ("#", "t", "seq") else "left")
    for i, e in enumerate(ko.published, 1):
        seq = e.data.get("seq") if e.data else None
        pub.add_row(str(i), fmt_t(e.t), text(e.msg or ""), text("" if seq is None else seq), text(e.actor or ""))
    done = Table(title=f"processed ({len(ko.processed)}), {ko.inversions} out of order", title_justify="left",
                 box=None, header_style="bold dim")
    for col in ("t", "message", "published #", "by", ""):
        done.add_column(col, justify="right" if col in ("t", "published #") else "left")
    for p in ko.processed:
        done.add_row(fmt_t(p.t), text(p.msg), str(p.rank or "?"),
                     text(f"{p.consumer}#{p.instance}" if p.instance is not None else p.consumer),
                     Text("⚠ inversion", style="bold red") if p.inverted else "")
    return Group(pub, Text(""), done)


_EVENT_COLUMNS = ("t", "kind", "message", "channel", "who", "key", "attempt", "detail")
_EVENT_DROP_ORDER = ("key", "attempt", "channel", "who")
"""What a narrow terminal gives up first, so the detail keeps room; the message id and kind stay whole."""


class _EventsTable:
    """The events table, fitted to the width it is rendered at."""

    def __init__(self, rows: list[TraceEvent], presets: dict[str, str] | None = None) -> None:
        self.cells = [(fmt_t(e.t), text(e.kind, KIND_STYLE.get(e.kind, "")), text(e.msg or ""),
                       text(e.channel or ""), text(who(e)), text(e.key or ""), str(e.attempt or ""),
                       text(describe(e, presets))) for e in rows]

    def table(self, max_width: int) -> Table:
        """The table with as many columns as leave the detail at least 24 characters."""
        widths = [max([len(col)] + [len(c[i].plain if isinstance(c[i], Text) else c[i]) for c in self.cells])
                  for i, col in enumerate(_EVENT_COLUMNS)]
        keep = list(range(len(_EVENT_COLUMNS)))
        for col in _EVENT_DROP_ORDER:
            others = sum(widths[i] for i in keep if _EVENT_COLUMNS[i] != "detail") + 2 * (len(keep) - 1)
            if max_width - others >= 24:
                break
            keep.remove(_EVENT_COLUMNS.index(col))
        table = Table(box=None, header_style="bold dim", pad_edge=False)
        for i in keep:
            col = _EVENT_COLUMNS[i]
            table.add_column(col, justify="right" if col in ("t", "attempt") else "left",
                             no_wrap=col != "detail", min_width=widths[i] if col in ("kind", "message") else None)
        for c in self.cells:
            table.add_row(*(c[i] for i in keep))
        return table

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield self.table(options.max_width)


def render_events(events: Iterable[TraceEvent], limit: int = 200, total: int | None = None,
                  presets: dict[str, str] | None = None) -> RenderableType:
    """A table of events (for `--kind` and similar filters), at most `limit` rows plus a count of the rest.

    `total`, when the caller knows how many events match (counted without building them), saves
    iterating the rest just to count it.
    """
    it = iter(events)
    rows = list(islice(it, limit))
    rest = max(total - len(rows), 0) if total is not None else sum(1 for _ in it)
    if not rows:
        return Text("no matching events", style="yellow")
    table = _EventsTable(rows, presets)
    if rest:
        return Group(table, Text(f"... and {rest} more (use --limit)", style="dim"))
    return table


def inspect_run(store: SyncRunStore, run_id: str, *, message: str | None = None, key: str | None = None,
                kinds: Sequence[str] | None = None, limit: int = 200) -> RenderableType:
    """What `evtool inspect RUN` prints for `--message`, `--key` or `--kind` (exactly one should be given)."""
    header, result = store.get(run_id)
    if header.record_mode != "full":
        return Text(f"run {run_id} was recorded with --record summary: it kept no trace to inspect "
                    "(`evtool show` has its summary; re-run it with the default --record full)", style="yellow")
    # a framework's retry preset: its consumers' retries read in its words, as in the run's report
    presets = ((result.summary.get("retry_presets") or {}).get("consumers") or None) if result is not None else None
    if message is not None:
        lc = message_lifecycle(store.events(run_id, msg=message), message, caused=store.caused_by(run_id, message))
        if not lc.found and result is None:
            return Group(render_lifecycle(lc, presets), Text("this run has no result: it is still open or was killed, so its "
                                                    "trace may stop early", style="dim"))
        return render_lifecycle(lc, presets)
    if key is not None:
        return render_key_order(key_order(store.events(run_id, key=key), key))
    matching = store.events(run_id, kinds=kinds)
    rows = list(islice(matching, limit))
    if len(rows) < limit:  # the whole selection is here: nothing left to count
        return render_events(rows, limit=limit, presets=presets)
    total = store.count_kinds(run_id, kinds) if kinds is not None else None
    return render_events(rows if total is not None else chain(rows, matching), limit=limit, total=total,
                         presets=presets)
