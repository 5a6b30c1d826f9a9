"""The event log: the recent trace, filterable by kind, channel, key, message, actor or correlation id.

It renders only the rows that fit (a manual viewport over at most the
host's ring of recent events), so a burst of events costs one redraw. With
the log focused, up/down select an event, enter inspects its message, end
follows the newest again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

from evtool.core.events import TraceEvent
from evtool.tui import format as fmt

FILTER_FIELDS = ("kind", "channel", "key", "msg", "actor", "corr", "tag")
FILTER_HELP = ("terms: kind:failed channel:orders key:cust-0001 msg:POISON-1 actor:billing corr:ID tag:poison "
               "(a bare word matches message, key or kind; a `*` is a wildcard; terms combine with AND)")


def _match(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    if "*" in pattern:
        import fnmatch

        return fnmatch.fnmatchcase(value, pattern)
    return value == pattern


@dataclass(frozen=True)
class EventFilter:
    """A parsed filter: field terms (all must hold) and bare words."""

    terms: tuple[tuple[str, str], ...] = ()
    words: tuple[str, ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> EventFilter:
        """Parse ``kind:failed key:cust-1 poison``; raises ValueError naming an unknown field."""
        terms: list[tuple[str, str]] = []
        words: list[str] = []
        for part in text.split():
            name, sep, value = part.partition(":")
            if sep:
                name = {"correlation": "corr", "message": "msg", "consumer": "actor", "producer": "actor"}.get(
                    name, name)
                if name not in FILTER_FIELDS:
                    raise ValueError(f"unknown filter field {name!r}; use one of {', '.join(FILTER_FIELDS)}")
                terms.append((name, value))
            else:
                words.append(part)
        return cls(tuple(terms), tuple(words), text.strip())

    def matches(self, ev: TraceEvent, correlation: Callable[[str], str | None]) -> bool:
        """Whether an event passes (`correlation(msg)` looks a message's correlation id up)."""
        for name, value in self.terms:
            if name == "corr":
                got = correlation(ev.msg) if ev.msg else None
                if not _match(value, got) and not _match(value, ev.msg):
                    return False
            elif not _match(value, getattr(ev, name)):
                return False
        for w in self.words:
            if not any(_match(w, v) or (v is not None and w in v) for v in (ev.msg, ev.key, ev.kind)):
                return False
        return True


def event_line(ev: TraceEvent, width: int) -> Text:
    """One event as a log row."""
    style = fmt.KIND_STYLE.get(ev.kind, "")
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{fmt.vtime(ev.t, 3):>10} ", style="dim")
    t.append(f"{fmt.shown(ev.kind):<16.16}", style=style)
    t.append(f" {(fmt.shown(ev.msg) or '-'):<14.14}", style="bold" if ev.msg else "dim")
    t.append(f" {fmt.shown(ev.channel):<10.10}", style="cyan")
    t.append(f" {fmt.actor_label(ev):<10.10}")
    extra = []
    if ev.attempt:
        extra.append(f"#{ev.attempt}")
    if ev.tag:
        extra.append(fmt.shown(ev.tag))
    if ev.key:
        extra.append(fmt.shown(ev.key))
    detail = fmt.event_detail(ev)
    if detail:
        extra.append(detail)
    t.append(" " + " ".join(extra), style="dim" if ev.kind not in ("failed", "dead_lettered") else style)
    return t


class EventLog(Widget, can_focus=True):
    """The event log panel (see the module docstring)."""

    BINDINGS = [
        Binding("up", "move(-1)", "Previous event", show=False, id="log-up"),
        Binding("down", "move(1)", "Next event", show=False, id="log-down"),
        Binding("pageup", "move(-10)", "Page up", show=False, id="log-page-up"),
        Binding("pagedown", "move(10)", "Page down", show=False, id="log-page-down"),
        Binding("end", "follow", "Follow the newest", show=False, id="log-follow"),
        Binding("enter", "choose", "Inspect message", show=False, id="log-inspect"),
    ]

    DEFAULT_CSS = """
    EventLog { height: 1fr; }
    EventLog:focus { background: $boost; }
    """

    @dataclass
    class Highlighted(Message):
        """An event row was selected."""

        msg: str | None

    @dataclass
    class Chosen(Message):
        """Enter was pressed on an event row."""

        msg: str | None

    def __init__(self, correlation: Callable[[str], str | None] | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.events: list[tuple[int, TraceEvent]] = []
        self.filter = EventFilter()
        self.follow = True
        self.cursor = -1
        self._source: tuple[tuple[int, TraceEvent], ...] = ()
        self._correlation = correlation or (lambda _msg: None)

    def update_from(self, recent: tuple[tuple[int, TraceEvent], ...]) -> None:
        """Show the recent ring (filtered)."""
        if recent is self._source or recent == self._source:
            return
        self._source = recent
        self._apply()

    def set_filter(self, flt: EventFilter) -> None:
        """Filter the log (an empty filter shows everything)."""
        self.filter = flt
        self.follow = True
        self._apply()

    def _apply(self) -> None:
        flt = self.filter
        if flt.terms or flt.words:
            cache: dict[str, str | None] = {}

            def corr(msg: str) -> str | None:
                if msg not in cache:
                    cache[msg] = self._correlation(msg)
                return cache[msg]

            self.events = [(s, e) for s, e in self._source if flt.matches(e, corr)]
        else:
            self.events = list(self._source)
        if self.follow or self.cursor >= len(self.events):
            self.cursor = len(self.events) - 1
        self.refresh()

    def _top(self) -> int:
        h = max(1, self.size.height)
        n = len(self.events)
        if self.follow:
            return max(0, n - h)
        return max(0, min(self.cursor - h // 2, n - h))

    def render(self) -> Text:
        """The rows that fit, the selected one reversed."""
        out = Text(no_wrap=True, overflow="ellipsis")
        if not self.events:
            out.append("no events" + (f" match `{fmt.shown(self.filter.text)}`" if self.filter.text else " yet"),
                       style="dim")
            return out
        h = max(1, self.size.height)
        top = self._top()
        for i in range(top, min(len(self.events), top + h)):
            if i > top:
                out.append("\n")
            line = event_line(self.events[i][1], self.size.width)
            if i == self.cursor and self.has_focus:
                line.stylize("reverse")
            out.append_text(line)
        return out

    def selected_event(self) -> TraceEvent | None:
        """The selected event (the newest while following)."""
        if 0 <= self.cursor < len(self.events):
            return self.events[self.cursor][1]
        return None

    def action_move(self, delta: int) -> None:
        """Move the selection; moving stops following the newest."""
        if not self.events:
            return
        self.follow = False
        self.cursor = max(0, min(len(self.events) - 1, self.cursor + delta))
        ev = self.selected_event()
        self.post_message(self.Highlighted(ev.msg if ev else None))
        self.refresh()

    def action_follow(self) -> None:
        """Follow the newest events again."""
        self.follow = True
        self.cursor = len(self.events) - 1
        self.refresh()

    def action_choose(self) -> None:
        """Inspect the selected event's message."""
        ev = self.selected_event()
        self.post_message(self.Chosen(ev.msg if ev else None))

    def on_focus(self) -> None:
        """Highlight the selected row."""
        ev = self.selected_event()
        self.post_message(self.Highlighted(ev.msg if ev else None))
        self.refresh()

    def on_blur(self) -> None:
        """Drop the highlight."""
        self.refresh()
