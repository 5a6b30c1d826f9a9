"""Lanes: one strip per queue, log partition, message group or ordered key, a cell per message coloured by state.

Lanes are split only where ordering matters (see `evtool.sim.host.fold`), and
each says what it is: ``p3 orders`` a partition, ``group acct-07`` a message
group, ``key acct-07`` a key the consumer orders by, a plain name a whole
queue (which promises no order, so it never shows ⚠).

Each cell is three columns: ⚠ when the message was acknowledged after a
later message with the same key (its key's order broke), the state symbol,
and the delivery count when above one. The newest messages are on the right.
With the lanes focused, the arrow keys select a cell and enter inspects it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from evtool.sim.snapshot import LaneCell, LaneView
from evtool.tui import format as fmt

CELL = 3
LEGEND = [("○", "ready", "ready"), ("●", "in flight", "inflight"), ("↻", "retry", "retry"), ("✓", "acked", "acked"),
          ("✗", "dead", "dead"), ("⚠", "order broke", "bold yellow"), ("2", "deliveries", "bold")]


def cell_text(cell: LaneCell, selected: bool = False) -> Text:
    """One lane cell, three columns wide."""
    style = fmt.STATE_STYLE.get(cell.state, "")
    count = "" if cell.attempt <= 1 else (str(cell.attempt) if cell.attempt < 10 else "+")
    t = Text("⚠" if cell.broken else " ", style="bold yellow")  # on the left: it reads as this cell's mark
    t.append(fmt.state_symbol(cell.state), style=style)
    t.append(count or " ", style="bold " + style)
    if selected:
        t.stylize("reverse")
    return t


def _partition(lane: LaneView) -> int | None:
    """The partition number of a log partition's lane, else None."""
    if lane.kind == "partition" and lane.part is not None and lane.part.isdigit():
        return int(lane.part)
    return None


def _lane_order(lane: LaneView) -> tuple[str, int, int, str]:
    p = _partition(lane)
    return (lane.channel, 0 if lane.kind == "queue" else 1, -1 if p is None else p, lane.part or "")


def lane_label(lane: LaneView) -> str:
    """A lane's label, saying what it is: ``p3 orders`` (a log partition, its number first, never cut off),
    ``group acct-07`` (a message group), ``key acct-07`` (a key whose order the consumer declares), or the
    queue's name (a whole queue: no order promised)."""
    p = _partition(lane)
    if p is not None:
        return f"p{p} {fmt.shown(lane.channel)}"
    if lane.kind in ("group", "key") and lane.part is not None:
        return f"{lane.kind} {fmt.shown(lane.part)}"
    return fmt.shown(lane.name)


