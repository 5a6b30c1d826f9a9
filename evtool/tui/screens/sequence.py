"""The sequence view (`s`): a sequence diagram of the selected message, and of what it caused.

Lifelines for the producer, each channel and each consumer instance; an
arrow per publish, delivery, ack, nack, reject, dead letter, redrive, emit,
request and reply; a note per failure, retry wait, timeout and saga step;
time offsets on the left. For a request the reply is drawn too (a reply
that came too late is an orphan), for a saga instance each step and
compensation in order. It grows while the message is in flight: the app
calls `refresh_life` on every snapshot while the view is open.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from evtool.core.events import TraceEvent
from evtool.core.textsafe import visible
from evtool.sim.snapshot import MessageLife
from evtool.tui import format as fmt
from evtool.tui.sequence import render_sequence, sequence_rows

MAX_RELATED = 12
"""Messages drawn beside the selected one (what it caused, and what those caused)."""


def related_events(msg: str, lookup: Callable[[str], MessageLife | None],
                   conversation: Callable[[str | None], list[TraceEvent]] | None = None,
                   ) -> tuple[MessageLife | None, list[TraceEvent]]:
    """The message's lifecycle, and its events merged with those of the messages it caused (two levels)
    and, for a request, with its whole conversation (its retries, its reply, a late reply)."""
    life = lookup(msg)
    if life is None:
        return None, []
    events = list(life.events)
    if conversation is not None:
        have = {e[:9] for e in events}  # every field but the data dict (not hashable)
        events.extend(e for e in conversation(life.key) if e[:9] not in have)
    seen = {msg}
    frontier = list(life.caused)
    depth = 0
    while frontier and depth < 2 and len(seen) <= MAX_RELATED:
        nxt: list[str] = []
        for m in frontier:
            if m in seen or len(seen) > MAX_RELATED:
                continue
            seen.add(m)
            other = lookup(m)
            if other is not None:
                events.extend(other.events)
                nxt.extend(other.caused)
        frontier = nxt
        depth += 1
    return life, events


class SequenceModal(ModalScreen[None]):
    """The sequence diagram of one message (see the module docstring)."""

    BINDINGS = [
        Binding("escape,q,s", "close", "Close", id="sequence-close"),
        Binding("space", "toggle_pause", "Pause or go on", id="sequence-pause"),
        Binding("n", "step", "Step one event", id="sequence-step"),
    ]

    DEFAULT_CSS = """
    SequenceModal { align: center middle; }
    SequenceModal > Vertical { width: 100%; height: 100%; border: round $accent; background: $surface;
                               padding: 0 0; }
    SequenceModal #sequence-head { height: auto; padding: 0 1; }
    SequenceModal #sequence-body { height: 1fr; }
    SequenceModal #sequence-diagram { width: auto; }
    """

    def __init__(self, msg: str, lookup: Callable[[str], MessageLife | None], *, what: str = "message",
                 events: Callable[[], list[TraceEvent]] | None = None,
                 head: Callable[[], Text] | None = None,
                 conversation: Callable[[str | None], list[TraceEvent]] | None = None) -> None:
        super().__init__()
        self.msg = msg
        self.lookup = lookup
        self.what = what
        self.events_of = events
        """For a saga instance: its events (the lookup then is not used)."""
        self.head_of = head
        self.conversation = conversation
        self._shown: tuple[object, ...] | None = None
        self.lines: list[Text] = []

    def compose(self) -> ComposeResult:
        """A head line, then the diagram (it scrolls when it is long)."""
        with Vertical() as box:
            box.border_title = fmt.markup_safe(f"Sequence of {self.what} {self.msg}  (esc closes, space pauses "
                                               "or goes on, n steps)")
            yield Static("", id="sequence-head")
            with VerticalScroll(id="sequence-body"):
                yield Static("", id="sequence-diagram")

    def on_mount(self) -> None:
        """Draw."""
        self.refresh_life()

    def on_resize(self) -> None:
        """Redraw for the new width."""
        self._shown = None
        self.refresh_life()

    def refresh_life(self) -> None:
        """Look the message up again and redraw when it changed (it grows while the message is in flight)."""
        if self.events_of is not None:
            life, events = None, self.events_of()
        else:
            life, events = related_events(self.msg, self.lookup, self.conversation)
        width = max(30, self.size.width - 4)
        key = (tuple((e.t, e.kind, e.msg) for e in events), width)
        if key == self._shown and (life is not None or self.events_of is not None):
            return
        self._shown = key
        head = Text()
        if self.head_of is not None:
            head = self.head_of()
        elif life is None:
            head.append(visible(f"{self.msg}: not in the host's window (only the latest messages are kept)"),
                        style="yellow")
        else:
            head.append(visible(life.msg), style="bold")
            head.append("  state ", style="dim")
            head.append(f"{fmt.state_symbol(life.state)} {life.state}", style=fmt.STATE_STYLE.get(life.state, ""))
            head.append("  deliveries ", style="dim")
            head.append(str(life.attempts), style="bold")
            if life.caused:
                head.append(f"  with {min(len(life.caused), MAX_RELATED)} message(s) it caused", style="dim")
            if life.state in ("inflight", "ready", "retry"):
                head.append("  (in flight: the diagram grows)", style="yellow")
        self.query_one("#sequence-head", Static).update(head)
        rows = sequence_rows(events)
        self.lines = render_sequence(rows, width)
        body = Text("\n").join(self.lines)
        self.query_one("#sequence-diagram", Static).update(body)

    def plain(self) -> str:
        """The diagram as plain text (for tests)."""
        return "\n".join(line.plain for line in self.lines)

    def action_toggle_pause(self) -> None:
        """Pause or go on without closing the view (it grows while the run goes on)."""
        dash = getattr(self.app, "dashboard", None)
        if dash is not None:
            dash.action_toggle_pause()

    def action_step(self) -> None:
        """One event, without closing the view."""
        dash = getattr(self.app, "dashboard", None)
        if dash is not None:
            dash.action_step()

    def action_close(self) -> None:
        """Close the view."""
        self.dismiss(None)
