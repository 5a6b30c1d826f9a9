"""The saga panel: each saga instance with its state and step progress; enter opens its sequence view."""

from __future__ import annotations

from rich.text import Text

from evtool.core.textsafe import visible
from evtool.tui import format as fmt
from evtool.tui.sagas import STATE_STYLE, SagaInstance
from evtool.tui.widgets.keyed_table import KeyedTable


def short_id(sid: str) -> str:
    """A saga instance id, short enough for a column (uuids are cut after 8 characters)."""
    sid = visible(sid)
    return sid if len(sid) <= 10 else sid[:8] + "…"


def progress(inst: SagaInstance) -> Text:
    """``■■□ 2/3``: the steps done out of the saga's steps."""
    t = Text()
    done = min(len(inst.done), inst.total)
    t.append("■" * done, style="green")
    t.append("□" * max(0, inst.total - done), style="red" if inst.failed else "dim")
    t.append(f" {done}/{inst.total}")
    return t


class SagaTable(KeyedTable):
    """One row per saga instance, in the order they started (the newest at the bottom)."""

    COLUMNS = (("id", "instance"), ("saga", "saga"), ("state", "state"), ("steps", "steps"),
               ("failed", "failed step"), ("trigger", "trigger"), ("at", "started"))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._last: tuple[SagaInstance, ...] | None = None
        self.instances: dict[str, SagaInstance] = {}

    def update_from(self, instances: list[SagaInstance]) -> None:
        """Show these instances."""
        rows = tuple(sorted(instances, key=lambda i: (i.started, i.id)))
        if rows == self._last:
            return
        self._last = rows
        self.instances = {i.id: i for i in rows}
        self._order = [i.id for i in rows]  # rows arrive in start order: no re-sorting needed
        self.sync([(i.id, (
            Text(short_id(i.id), style="bold"),
            Text(visible(i.saga), style="cyan"),
            Text(f"{STATE_STYLE.get(i.state, ('?', ''))[0]} {i.state}", style=STATE_STYLE.get(i.state, ("", ""))[1]),
            progress(i),
            Text(visible(i.failed or ""), style="red"),
            Text(visible(i.trigger or ""), style="dim"),
            Text(fmt.vtime(i.started), style="dim"),
        )) for i in rows])

    def selected(self) -> SagaInstance | None:
        """The instance under the cursor."""
        key = self.key_at_cursor()
        return self.instances.get(key) if key else None
