"""A DataTable updated by row key, never rebuilt (memray's `populate_table` pattern)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class KeyedTable(DataTable[Any]):
    """A DataTable synchronised from rows of (key, cells): add new keys, update changed cells, drop gone keys.

    The first column holds the key as plain text, so the table can be put
    back into the given order with `sort` when the order changes.
    """

    COLUMNS: Sequence[tuple[str, str]] = ()
    """(column key, label) pairs; subclasses set them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(zebra_stripes=False, **kwargs)
        self._cells: dict[str, tuple[Any, ...]] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        """Create the columns."""
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)

    def sync(self, rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Make the table show exactly `rows`, in that order, touching only what changed."""
        cols = [k for k, _ in self.COLUMNS]
        wanted = [k for k, _ in rows]
        seen = set(wanted)
        for key in [k for k in self._cells if k not in seen]:
            self.remove_row(key)
            del self._cells[key]
        for key, cells in rows:
            cells = tuple(cells)
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
            elif old != cells:
                for col, new, was in zip(cols, cells, old, strict=False):
                    if new != was:
                        self.update_cell(key, col, new, update_width=True)
            self._cells[key] = cells
        if wanted != self._order:
            pos = {k: i for i, k in enumerate(wanted)}
            if len(self._cells) > 1:
                self.sort(cols[0], key=lambda v: pos.get(v.plain if isinstance(v, Text) else str(v), 0))
            self._order = wanted

    def key_at_cursor(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # noqa: BLE001 - an out-of-range cursor just means "nothing selected"
            return None
        return row_key.value if isinstance(row_key, RowKey) else None
