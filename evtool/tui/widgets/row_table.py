"""A read-only table drawn line by line, each row rendered once until its cells change.

The channel and consumer panels change on every snapshot (counts, rates), and
a `DataTable` re-renders every cell of the table whenever one cell changes
(its cell cache is keyed by a table-wide update count): at eight consumer
instances that was most of the dashboard's time per snapshot. Here a row is
rendered to a `Strip` when its cells change and reused otherwise; the header
stays on the first line while the rows scroll under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


def _cell_width(value: Any) -> int:
    return value.cell_len if isinstance(value, Text) else cell_len(str(value))


class RowTable(ScrollView, can_focus=False):
    """Rows of (key, cells) under a header (see the module docstring)."""

    COLUMNS: Sequence[tuple[str, str]] = ()
    """(column key, label) pairs; subclasses set them."""
    COMPONENT_CLASSES = {"rowtable--header"}
    DEFAULT_CSS = """
    RowTable { height: auto; overflow-x: hidden; overflow-y: auto; }
    RowTable > .rowtable--header { text-style: bold; background: $panel; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._order: list[str] = []
        self._widths: list[int] = [cell_len(label) for _, label in self.COLUMNS]
        self._strips: dict[str, Strip] = {}
        self._header: Strip | None = None
        self._cols = {key: i for i, (key, _) in enumerate(self.COLUMNS)}
        self._base: Style | None = None
        self.renders = 0
        """Rows rendered so far (a test checks that unchanged rows are not rendered again)."""

    # ------------------------------------------------------------------ data

    @property
    def rows(self) -> list[str]:
        """The row keys, in order."""
        return list(self._order)

    @property
    def row_count(self) -> int:
        """How many rows."""
        return len(self._order)

    def get_cell(self, row: str, column: str) -> Any:
        """The value of one cell."""
        return self._cells[row][self._cols[column]]

    def sync(self, rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Show exactly `rows`, in that order; only rows whose cells changed are drawn again."""
        order = [k for k, _ in rows]
        cells = {k: tuple(v) for k, v in rows}
        widths = list(self._widths)
        for values in cells.values():
            for i, v in enumerate(values[: len(widths)]):
                w = _cell_width(v)
                if w > widths[i]:
                    widths[i] = w
        changed = False
        if widths != self._widths:
            self._widths = widths
            self._strips.clear()
            self._header = None
            changed = True
        for key in [k for k in self._strips if cells.get(k) != self._cells.get(k)]:
            del self._strips[key]
            changed = True
        if order != self._order:
            changed = True
        self._cells = cells
        if len(order) != len(self._order) or self.virtual_size.width != self._total_width():
            self._order = order
            self.virtual_size = Size(self._total_width(), len(order) + 1)
        self._order = order
        if changed:
            self.refresh()

    def _total_width(self) -> int:
        return sum(w + 2 for w in self._widths)

    # ------------------------------------------------------------------ drawing

    def _strip(self, values: Sequence[Any], style: Style | None = None) -> Strip:
        self.renders += 1
        line = Text(no_wrap=True, overflow="crop")
        for i, w in enumerate(self._widths):
            v = values[i] if i < len(values) else ""
            cell = v.copy() if isinstance(v, Text) else Text(str(v))
            cell.truncate(w, overflow="ellipsis", pad=True)
            line.append(" ")
            line.append_text(cell)
            line.append(" ")
        if style is not None:
            line.stylize(style)
        return Strip(list(line.render(self.app.console, end="")), self._total_width())

    def notify_style_update(self) -> None:
        """A theme or style change: draw everything again."""
        super().notify_style_update()
        self._strips.clear()
        self._header = None
        self._base = None

    def render_line(self, y: int) -> Strip:
        """The header on the first line, then the rows from the scroll position."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if self._base is None:  # computing it walks the ancestors: once, not once a line
            self._base = self.rich_style
        base = self._base
        if y == 0:
            if self._header is None:
                self._header = self._strip([label for _, label in self.COLUMNS],
                                           self.get_component_rich_style("rowtable--header"))
            return self._header.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
        index = scroll_y + y - 1
        if not 0 <= index < len(self._order):
            return Strip.blank(width, base)
        key = self._order[index]
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._strip(self._cells[key])
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