class Lanes(Widget, can_focus=True):
    """The lanes panel (see the module docstring)."""

    BINDINGS = [
        Binding("left", "move(-1, 0)", "Previous message", show=False, id="lanes-left"),
        Binding("right", "move(1, 0)", "Next message", show=False, id="lanes-right"),
        Binding("up", "move(0, -1)", "Lane above", show=False, id="lanes-up"),
        Binding("down", "move(0, 1)", "Lane below", show=False, id="lanes-down"),
        Binding("enter", "choose", "Inspect message", show=False, id="lanes-inspect"),
    ]

    DEFAULT_CSS = """
    Lanes { height: auto; min-height: 3; }
    Lanes:focus { background: $boost; }
    """

    @dataclass
    class Highlighted(Message):
        """A message cell was selected."""

        msg: str

    @dataclass
    class Chosen(Message):
        """Enter was pressed on a message cell."""

        msg: str

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lanes: tuple[LaneView, ...] = ()
        self.lane_index = 0
        self.cell_from_right = 0  # 0 = newest visible cell
        self.selected: str | None = None
        self._strips: dict[int, tuple[tuple[object, ...], Strip]] = {}
        self._base: Style | None = None

    def update_from(self, lanes: tuple[LaneView, ...]) -> None:
        """Show these lanes (a log's partitions in partition order)."""
        lanes = tuple(sorted(lanes, key=_lane_order)) if any(x.kind != "queue" for x in lanes) else lanes
        if lanes == self.lanes:
            return
        relayout = len(lanes) != len(self.lanes)
        self.lanes = lanes
        self.refresh(layout=relayout)

    def _visible(self, lane: LaneView) -> list[LaneCell]:
        label = self._label_width()
        n = max(1, (self.size.width - label - 1) // CELL)
        return list(lane.cells[-n:])

    def _ordered(self) -> bool:
        return any(lane.kind != "queue" for lane in self.lanes)

    def _label_width(self) -> int:
        """The label column: the longest label (up to 22 columns, 18 in a narrow panel), and room for
        the order-break count when some lane is ordered."""
        room = 5 if self._ordered() else 1
        cap = 22 if self.size.width >= 44 else 18
        return min(cap, max((len(lane_label(lane)) for lane in self.lanes), default=6) + room + 1)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        """One line per lane, plus the legend (two lines when it explains a focused order mark)."""
        return max(1, len(self.lanes)) + (2 if self._explaining() else 1)

    def _explaining(self) -> bool:
        cell = self._focused_cell()
        return cell is not None and cell.broken

    def _lane_text(self, li: int, label_w: int) -> Text:
        lane = self.lanes[li]
        out = Text(no_wrap=True, overflow="crop")
        name = lane_label(lane)
        room = 5 if self._ordered() else 1  # the order-break count, only where some lane is ordered
        head = name if len(name) <= label_w - room - 1 else name[: label_w - room - 2] + "…"
        out.append(f"{head:<{label_w - room}}", style="bold")
        if room == 5:
            out.append(f"⚠{lane.order_breaks:<3} " if lane.order_breaks else "     ",
                       style="bold yellow" if lane.order_breaks else "")
        else:
            out.append(" ")
        cells = self._visible(lane)
        sel_i = len(cells) - 1 - self.cell_from_right if self.has_focus and li == self.lane_index else -1
        for i, cell in enumerate(cells):
            out.append_text(cell_text(cell, selected=i == sel_i))
        return out

    def _foot_text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        focused = self._focused_cell()
        if focused is not None and focused.broken:
            # The order-broke marker explains itself on focus.
            out.append("⚠ ", style="bold yellow")
            out.append(fmt.shown(f"{focused.msg} was acknowledged after a later message of {focused.key}: "
                                 f"the order of {focused.key} broke here"), style="yellow")
            return out
        ordered = any(lane.kind != "queue" for lane in self.lanes)
        # Ordered lanes: the order mark first (a narrow panel cuts the end of the legend); a whole
        # queue promises no order, so it has no order mark at all.
        legend = sorted(LEGEND, key=lambda x: x[0] != "⚠") if ordered else [x for x in LEGEND if x[0] != "⚠"]
        for sym, word, state in legend:
            out.append(sym, style=fmt.STATE_STYLE.get(state, state))
            out.append(f" {word}  ", style="dim")
        return out

    def _line_text(self, y: int) -> Text:
        if not self.lanes:
            return Text("no queue or partition to show yet", style="dim") if y == 0 else self._foot_text()
        if y < len(self.lanes):
            return self._lane_text(y, self._label_width())
        return self._foot_text()

    def render(self) -> Text:
        """Every lane (the newest cells that fit) and the legend, as one text (what the lines show)."""
        return Text("\n", no_wrap=True, overflow="crop").join(
            self._line_text(y) for y in range(max(1, len(self.lanes)) + 1))

    def render_line(self, y: int) -> Strip:
        """One line: a lane, or the legend. A lane whose cells did not change is not drawn again."""
        width = self.size.width
        if self._base is None:  # computing it walks the ancestors: once, not once a line
            self._base = self.rich_style
        base = self._base
        n = max(1, len(self.lanes))
        if y > n + (1 if self._explaining() else 0):
            return Strip.blank(width, base)
        foot = y >= n
        if foot:
            key: tuple[object, ...] = (None, width, self._focused_cell(),
                                       any(lane.kind != "queue" for lane in self.lanes))
        else:
            key = (self.lanes[y] if self.lanes else None, width, self.has_focus, self.lane_index,
                   self.cell_from_right, self._label_width())
        cached = self._strips.get(y)
        if cached is not None and cached[0] == key:
            return cached[1]
        text = self._line_text(y)
        if foot and self._explaining():  # the explanation wraps onto a second line
            text.no_wrap = False
            lines = text.wrap(self.app.console, max(10, width))
            text = lines[y - n] if y - n < len(lines) else Text()
        text.truncate(width, overflow="ellipsis")
        strip = Strip(list(text.render(self.app.console, end="")), text.cell_len)
        strip = strip.extend_cell_length(width, base).apply_style(base)
        self._strips[y] = (key, strip)
        return strip

    def _focused_cell(self) -> LaneCell | None:
        if not self.has_focus or not self.lanes:
            return None
        lane = self.lanes[max(0, min(self.lane_index, len(self.lanes) - 1))]
        cells = self._visible(lane)
        i = len(cells) - 1 - self.cell_from_right
        return cells[i] if 0 <= i < len(cells) else None

    def _select(self) -> None:
        if not self.lanes:
            return
        self.lane_index = max(0, min(self.lane_index, len(self.lanes) - 1))
        cells = self._visible(self.lanes[self.lane_index])
        if not cells:
            return
        self.cell_from_right = max(0, min(self.cell_from_right, len(cells) - 1))
        cell = cells[len(cells) - 1 - self.cell_from_right]
        self.selected = cell.msg
        self.post_message(self.Highlighted(cell.msg))
        self.refresh(layout=True)  # the legend takes two lines while it explains an order mark

    def notify_style_update(self) -> None:
        """A theme, style or focus change: draw every line again."""
        super().notify_style_update()
        self._base = None
        self._strips.clear()

    def on_focus(self) -> None:
        """Select the newest cell of the current lane."""
        self._select()

    def on_blur(self) -> None:
        """Drop the highlight."""
        self.refresh(layout=True)

    def action_move(self, dx: int, dy: int) -> None:
        """Move the selection: dx along the lane (right is newer), dy between lanes."""
        self.cell_from_right -= dx
        self.lane_index += dy
        self._select()

    def action_choose(self) -> None:
        """Inspect the selected message."""
        if self.selected:
            self.post_message(self.Chosen(self.selected))
