"""The message inspector (`enter`): one message's whole lifecycle on a time line, and what it caused."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from evtool.sim.snapshot import MessageLife
from evtool.tui import format as fmt

# Symbol for each kind on the time line; a later, higher-ranked kind wins a shared column.
MARKS: dict[str, tuple[str, str, int]] = {
    "published": ("○", "blue", 1), "enqueued": ("○", "blue", 0), "routed": ("○", "blue", 0),
    "delivered": ("●", "yellow", 2), "redelivered": ("●", "bold yellow", 2),
    "failed": ("!", "bold red", 3), "retry_scheduled": ("↻", "magenta", 3), "delayed": ("↻", "magenta", 1),
    "handled": ("·", "green", 1), "acked": ("✓", "bold green", 4),
    "dead_lettered": ("✗", "bold red", 5), "expired": ("⊘", "dim", 5), "dropped": ("∅", "dim", 5),
    "redriven": ("⟲", "bold cyan", 5), "emitted": ("→", "cyan", 2),
}


def time_line(events: tuple[object, ...] | list[object], width: int) -> Text:
    """The lifecycle as marks placed by virtual time across `width` columns, with an axis."""
    evs = [e for e in events if e.kind in MARKS]  # type: ignore[attr-defined]
    width = max(10, width)
    if not evs:
        return Text("(no lifecycle events)", style="dim")
    t0 = evs[0].t  # type: ignore[attr-defined]
    t1 = evs[-1].t  # type: ignore[attr-defined]
    span = max(1, t1 - t0)
    slots: list[tuple[str, str, int] | None] = [None] * width
    for e in evs:
        col = int((e.t - t0) / span * (width - 1))  # type: ignore[attr-defined]
        mark = MARKS[e.kind]  # type: ignore[attr-defined]
        if slots[col] is None or mark[2] >= slots[col][2]:  # type: ignore[index]
            slots[col] = mark
    out = Text()
    for s in slots:
        if s is None:
            out.append("─", style="dim")
        else:
            out.append(s[0], style=s[1])
    out.append("\n")
    left = fmt.vtime(t0)
    right = f"+{fmt.duration(t1 - t0)} ({fmt.vtime(t1)})"
    out.append(left + " " * max(1, width - len(left) - len(right)) + right, style="dim")
    return out


def life_table(life: MessageLife) -> Table:
    """Every event of the lifecycle, one row each."""
    table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
    table.add_column("+t", justify="right", style="dim", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("where", style="cyan", no_wrap=True)
    table.add_column("who", no_wrap=True)
    table.add_column("#", justify="right")
    table.add_column("detail", style="dim")
    t0 = life.events[0].t if life.events else 0
    for e in life.events:
        table.add_row(f"+{fmt.duration(e.t - t0)}", Text(fmt.shown(e.kind), style=fmt.KIND_STYLE.get(e.kind, "")),
                      Text(fmt.shown(e.channel)), Text(fmt.actor_label(e)), str(e.attempt) if e.attempt else "",
                      Text(fmt.event_detail(e)))
    return table


class InspectorModal(ModalScreen[None]):
    """Shows `MessageLife` for one message; refreshes while open; enter on a caused message opens it."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="inspector-close"),
        Binding("c", "parent", "Open the cause", id="inspector-cause"),
        Binding("s", "sequence", "Sequence diagram", id="inspector-sequence"),
    ]

    DEFAULT_CSS = """
    InspectorModal { align: center middle; }
    InspectorModal > Vertical { width: 96%; height: 92%; border: round $accent; background: $surface;
                                padding: 0 1; }
    InspectorModal #inspector-head { height: auto; }
    InspectorModal #inspector-line { height: auto; margin: 1 0 0 0; }
    InspectorModal #inspector-events { height: 1fr; }
    InspectorModal #inspector-caused { height: auto; max-height: 6; }
    """

    def __init__(self, msg: str, lookup: Callable[[str], MessageLife | None]) -> None:
        super().__init__()
        self.msg = msg
        self.lookup = lookup
        self.life: MessageLife | None = None

    def compose(self) -> ComposeResult:
        """Head, time line, events, and the messages it caused."""
        with Vertical() as box:
            box.border_title = fmt.markup_safe(f"Message {self.msg}  (esc closes, c opens its cause, s its sequence)")
            yield Static("", id="inspector-head")
            yield Static("", id="inspector-line")
            with VerticalScroll(id="inspector-events"):
                yield Static("", id="inspector-table")
            yield OptionList(id="inspector-caused")

    def on_mount(self) -> None:
        """Fill in the lifecycle."""
        self.refresh_life()

    def on_resize(self) -> None:
        """Redraw the time line for the new width."""
        self.life = None
        self.refresh_life()

    def refresh_life(self) -> None:
        """Look the message up again (the app calls this on every snapshot while the dialog is open)."""
        life = self.lookup(self.msg)
        if life == self.life and life is not None:
            return
        self.life = life
        head = self.query_one("#inspector-head", Static)
        if life is None:
            head.update(Text(f"{fmt.shown(self.msg)}: not in the host's window (only the latest messages are kept)",
                             style="yellow"))
            return
        sym = fmt.state_symbol(life.state)
        t = Text()
        t.append(fmt.shown(life.msg), style="bold")
        t.append("  state ", style="dim")
        t.append(f"{sym} {life.state}", style=fmt.STATE_STYLE.get(life.state, ""))
        t.append("  deliveries ", style="dim")
        t.append(str(life.attempts), style="bold")
        if life.tag:
            t.append("  tag ", style="dim")
            t.append(fmt.shown(life.tag), style="bold magenta")
        t.append("\nkey ", style="dim")
        t.append(fmt.shown(life.key) or "—")
        t.append("  channel ", style="dim")
        t.append(fmt.shown(life.channel) or "—", style="cyan")
        t.append("  correlation ", style="dim")
        t.append(fmt.shown(life.correlation) or "—")
        t.append("  causation ", style="dim")
        t.append(fmt.shown(life.causation) or "—")
        if life.truncated:
            t.append("\n(long lifecycle: the middle events are left out)", style="yellow")
        head.update(t)
        line = self.query_one("#inspector-line", Static)
        width = max(20, (line.size.width or self.size.width - 12) - 1)
        line.update(time_line(life.events, width))
        self.query_one("#inspector-table", Static).update(life_table(life))
        caused = self.query_one("#inspector-caused", OptionList)
        caused.clear_options()
        if life.caused:
            caused.border_title = f"caused {len(life.caused)} message(s): enter opens one"
            caused.add_options([Option(Text(fmt.shown(c)), id=c) for c in life.caused])
            caused.display = True
        else:
            caused.display = False

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Open a caused message."""
        if event.option.id:
            self.app.push_screen(InspectorModal(event.option.id, self.lookup))

    def action_parent(self) -> None:
        """Open the message that caused this one."""
        if self.life is not None and self.life.causation:
            self.app.push_screen(InspectorModal(self.life.causation, self.lookup))
        else:
            self.notify("this message has no causation id", severity="warning")

    def action_sequence(self) -> None:
        """This message as a sequence diagram."""
        from evtool.tui.screens.sequence import SequenceModal

        self.app.push_screen(SequenceModal(self.msg, self.lookup))

    def action_close(self) -> None:
        """Close the inspector."""
        self.dismiss(None)
